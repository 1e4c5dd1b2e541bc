"""The tenant's truth as a perfect sync would leave it on disk, as a directory tree or a tar stream.

Layout, per site and per non-system library::

    OUT/<site URL leaf>/<library URL segment>/data/<library-relative path>   every file
    OUT/<site URL leaf>/<library URL segment>/.permissions.json              its labels

`.permissions.json` maps each exported file's library-relative POSIX path to its sorted
"Display Name:::Level" labels (sorted keys, indent 2). Names a POSIX file system cannot
hold (containing "/" or NUL, "." or "..", longer than 255 bytes) are left out, with the
reason, in the report; so are the troublesome items the catalogue says a mirror does not
hold (graph-facts §17): a package's files, files flagged as malware, locked, encrypted by
their sensitivity label (§18.5), served differently on every download, or vanishing at
their download. A rewritten file is
exported with the bytes its downloads serve (§17.1: a mirror accepts them). What is
exported is snapshotted under `tenant.lock`, so it is one instant of the tenant; bytes are
then streamed without the lock, never whole in memory.
`extract_export` unpacks a tar from `export_tar`, refusing anything that could escape the
output directory.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from ms365sync.emulator.errors import EmulatorError
from ms365sync.emulator.tenant.content import Content
from ms365sync.emulator.tenant.model import Drive, Item, Served
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.emulator.tenant.quirks import served_content
from ms365sync.emulator.tenant.tenant import Tenant

PERMISSIONS_FILE = ".permissions.json"
DATA_DIR = "data"
_NAME_MAX = 255  # bytes, the usual limit of Linux and macOS file systems
_PATH_MAX = 4000  # bytes of the relative path; leaves room for OUT below PATH_MAX (4096)
_CHUNK = 1 << 20


class UnsafeArchiveError(EmulatorError):
    """An export archive member that could write outside the output directory."""

    def __init__(self, member: str, reason: str) -> None:
        super().__init__(f"refusing archive member {member!r}: {reason}")
        self.member = member
        self.reason = reason


@dataclass(frozen=True)
class Skipped:
    """An item left out of the export because no POSIX file system can name it."""

    site: str
    library: str
    path: str  # library-relative, segments joined with "/" (a segment may itself hold "/")
    reason: str


@dataclass
class ExportReport:
    """What an export wrote (libraries as "site/library", files, bytes) and what it left out."""

    libraries: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class _File:
    path: str  # library-relative POSIX path
    content: Content
    modified: float


@dataclass
class _Library:
    root: str  # "<site>/<library>"
    files: list[_File] = field(default_factory=list)
    permissions: dict[str, list[str]] = field(default_factory=dict)

    def permissions_json(self) -> bytes:
        text = json.dumps(self.permissions, sort_keys=True, indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a file or folder name on a POSIX file system (None if it can)."""
    if name in ("", ".", ".."):
        return f"name {name!r} is reserved"
    if "/" in name:
        return f"name {name!r} contains '/'"
    if "\x00" in name:
        return f"name {name!r} contains NUL"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return f"name {name!r} cannot be encoded as UTF-8"
    if size > _NAME_MAX:
        return f"name is {size} bytes long; file systems allow {_NAME_MAX}"
    return None


# ----------------------------------------------------------------------------- snapshot


def _snapshot(tenant: Tenant, report: ExportReport) -> list[_Library]:
    with tenant.lock:
        libraries = []
        roots: dict[str, Drive] = {}
        for drive in tenant.drives():
            if drive.system:
                continue
            problem = _root_problem(drive, roots)
            if problem is not None:
                report.skipped.append(Skipped(drive.site.name, drive.url_segment, "", problem))
                continue
            libraries.append(_library(tenant, drive, report))
        return libraries


def _root_problem(drive: Drive, roots: dict[str, Drive]) -> str | None:
    """Why a library cannot have its own directory (None if it can); records it if it can."""
    problem = name_problem(drive.site.name) or name_problem(drive.url_segment)
    if problem is not None:
        return problem
    # /sites/x and /teams/x, or two hosts, share the leaf "x"; case-insensitive file
    # systems would merge "Docs" and "docs" too.
    key = f"{drive.site.name}/{drive.url_segment}".lower()
    first = roots.setdefault(key, drive)
    if first is not drive:
        return f"{first.site.name}/{first.url_segment} already holds {first.web_url}"
    return None


def _library(tenant: Tenant, drive: Drive, report: ExportReport) -> _Library:
    library = _Library(f"{drive.site.name}/{drive.url_segment}")
    for segments, item, name_issue in _files(drive.root):
        path = "/".join(segments)
        problem = (
            name_issue or _path_problem(f"{library.root}/{DATA_DIR}/{path}") or _quirk_problem(item)
        )
        if problem is not None:
            report.skipped.append(Skipped(drive.site.name, drive.url_segment, path, problem))
            continue
        library.files.append(_File(path, served_content(item), item.modified))
        library.permissions[path] = expected_labels(tenant, drive, item)
    return library


def _quirk_problem(item: Item) -> str | None:
    """Why a mirror following graph-facts §17 does not hold this file, or None."""
    if any(node.package_type is not None for node in item.ancestors()):
        return "inside a package, which is not mirrored (graph-facts §17.4)"
    reasons = (
        (item.malware is not None, "flagged as malware (graph-facts §17.5)"),
        (item.locked, "locked: downloads answer 423 (graph-facts §17.6)"),
        (
            item.label is not None and item.label.encrypted,
            "encrypted by its sensitivity label: downloads answer 423 (graph-facts §18.5)",
        ),
        (item.served is Served.UNSTABLE, "served differently on every download (§17.1)"),
        (item.vanishes, "deleted by its first download (graph-facts §17.7)"),
    )
    return next((reason for present, reason in reasons if present), None)


def _path_problem(relative: str) -> str | None:
    if len(relative.encode("utf-8")) > _PATH_MAX:
        return f"path is longer than {_PATH_MAX} bytes"
    return None


def _files(root: Item) -> Iterator[tuple[list[str], Item, str | None]]:
    """Every file under `root` in name order, with the first problem of its path's names."""
    stack: list[tuple[list[str], Item, str | None]] = [([], root, None)]
    while stack:
        segments, node, problem = stack.pop()
        if not node.is_folder:
            yield segments, node, problem
            continue
        for name in sorted(node.children, reverse=True):
            child_problem = problem or name_problem(name)
            stack.append(([*segments, name], node.children[name], child_problem))


# ----------------------------------------------------------------------------- writers


def export_tenant(tenant: Tenant, out_dir: Path | str) -> ExportReport:
    """Write the export layout under `out_dir`, which must be missing or empty.

    Raises FileExistsError if `out_dir` holds anything, OSError if writing fails.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out}: export directory is not empty")
    report = ExportReport()
    for library in _snapshot(tenant, report):
        base = out / library.root
        (base / DATA_DIR).mkdir(parents=True, exist_ok=True)
        for file in library.files:
            target = base / DATA_DIR / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, file.content.iter_range(0, file.content.size, _CHUNK))
            os.utime(target, (file.modified, file.modified))
            report.files += 1
            report.bytes += file.content.size
        (base / PERMISSIONS_FILE).write_bytes(library.permissions_json())
        report.libraries.append(library.root)
    return report


def _write(target: Path, chunks: Iterator[bytes]) -> None:
    with target.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)


class _ContentStream(io.RawIOBase):
    """A file object over a Content, so tarfile can stream it chunk by chunk."""

    def __init__(self, content: Content) -> None:
        self._chunks = content.iter_range(0, content.size, _CHUNK)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def export_tar(tenant: Tenant, fileobj: BinaryIO) -> ExportReport:
    """Write the export layout as an uncompressed tar stream to `fileobj` and flush it.

    `fileobj` need not seek. Raises OSError if writing fails.
    """
    report = ExportReport()
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for library in _snapshot(tenant, report):
            archive.addfile(_member(f"{library.root}/{DATA_DIR}", tarfile.DIRTYPE, 0, 0.0))
            for file in library.files:
                name = f"{library.root}/{DATA_DIR}/{file.path}"
                member = _member(name, tarfile.REGTYPE, file.content.size, file.modified)
                archive.addfile(member, io.BufferedReader(_ContentStream(file.content)))
                report.files += 1
                report.bytes += file.content.size
            data = library.permissions_json()
            member = _member(f"{library.root}/{PERMISSIONS_FILE}", tarfile.REGTYPE, len(data), 0.0)
            archive.addfile(member, io.BytesIO(data))
            report.libraries.append(library.root)
    fileobj.flush()  # a control-API response may be read before the writer is closed
    return report


def _member(name: str, kind: bytes, size: int, mtime: float) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.size = size
    member.mtime = int(mtime)
    member.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return member


# ----------------------------------------------------------------------------- extraction


def extract_export(tar_stream: BinaryIO, out_dir: Path | str) -> list[Path]:
    """Unpack an export tar (plain or gzip) under `out_dir`; the files written.

    Only regular files and directories with relative names that stay inside `out_dir` are
    accepted; an absolute name, a ".." segment, a link, a device or a FIFO raises
    UnsafeArchiveError (members before it are already written). Raises OSError or
    tarfile.TarError for unreadable archives.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = out.resolve()
    written: list[Path] = []
    with tarfile.open(fileobj=tar_stream, mode="r|*") as archive:
        for member in archive:
            target = _safe_target(root, member)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            source = archive.extractfile(member)
            assert source is not None  # a regular file, checked above
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, _read_chunks(source))
            os.utime(target, (member.mtime, member.mtime))
            written.append(target)
    return written


def _read_chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(_CHUNK):
        yield chunk


def _safe_target(root: Path, member: tarfile.TarInfo) -> Path:
    name = member.name
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(name, "only regular files and directories are allowed")
    pure = PurePosixPath(name)
    if not name or "\x00" in name or pure.is_absolute() or name.startswith("\\"):
        raise UnsafeArchiveError(name, "absolute or empty name")
    if ".." in pure.parts:
        raise UnsafeArchiveError(name, "'..' in the name")
    target = root.joinpath(*pure.parts)
    # Catches a symbolic link already present under root that points elsewhere.
    if not target.resolve().is_relative_to(root):
        raise UnsafeArchiveError(name, "resolves outside the output directory")
    return target
