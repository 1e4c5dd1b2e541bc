"""Two `ms365sync` processes on the same target at once: the target lock keeps them apart.

The second starts while the first holds the target's lock: the first is stopped (SIGSTOP) as
soon as it logs that it holds it, so the overlap is certain, and before it opens a connection
of its own, so the server goes on serving the second. With `lock_timeout = "0s"` the second
exits 1 with the lock message; with a generous timeout it says it is waiting, waits, then
finds nothing to do.
Either way nothing is corrupted: the state store opens and matches the disk, the mirror
equals the export, and every change event is reported exactly once across both logs.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest

from ms365sync.emulator import Emulator, EmulatorConfig, LatencyConfig, synthetic_tenant
from ms365sync.emulator.cli import sites_toml
from support.changes import Mutator
from support.reliability import (
    FileTruth,
    Library,
    assert_events,
    assert_mirror_equals_export,
    assert_state_consistent,
    expected_events,
    libraries,
    start_sync,
    temp_leftovers,
    truth,
    wait_for_line,
)


def _overlap(config: Path, name: str) -> list[tuple[int, str]]:
    """Two runs overlapping for sure: the first is stopped (SIGSTOP) once it holds the lock,
    the second starts and either gives up or says it is waiting, then the first goes on.
    Their exit codes and what each printed, first run first."""
    logs = [config.parent / "logs" / f"{name}-{index}.log" for index in (1, 2)]
    first = start_sync(config, logs[0])
    children = [first]
    try:
        assert wait_for_line(logs[0], "holding the lock", first), "the first run ended early"
        first.send_signal(signal.SIGSTOP)
        second = start_sync(config, logs[1])
        children.append(second)
        # The second either gives up on the held lock and exits, or says it is waiting:
        # either way it has met the lock while the first still holds it.
        if wait_for_line(logs[1], "waiting up to", second):
            assert second.poll() is None
        first.send_signal(signal.SIGCONT)
        codes = [child.wait(timeout=600) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGCONT)
                child.kill()
                child.wait()
    return [(code, _printed(log)) for code, log in zip(codes, logs, strict=True)]


def _printed(log: Path) -> str:
    return "".join(log.with_suffix(s).read_text(errors="replace") for s in (".out", ".err"))


def _check(
    tmp: Path, emulator: Emulator, library: Library, before: dict[str, FileTruth], logs: set[Path]
) -> dict[str, FileTruth]:
    after = truth(emulator.tenant, library.drive)
    assert temp_leftovers(library.local_root) == []
    assert not list(library.local_root.glob(".ms365sync/*corrupt*"))
    assert_state_consistent(library.local_root)
    assert_mirror_equals_export(emulator.tenant, tmp / "mirror", tmp / "exports")
    assert_events(library.logs() - logs, expected_events(before, after))
    return after


@pytest.mark.parametrize("timeout", ["0s", "10m"])
def test_two_processes_on_one_target(tmp_path: Path, timeout: str) -> None:
    tenant = synthetic_tenant(300, seed=8, size_min=0, size_max=8192)
    emulator = Emulator(tenant, EmulatorConfig(seed=8, latency=LatencyConfig(15.0, 5.0)))
    (library,) = libraries(tenant, tmp_path / "mirror")
    rng = random.Random(8)
    with emulator.server(ca_bundle_path=tmp_path / "ca.pem") as server:
        config = tmp_path / "sites.toml"
        text = sites_toml(emulator, server.base_url, "ca.pem", "mirror")
        config.write_text(text + f'\n[run]\nlock_timeout = "{timeout}"\n', "utf-8")
        before: dict[str, FileTruth] = {}
        for round_number in range(2):
            if round_number:
                Mutator(tenant, library.drive, prefix="c").random(rng, 40)
            logs = library.logs()
            (first, _), (second, printed) = _overlap(config, f"round-{round_number}")
            assert first == 0
            if timeout == "0s":
                assert second == 1, printed
                assert "is locked" in printed and "another ms365sync run" in printed, printed
            else:
                assert second == 0, printed
            before = _check(tmp_path, emulator, library, before, logs)
