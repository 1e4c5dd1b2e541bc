"""Disk trouble: no space left, a read-only destination, permission denied.

The failure is injected at the OS boundary: the `os` functions the local file layer uses
fail with ENOSPC, EROFS or EACCES for paths below a chosen folder (tests run as root, so
modes would not deny anything); and, where the tests may mount, with a real full or
read-only tmpfs. Each time the target fails with one line naming the path, nothing is
committed (the state store's records and last run are unchanged), every file of the
previous mirror, the change logs and .permissions.json are untouched; once the trouble is
gone, the next run completes and reports each change exactly once.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.emulator import BytesContent
from ms365sync.errors import LocalStorageError, StateError
from support.harness import World, make_world
from support.reliability import (
    FileTruth,
    TargetSnapshot,
    assert_events,
    assert_state_consistent,
    expected_events,
    log_files,
    temp_leftovers,
    truth,
)

_WRITES = ("mkdir", "rename", "replace", "unlink", "rmdir", "utime")


def _resolve(path: Any, dir_fd: int | None) -> Path:
    text = os.fsdecode(path)
    if dir_fd is not None and not os.path.isabs(text):
        text = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
    return Path(os.path.abspath(text))


class _FullFile(io.FileIO):
    """A file on a full disk: every write fails."""

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@dataclass
class DiskTrouble:
    """Every write below `root` fails with `code`: creating, renaming, removing, timing and
    (ENOSPC) writing bytes; reads still work, as on a full or read-only file system."""

    root: Path
    code: int
    hits: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        if self.code == errno.ENOSPC:  # a full disk still renames, removes and creates
            monkeypatch.setattr(os, "mkdir", self._guarded(os.mkdir))  # (empty) files
            monkeypatch.setattr(os, "fdopen", self._fdopen(os.fdopen))
            return
        for name in _WRITES:
            monkeypatch.setattr(os, name, self._guarded(getattr(os, name)))
        monkeypatch.setattr(os, "open", self._open(os.open))

    def _inside(self, path: Path) -> bool:
        return path == self.root or self.root in path.parents

    def _fail(self, path: Path) -> None:
        self.hits.append(str(path))
        raise OSError(self.code, os.strerror(self.code), str(path))

    def _guarded(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            fds = (kwargs.get("dir_fd"), kwargs.get("src_dir_fd"), kwargs.get("dst_dir_fd"))
            for path, fd in zip(args[:2], (fds[0] or fds[1], fds[0] or fds[2]), strict=False):
                if isinstance(path, str | bytes | os.PathLike) and self._inside(_resolve(path, fd)):
                    self._fail(_resolve(path, fd))
            return real(*args, **kwargs)

        return guarded

    def _open(self, real: Callable[..., int]) -> Callable[..., int]:
        writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

        def opener(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & writing and self._inside(_resolve(path, kwargs.get("dir_fd"))):
                self._fail(_resolve(path, kwargs.get("dir_fd")))
            return real(path, flags, *args, **kwargs)

        return opener

    def _fdopen(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def fdopen(fd: int, mode: str = "r", buffering: int = -1, **kwargs: Any) -> Any:
            if "w" in mode and self._inside(Path(os.readlink(f"/proc/self/fd/{fd}"))):
                self.hits.append(os.readlink(f"/proc/self/fd/{fd}"))
                raw = _FullFile(fd, "wb")
                return raw if buffering == 0 else io.BufferedWriter(raw)
            return real(fd, mode, buffering, **kwargs)

        return fdopen


def assert_untouched(root: Path, before: TargetSnapshot, remote: dict[str, bytes]) -> None:
    """The previous mirror, logs, permissions and state are as they were. New files may
    have been renamed into place (with exactly their remote bytes): the next run adopts
    and reports them; nothing of the previous mirror was replaced or removed."""
    now = TargetSnapshot.of(root)
    assert (now.records, now.delta_link, now.last_run) == (
        before.records,
        before.delta_link,
        before.last_run,
    ), "the failed run committed something"
    assert now.logs == before.logs and now.permissions == before.permissions
    kept = {path: digest for path, digest in now.data.items() if path in before.data}
    assert kept == before.data
    for path in now.data.keys() - before.data.keys():
        assert (root / "data" / path).read_bytes() == remote[path], path
    assert temp_leftovers(root) == []


def remote_changes(world: World) -> None:
    t, d = world.tenant, world.drive
    t.add_file(d, "Plans/new.txt", BytesContent(b"new" * 1000))
    t.add_file(d, "Fresh/other.txt", BytesContent(b"other"))
    t.edit_file(d, "readme.md", BytesContent(b"# v2\n" * 100))
    t.rename(d, "Finance/q1.txt", "q1-final.txt")
    t.delete(d, "Plans/budget.csv")


def assert_clear(error: BaseException | None, where: Path, words: str) -> None:
    assert isinstance(error, LocalStorageError), repr(error)
    text = str(error)
    assert "\n" not in text and words.lower() in text.lower(), text
    assert str(where) in text, text


def _baseline(world: World) -> tuple[TargetSnapshot, dict[str, FileTruth], set[Path]]:
    """The target as it is, the library's truth, and the change logs so far."""
    return TargetSnapshot.of(world.root), truth(world.tenant, world.drive), log_files(world.root)


def _recover_and_check(world: World, before_truth: dict[str, FileTruth], logs: set[Path]) -> None:
    result = world.ok()
    assert result.log is not None and not result.log.errors
    assert world.data() == world.remote_files()
    assert_state_consistent(world.root)
    assert_events(
        log_files(world.root) - logs,
        expected_events(before_truth, truth(world.tenant, world.drive)),
    )


@pytest.mark.parametrize(
    ("code", "words", "folder"),
    [
        (errno.ENOSPC, "no space left on device", "data"),
        (errno.EROFS, "read-only file system", "data"),
        (errno.EACCES, "permission denied", "data/Plans"),
    ],
    ids=["ENOSPC", "EROFS", "EACCES-one-folder"],
)
def test_the_mirror_cannot_be_written(
    world: World, monkeypatch: pytest.MonkeyPatch, code: int, words: str, folder: str
) -> None:
    world.ok()
    before, before_truth, logs = _baseline(world)
    remote_changes(world)
    trouble = DiskTrouble(world.root / folder, code)
    with monkeypatch.context() as patch:
        trouble.install(patch)
        failed = world.sync()
    assert not failed.ok and trouble.hits
    assert_clear(failed.error, world.root / folder, f"{words} [{errno.errorcode[code]}]")
    assert_untouched(world.root, before, world.remote_files())
    _recover_and_check(world, before_truth, logs)


def test_no_space_for_the_change_log_is_completed_by_the_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run committed, then could not write its change log: it fails naming the log's
    path, and the next run writes that log (once) before anything else."""
    world.ok()
    before_truth, logs = truth(world.tenant, world.drive), log_files(world.root)
    remote_changes(world)
    trouble = DiskTrouble(world.root / "sync_logs", errno.ENOSPC)
    with monkeypatch.context() as patch:
        trouble.install(patch)
        failed = world.sync()
    assert_clear(failed.error, world.root / "sync_logs", "no space left on device")
    assert log_files(world.root) == logs
    _recover_and_check(world, before_truth, logs)


def test_a_target_that_cannot_be_written_at_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ok()
    before, before_truth, logs = _baseline(world)
    remote_changes(world)
    with monkeypatch.context() as patch:
        DiskTrouble(world.root, errno.EACCES).install(patch)
        failed = world.sync()
    assert_clear(failed.error, world.root, "permission denied")
    assert_untouched(world.root, before, world.remote_files())
    _recover_and_check(world, before_truth, logs)


def test_the_command_line_names_the_path_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.cli import served

    with served(tmp_path) as world:
        args = ["--config", str(world.config), "--only", "hr/Policies"]
        assert CliRunner().invoke(cli, args).exit_code == 0
        root = world.mirror("hr/Policies")
        world.emulator.tenant.add_file(
            world.emulator.tenant.library("hr", "Policies"), "new.md", BytesContent(b"n")
        )
        with monkeypatch.context() as patch:
            DiskTrouble(root / "data", errno.EROFS).install(patch)
            result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and str(root / "data") in failed[0], result.stdout
    assert "read-only file system [EROFS]" in failed[0]


# --------------------------------------------------------------------- real file systems


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None and Path("/proc/mounts").exists()


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A size-limited tmpfs at `where`, unmounted (lazily if busy) when the block ends."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False, capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte; returns the filler file."""
    filler = folder / ".filler"
    # Unbuffered: a buffered file keeps what the full disk refused and fails again when it
    # is closed (whether any is left depends on how the free space aligns with the chunks).
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


real_fs = pytest.mark.skipif(not _can_mount(), reason="needs root to mount a tmpfs")


@real_fs
def test_data_on_a_real_full_disk(world: World) -> None:
    data = world.root / "data"
    with tmpfs(data, "1m"):
        world.ok()
        before, before_truth, logs = _baseline(world)
        filler = fill(data)
        for index in range(4):
            world.tenant.add_file(
                world.drive, f"big/{index}.bin", BytesContent(os.urandom(200_000))
            )
        world.tenant.edit_file(world.drive, "readme.md", BytesContent(b"v2" * 50_000))
        failed = world.sync()
        assert_clear(failed.error, data, "no space left on device [ENOSPC]")
        filler.unlink()
        after = TargetSnapshot.of(world.root)
        assert after.records == before.records and after.logs == before.logs
        assert {k: v for k, v in after.data.items() if k in before.data and k != ".filler"} == {
            k: v for k, v in before.data.items() if k != ".filler"
        }
        _recover_and_check(world, before_truth, logs)


@real_fs
def test_data_on_a_real_read_only_file_system(world: World) -> None:
    data = world.root / "data"
    with tmpfs(data, "4m"):
        world.ok()
        before, before_truth, logs = _baseline(world)
        remote_changes(world)
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        failed = world.sync()
        subprocess.run(["mount", "-o", "remount,rw", str(data)], check=True)
        assert_clear(failed.error, data, "read-only file system [EROFS]")
        assert_untouched(world.root, before, world.remote_files())
        _recover_and_check(world, before_truth, logs)


@real_fs
@pytest.mark.parametrize("room", ["none", "a little"])
def test_the_state_store_on_a_real_full_disk(tmp_path: Path, room: str) -> None:
    disk = tmp_path / "disk"
    with tmpfs(disk, "2m"):
        world = make_world(disk)
        world.ok()
        before, before_truth, logs = _baseline(world)
        filler = fill(disk)
        if room == "a little":
            os.truncate(filler, filler.stat().st_size - 48 * 1024)
        remote_changes(world)
        failed = world.sync()  # must not raise: every failure is a result
        assert isinstance(failed.error, LocalStorageError | StateError), repr(failed.error)
        assert "no space left" in str(failed.error) or "disk is full" in str(failed.error)
        assert not list((world.root / ".ms365sync").glob("*corrupt*"))  # not "corrupt"
        filler.unlink()
        assert TargetSnapshot.of(world.root).records == before.records
        _recover_and_check(world, before_truth, logs)
