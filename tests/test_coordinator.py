"""The coordinator: one client and throttle gate for the tenant, per-target locks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import ms365sync.coordinator as coordinator_module
from ms365sync.config import load_config
from ms365sync.coordinator import Coordinator
from ms365sync.emulator import Emulator, EmulatorConfig, FaultConfig, load_demo_tenant
from ms365sync.errors import LockError
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
