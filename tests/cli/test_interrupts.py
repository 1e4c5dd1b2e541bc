"""SIGINT and SIGTERM against a real run: the first stops new downloads and commits what
completed, a second abandons what is in flight, and only a run cut short exits 130/143.

Each test runs `python -m ms365sync` against the HTTPS emulator, which lets a number of
downloads through and then holds every other one in the middle of its body; the test
signals once the run's download threads are all held (polled, never slept on), then checks
the exit code, the one line on stderr, that `data/` holds exactly the files the change log
reports, each complete, and that the next run completes the rest without reporting a file
twice.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.emulator import Emulator, synthetic_tenant
from ms365sync.emulator.msgraph.download import ContentSource
from ms365sync.localfs.journal import TEMP_JOURNAL
from support.cli import Served, served

FILES = 160
WORKERS = 8  # a target's download threads (`concurrency`, fixed: "auto" would grow it)
TARGET = "synthetic-01/Shared Documents"
WAIT = 120.0  # seconds any poll may take on a busy machine before the test fails
LINE = re.compile(
    r"^ms365sync: interrupted \((SIGINT|SIGTERM)\): (\d+) of (\d+) files done, committed; "
    r"the rest is left for the next run$",
    re.MULTILINE,
)


class Gate:
    """Lets the first `free` downloads through; every later one sends its first bytes and
    then waits, in the middle of its body, until `release`."""

    def __init__(self, emulator: Emulator, free: int) -> None:
        self._inner = emulator.app.downloads.content_for
        assert self._inner is not None
        self.free, self.passed, self.held = free, 0, 0
        self._lock = threading.Lock()
        self._open = threading.Event()
        emulator.app.set_content_source(self._content_for)

    def release(self) -> None:
        self._open.set()

    def _content_for(self, drive_id: str, item_id: str) -> ContentSource | None:
        assert self._inner is not None
        source = self._inner(drive_id, item_id)
        return None if source is None else _Held(source, self)

    def enter(self) -> None:
        with self._lock:
            if self.passed < self.free:
                self.passed += 1
                return
            self.held += 1
        self._open.wait(WAIT)


@dataclass
class _Held:
    source: ContentSource
    gate: Gate

    @property
    def size(self) -> int:
        return self.source.size

    @property
    def mime_type(self) -> str:
        return self.source.mime_type

    def iter_range(self, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        body = b"".join(self.source.iter_range(start, stop, chunk_size))
        yield body[:1000]
        self.gate.enter()
        yield body[1000:]


@dataclass
class Run:
    world: Served
    emulator: Emulator
    gate: Gate
    log: Path

    @property
    def root(self) -> Path:
        return self.world.mirror(TARGET)

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "ms365sync", "--log-file", str(self.log), *args,
                   "--config", str(self.world.config)]  # fmt: skip
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def until(self, process: subprocess.Popen[str], done: Callable[[], bool], what: str) -> None:
        """Poll until `done`; fail if the run ends first or it takes too long."""
        deadline = time.monotonic() + WAIT
        while not done():
            if process.poll() is not None:
                raise AssertionError(f"the run ended before {what}: {process.communicate()}")
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"gave up waiting for {what}")
            time.sleep(0.02)

    def in_flight(self, process: subprocess.Popen[str]) -> None:
        """Wait until WORKERS downloads are done and every worker is held mid-download."""
        self.until(process, lambda: self.gate.held == WORKERS, "downloads held in flight")

    def stopping(self, process: subprocess.Popen[str]) -> None:
        """Wait until the run noticed the first signal (a second one would coalesce)."""
        self.until(process, lambda: self.logged("stopping: nothing new starts"), "the stop")

    def logged(self, text: str) -> bool:
        return self.log.exists() and text in self.log.read_text("utf-8")


@contextmanager
def gated(tmp: Path, *, free: int = WORKERS, stop_timeout: str = "60s") -> Iterator[Run]:
    """A library of FILES small files whose downloads a `Gate` holds after the first
    `free`, and a configuration with `[run] stop_timeout`."""
    tenant = synthetic_tenant(FILES, size_min=3000, size_distribution="fixed", seed=7)
    emulator = Emulator(tenant)
    gate = Gate(emulator, free)
    with served(tmp, emulator) as world:
        text = world.config.read_text("utf-8")
        assert "\n[defaults]\n" in text
        text = text.replace("\n[defaults]\n", f"\n[defaults]\nconcurrency = {WORKERS}\n", 1)
        world.config.write_text(f'{text}\n[run]\nstop_timeout = "{stop_timeout}"\n', "utf-8")
        try:
            yield Run(world, emulator, gate, tmp / "run.log")
        finally:
            gate.release()  # the server's threads held in abandoned downloads end


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, err


def reported(root: Path) -> list[str]:
    """Every path the target's change logs report as added, in the order of the logs."""
    paths: list[str] = []
    for log in sorted((root / "sync_logs").glob("sync_changes_*.json")):
        paths.extend(json.loads(log.read_text("utf-8"))["changes"]["added"])
    return paths


def on_disk(root: Path) -> dict[str, bytes]:
    data = root / "data"
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def expected(emulator: Emulator) -> dict[str, bytes]:
    """Every file of the library as the emulator serves it, by path below the library."""
    site = next(iter(emulator.tenant.sites.values()))
    drive = next(d for d in site.drives.values() if not d.system)
    return {item.path: item.content.read_all() for item in drive.files() if item.content}


def check_consistent(run: Run, err: str, signal_name: str) -> int:
    """The one line names the signal and counts the files `data/` holds: each complete and
    reported once. Returns how many are done."""
    lines = LINE.findall(err)
    assert len(lines) == 1, err
    name, done, planned = lines[0]
    assert (name, int(planned)) == (signal_name, FILES), err
    files, wanted = on_disk(run.root), expected(run.emulator)
    visible = {path: body for path, body in files.items() if not _temporary(path)}
    assert sorted(reported(run.root)) == sorted(visible)
    assert len(visible) == int(done) < FILES
    assert all(body == wanted[path] for path, body in visible.items())
    return int(done)


def check_next_run_completes(run: Run, done_before: int) -> None:
    result = CliRunner().invoke(cli, ["--config", str(run.world.config), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["targets"][0]
    assert row["ok"] and not row["interrupted"] and row["added"] == FILES - done_before
    paths = reported(run.root)
    assert len(paths) == len(set(paths)) == FILES  # each file reported exactly once
    assert on_disk(run.root) == expected(run.emulator)  # nothing partial left either


def _temporary(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith(".") and path.endswith(".part")


def test_first_sigint_commits_the_completed_downloads_and_exits_130(tmp_path: Path) -> None:
    """The downloads in flight finish; no other starts; the run commits and says so."""
    with gated(tmp_path) as run:
        process = run.start()
        run.in_flight(process)
        process.send_signal(signal.SIGINT)
        run.stopping(process)
        run.gate.release()
        code, err = finish(process)
        assert code == 130, err
        assert check_consistent(run, err, "SIGINT") == 2 * WORKERS
        assert not any(_temporary(path) for path in on_disk(run.root))
        check_next_run_completes(run, 2 * WORKERS)


def test_first_sigterm_commits_the_completed_downloads_and_exits_143(tmp_path: Path) -> None:
    with gated(tmp_path) as run:
        process = run.start()
        run.in_flight(process)
        process.send_signal(signal.SIGTERM)
        run.stopping(process)
        run.gate.release()
        code, err = finish(process)
        assert code == 143, err
        assert check_consistent(run, err, "SIGTERM") == 2 * WORKERS
        check_next_run_completes(run, 2 * WORKERS)


def test_second_signal_abandons_the_downloads_in_flight(tmp_path: Path) -> None:
    """The held downloads are dropped at once, in spite of a long stop_timeout; their
    temporary files are journalled, and the next run removes them."""
    with gated(tmp_path, stop_timeout="10m") as run:
        process = run.start()
        run.in_flight(process)
        process.send_signal(signal.SIGINT)
        run.stopping(process)
        process.send_signal(signal.SIGINT)
        code, err = finish(process)
        assert code == 130, err
        assert check_consistent(run, err, "SIGINT") == WORKERS
        left = [path for path in on_disk(run.root) if _temporary(path)]
        journal = (run.root / ".ms365sync" / TEMP_JOURNAL).read_bytes()
        assert left and all(path.encode() in journal for path in left)
        run.gate.release()
        check_next_run_completes(run, WORKERS)


def test_stop_timeout_abandons_the_downloads_in_flight(tmp_path: Path) -> None:
    with gated(tmp_path, stop_timeout="1s") as run:
        process = run.start()
        run.in_flight(process)
        process.send_signal(signal.SIGTERM)
        code, err = finish(process)
        assert code == 143, err
        assert run.logged("abandoned what was under way")
        assert check_consistent(run, err, "SIGTERM") == WORKERS
        run.gate.release()
        check_next_run_completes(run, WORKERS)


def test_a_signal_after_the_work_is_done_changes_nothing(tmp_path: Path) -> None:
    """The target's on_change command signals the run, which has committed everything."""
    with gated(tmp_path, free=FILES) as run:
        kill = f"{sys.executable} -c 'import os, signal; os.kill(os.getppid(), signal.SIGINT)'"
        text = run.world.config.read_text("utf-8")
        text = text.replace('data_root = "mirror"', f'data_root = "mirror"\non_change = "{kill}"')
        run.world.config.write_text(text, "utf-8")
        code, err = finish(run.start())
        assert code == 0, err
        assert "interrupted" not in err
        assert on_disk(run.root) == expected(run.emulator)
        assert len(reported(run.root)) == FILES


def test_watch_cut_short_by_sigterm_exits_143(tmp_path: Path) -> None:
    with gated(tmp_path) as run:
        process = run.start("watch", "--every", "1h")
        run.in_flight(process)
        process.send_signal(signal.SIGTERM)
        run.stopping(process)
        run.gate.release()
        code, err = finish(process)
        assert code == 143, err
        assert check_consistent(run, err, "SIGTERM") == 2 * WORKERS
        check_next_run_completes(run, 2 * WORKERS)


def test_watch_stopped_between_runs_exits_with_the_runs_code(tmp_path: Path) -> None:
    with gated(tmp_path, free=FILES) as run:
        process = run.start("watch", "--every", "1h")
        run.until(process, lambda: len(reported(run.root)) == FILES, "the first run")
        process.send_signal(signal.SIGTERM)
        code, err = finish(process)
        assert code == 0, err
        assert "interrupted" not in err and "stopped (SIGTERM) between runs" in err
        assert on_disk(run.root) == expected(run.emulator)
