"""The coordinator: one client and throttle gate for the tenant, per-target locks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import tomli_w
import tomllib

import ms365sync.coordinator as coordinator_module
from ms365sync.config import load_config
from ms365sync.coordinator import Coordinator
from ms365sync.emulator import Emulator, EmulatorConfig, FaultConfig, load_demo_tenant
from ms365sync.errors import ConfigError, LockError
from ms365sync.localfs.lock import target_lock
from support.cli import served


def test_targets_share_one_client_and_one_throttle_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttled = Emulator(
        load_demo_tenant(),
        EmulatorConfig(seed=3, faults=FaultConfig.parse("429=0.15,retry-after=1")),
    )
    clients: list[object] = []
    real = coordinator_module.Syncer

    def recording(spec: object, client: object, **kwargs: object) -> object:
        clients.append(client)
        return real(spec, client, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(coordinator_module, "Syncer", recording)
    with served(tmp_path, throttled) as world:
        config = load_config(world.config)
        coordinator = Coordinator(config)
        try:
            report = coordinator.run(config.select(["hr", "product"]))
        finally:
            coordinator.close()
    assert report.ok, [str(r.error) for r in report.results]
    assert len(clients) == 4 and all(c is coordinator.client for c in clients)
    stats = coordinator.client.gate.stats
    assert stats.throttled >= 1 and stats.paused_seconds > 0


def test_a_second_run_waits_for_the_lock_then_runs(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        config = load_config(world.config)
        (target,) = config.select(["hr/Policies"])
        released = threading.Event()

        def hold() -> None:
            with target_lock(target.spec.state_dir):
                time.sleep(1.0)
            released.set()

        holder = threading.Thread(target=hold)
        holder.start()
        time.sleep(0.2)
        coordinator = Coordinator(config)
        try:
            report = coordinator.run([target])
        finally:
            coordinator.close()
            holder.join()
    assert released.is_set()
    assert report.ok, report.results[0].error  # the default lock_timeout (5 min) waited


def test_a_second_run_gives_up_clearly_after_its_lock_timeout(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        text = world.config.read_text() + '\n[run]\nlock_timeout = "1s"\n'
        world.config.write_text(text)
        config = load_config(world.config)
        (target,) = config.select(["hr/Policies"])
        coordinator = Coordinator(config)
        try:
            with target_lock(target.spec.state_dir):
                report = coordinator.run([target])
        finally:
            coordinator.close()
    (result,) = report.results
    assert not result.ok and isinstance(result.error, LockError)
    assert "another ms365sync run" in str(result.error) and report.exit_code == 1
    assert not (target.spec.local_root / "data").exists()


def test_downloads_across_targets_share_one_global_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from ms365sync.graph import GraphClient, StaticTokenProvider
    from ms365sync.graph.connect import ConnectedClient

    active = peak = 0
    guard = threading.Lock()

    def fake_download(self: object, drive_id: str, item_id: str, out: object, **_: object) -> str:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with guard:
            active -= 1
        return item_id

    monkeypatch.setattr(GraphClient, "download", fake_download)
    client = ConnectedClient("https://graph.microsoft.com", StaticTokenProvider(), download_slots=2)
    threads = [
        threading.Thread(target=client.download, args=("b!d", f"item{i}", None)) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert peak == 2


def _two_names_for_one_library(config: Path, *, title_first: bool) -> None:
    """List marketing's library twice: by its URL segment and by its title ("Documents")."""
    document = tomllib.loads(config.read_text("utf-8"))
    (site,) = [s for s in document["sites"] if s["name"] == "marketing"]
    names = [library["name"] for library in site["libraries"]]
    at = names.index("Shared Documents") + (0 if title_first else 1)
    site["libraries"].insert(at, {"name": "Documents"})
    config.write_text(tomli_w.dumps(document), "utf-8")


@pytest.mark.parametrize("title_first", [False, True], ids=["segment-first", "title-first"])
def test_two_targets_for_one_library_fail_the_one_listed_later(
    tmp_path: Path, title_first: bool
) -> None:
    """A library named once by its URL segment and once by its title is one library: the
    target listed first mirrors it, the other fails with one line naming both (exit 2, a
    configuration mistake only the service can show), in that order whatever the timing,
    and nothing of it is placed or reported."""
    with served(tmp_path) as world:
        _two_names_for_one_library(world.config, title_first=title_first)
        config = load_config(world.config)
        pair = {"marketing/Documents", "marketing/Shared Documents"}
        targets = [t for t in config.select(["marketing"]) if t.name in pair]
        first, later = (t.name for t in targets)
        assert (first == "marketing/Documents") is title_first
        for _ in range(3):  # every run, and while both run at once
            coordinator = Coordinator(config)
            try:
                report = coordinator.run(targets)
            finally:
                coordinator.close()
            by_name = {r.target: r for r in report.results}
            assert by_name[first].ok, by_name[first].error
            error = by_name[later].error
            assert isinstance(error, ConfigError) and "\n" not in str(error)
            assert first in str(error) and later in str(error) and "same library" in str(error)
            assert report.exit_code == 2
        (later_target,) = config.select([later])
        assert not (later_target.spec.local_root / "data").exists()
        assert not (later_target.spec.local_root / "sync_logs").exists()


def test_targets_of_different_libraries_of_one_site_both_sync(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        config = load_config(world.config)
        targets = config.select(["hr"])
        assert len(targets) == 2
        coordinator = Coordinator(config)
        try:
            report = coordinator.run(targets)
        finally:
            coordinator.close()
        assert report.ok and report.exit_code == 0


def test_once_stopped_no_target_starts_and_none_fails(tmp_path: Path) -> None:
    """The first target stops the run as it finishes; the others are reported interrupted,
    not failed, and the next run syncs them."""
    from ms365sync.sync.stop import Stop

    stop = Stop()
    real = coordinator_module.Syncer

    class Stopping(real):  # type: ignore[misc, valid-type]
        def sync(self, **kwargs: bool) -> object:
            result = super().sync(**kwargs)
            stop.request("SIGTERM")
            return result

    with served(tmp_path) as world:
        text = world.config.read_text()
        world.config.write_text(f"{text}\n[run]\nparallel_targets = 1\n")
        config = load_config(world.config)
        coordinator = Coordinator(config)
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(coordinator_module, "Syncer", Stopping)
                stopped = coordinator.run(config.targets(), stop=stop)
            again = coordinator.run(config.targets())
        finally:
            coordinator.close()
    first, *rest = stopped.results
    assert first.ok and not first.interrupted and first.log_path is not None
    assert rest and all(r.ok and r.interrupted and r.document is None for r in rest)
    assert stopped.interrupted and stopped.exit_code == 0
    assert again.ok and all(r.log_path is not None for r in again.results[1:])
