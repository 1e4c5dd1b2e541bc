"""The library API: `SharePointSync`, compatible with ms365sync 0.3.x, and the typed `sync_target`.

`SharePointSync` keeps the 0.3.x constructor and return values (a dict per sync with
library-relative paths, `changes_file` and the change log as `rag_changes`) on top of the
engine: delta listing, verified downloads, the state store and the safety guards. Everything
new is a keyword-only option. New code can call `sync_target` with a `TargetSpec` and a
`GraphClient` and get a typed `SyncResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from ms365sync.config.durations import (
    DURATION_TEXT,
    POSITIVE_DURATION_TEXT,
    DurationError,
    parse_duration,
    parse_sweep,
)
from ms365sync.config.source import environment
from ms365sync.errors import ConfigError, MS365SyncError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.cloud import Cloud, choose_cloud
from ms365sync.graph.connect import SessionFactory, connect
from ms365sync.graph.credentials import (
    AppCredentials,
    ClientCertificate,
    ClientSecret,
    Credential,
)
from ms365sync.localfs.mirror import Mirror
from ms365sync.models import MirrorFile, RemoteFile, key_names
from ms365sync.quickxorhash import QuickXorHash
from ms365sync.state.store import StateStore
from ms365sync.sync.plan import same_content
from ms365sync.sync.result import SyncResult
from ms365sync.sync.stop import Stop
from ms365sync.sync.syncer import Syncer
from ms365sync.target import (
    DB_NAME,
    DOWNLOAD_GIVE_UP_S,
    RETRY_PERMANENT_AFTER_S,
    VERIFY_MODES,
    Filters,
    PermissionPolicy,
    SiteRef,
    TargetSpec,
    VerifyMode,
)

__all__ = ["SharePointSync", "sync_target"]

DEFAULT_LOCAL_ROOT = Path("ms365_data")
_SITE_PATH_PREFIXES = ("/sites/", "/teams/")

FileInfo = dict[str, Any]


def sync_target(
    spec: TargetSpec,
    client: GraphClient,
    *,
    dry_run: bool = False,
    force: bool = False,
    stop: Stop | None = None,
) -> SyncResult:
    """Sync one target once; failures are in `SyncResult.error`, never raised.

    A dry run returns the change log a real run would write and touches nothing on disk;
    `force` lets a run delete more than the max-delete guard allows. `stop.request(...)`,
    from any thread, ends the run as a signal ends the command's (no new download, the ones
    in flight get the stop's grace, what completed is recorded: `SyncResult.interrupted`).
    """
    return Syncer(spec, client, stop=stop).sync(dry_run=dry_run, force=force)


def _policy(value: PermissionPolicy | str | float) -> PermissionPolicy:
    """A policy as given, seconds between sweeps, "interval" (every 24 h), or as the file says it:
    "always", "never" or a duration such as "12h" (`config.durations.parse_sweep`)."""
    if isinstance(value, PermissionPolicy):
        return value
    if isinstance(value, int | float):
        return PermissionPolicy("interval", float(value))
    if value == "interval":
        return PermissionPolicy("interval")
    try:
        return parse_sweep(value)
    except DurationError as exc:
        unknown = exc.problem == "not a permission sweep policy"
        raise ConfigError(
            f"unknown permission sweep {value!r}" if unknown else f"{exc.problem}: {value!r}",
            key="permission_sweep",
            expected=f"always | never | interval | seconds between sweeps | {DURATION_TEXT}",
        ) from None


def _with_mode(policy: PermissionPolicy, mode: str | None) -> PermissionPolicy:
    """`policy` with its sweeps made the `mode` way ("structure" or "full"; None: as it is)."""
    if mode is None:
        return policy
    if mode not in ("structure", "full"):
        raise ConfigError(
            f"unknown permission sweep mode {mode!r}",
            key="permission_sweep_mode",
            expected="structure | full",
        )
    return dataclasses.replace(policy, sweep="structure" if mode == "structure" else "full")


def _verify(value: str) -> VerifyMode:
    for mode in VERIFY_MODES:
        if value == mode:
            return mode
    raise ConfigError(
        f"unknown verification {value!r}", key="verify", expected=" | ".join(VERIFY_MODES)
    )


def _give_up(value: float | str, key: str = "download_give_up") -> float:
    """Seconds, or a duration as the file writes it ("90s", "2m"): finite and above zero."""
    seconds: float | None = None
    if isinstance(value, str):
        with contextlib.suppress(DurationError):
            seconds = parse_duration(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    if seconds is None or not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(
            f"not a duration above zero: {value!r}",
            key=key,
            expected=f"seconds or {POSITIVE_DURATION_TEXT}",
        )
    return seconds


class SharePointSync:
    """Mirror one SharePoint document library into `local_root` (0.3.x-compatible API).

    Credentials default to TENANT_ID, CLIENT_ID and CLIENT_SECRET from the environment or
    a `.env` file in the working directory (`env_file`; the environment wins, and None reads
    no file); the site and library to SHAREPOINT_HOST, SITE_NAME and DOC_LIBRARY.
    `site_name` is the site's display name; pass `site_path` ("/sites/marketing") to find it
    by its URL instead. Files go to `<local_root>/data/`, the change logs to
    `<local_root>/sync_logs/` and the state to `<local_root>/.ms365sync/`.
    `download_give_up` (seconds, or a duration such as "2m") is how long one download may
    keep failing without getting further before the file is left for the next run;
    `verify`, `include_packages` and `retry_permanent_after` are the keys of the same names
    (docs/reliability.md, "Files that cannot be mirrored as listed").

    Nothing talks to the network until the first call; use it as a context manager (or call
    `close()`) to release the connection pool.
    """

    def __init__(  # noqa: PLR0917 - the 0.3.x positional parameters are the public API
        self,
        sharepoint_host: str | None = None,
        site_name: str | None = None,
        doc_library: str | None = None,
        local_root: str | Path | None = None,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        site_path: str | None = None,
        certificate_path: str | Path | None = None,
        certificate_thumbprint: str | None = None,
        certificate_passphrase: str | None = None,
        cloud: str | Cloud = "global",
        authority_url: str | None = None,
        graph_url: str | None = None,
        ca_bundle: str | Path | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        concurrency: int | None = None,
        max_delete: int | None = 1000,
        max_delete_percent: float | None = 50.0,
        permission_sweep: PermissionPolicy | str | float = "interval",
        permission_sweep_mode: str | None = None,
        write_empty_logs: bool = False,
        download_give_up: float | str = DOWNLOAD_GIVE_UP_S,
        verify: str = "consistent",
        include_packages: bool = False,
        retry_permanent_after: float | str = RETRY_PERMANENT_AFTER_S,
        env_file: str | Path | None = ".env",
        client: GraphClient | None = None,
        session: requests.Session | None = None,
    ) -> None:
        """Describe the target; nothing is contacted yet.

        Raises:
            ConfigError: credentials, host, site or library are missing, or an option is
                invalid.
        """
        env = environment([] if env_file is None else [Path(env_file)])
        site, library = _site_and_library(env, sharepoint_host, site_name, doc_library, site_path)
        self.sharepoint_host, self.site_name, self.doc_library = (
            site.host,
            site.display_name,
            library,
        )
        self.local_root = Path(local_root) if local_root is not None else DEFAULT_LOCAL_ROOT
        self.spec = TargetSpec(
            name=f"{site.path or site.display_name}/{library}",
            site=site,
            library=library,
            local_root=self.local_root,
            filters=Filters(include=tuple(include), exclude=tuple(exclude)),
            concurrency=concurrency,
            max_delete_count=max_delete,
            max_delete_percent=max_delete_percent,
            permissions=_with_mode(_policy(permission_sweep), permission_sweep_mode),
            write_empty_logs=write_empty_logs,
            download_give_up=_give_up(download_give_up),
            verify=_verify(verify),
            include_packages=include_packages,
            retry_permanent_after=_give_up(retry_permanent_after, "retry_permanent_after"),
        )
        self._owns_client = client is None
        if client is None:
            credential = _credential(
                client_secret or env.get("CLIENT_SECRET"),
                certificate_path,
                certificate_thumbprint,
                certificate_passphrase,
            )
            where = choose_cloud(
                cloud, authority_url=authority_url, graph_url=graph_url, ca_bundle=ca_bundle
            )
            tenant, app_id = tenant_id or env.get("TENANT_ID"), client_id or env.get("CLIENT_ID")
            app = _app(tenant, app_id, credential)
            client = connect(app, where, session_factory=_given(session))
        self._client = client

    # ------------------------------------------------------------------ lifecycle

    @property
    def client(self) -> GraphClient:
        """The Graph client every call uses."""
        return self._client

    def close(self) -> None:
        """Close the connection pool (only of a client this object created)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SharePointSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ 0.3.x API

    def sync(
        self, *, dry_run: bool = False, force: bool = False, stop: Stop | None = None
    ) -> dict[str, Any]:
        """Sync once and return the changes, as 0.3.x did.

        Keys: added, modified, deleted, permission_changed (library-relative paths; a move
        is its old path deleted and its new path added), total_files, changes_file (the
        change log's path, or None when nothing changed) and rag_changes (the change log).

        Raises:
            MS365SyncError: the sync failed (nothing was reported; see the error's hint).
        """
        result = sync_target(self.spec, self.client, dry_run=dry_run, force=force, stop=stop)
        return changes_dict(result)

    def get_sharepoint_files(self) -> dict[str, FileInfo]:
        """Every file of the library the mirror should hold, by library-relative path:
        size, last_modified, item_id, permissions (None when they could not be read) and
        quick_xor_hash. Touches nothing on disk.

        Raises:
            MS365SyncError: the library could not be listed.
        """
        files = Syncer(self.spec, self.client).remote_files()
        return {f.path: _remote_info(f) for f in sorted(files, key=lambda f: f.path)}

    def get_local_files(self) -> dict[str, FileInfo]:
        """Every file under `<local_root>/data/`: size and last_modified (UTC ISO), keyed by
        its library-relative path when ms365sync placed it, else by its path under data/."""
        mirror = Mirror(self.local_root)
        by_local = {m.local_path: m for m in self._records().values()}
        files: dict[str, FileInfo] = {}
        for entry in mirror.scan():
            if entry.kind != "file":
                continue
            record = by_local.get(entry.rel)
            files[record.path if record else entry.rel] = {
                "size": entry.size,
                "last_modified": _iso_ns(entry.mtime_ns),
                "local_path": mirror.data_dir / entry.rel,
                "item_id": record.item_id if record else None,
                "mtime_ns": entry.mtime_ns,
            }
        return files

    def compare_files(
        self, sp_files: Mapping[str, FileInfo], local_files: Mapping[str, FileInfo]
    ) -> tuple[list[str], list[str], list[str]]:
        """What a sync would add, modify and delete, by path.

        A file is unchanged when the state store knows its local copy as this very version
        (item id, cTag / quickXorHash / size, and the copy untouched since); a local file
        the state does not know is compared by size and quickXorHash. Local modification
        times are never compared with remote ones.
        """
        records = self._records()
        added = sorted(p for p in sp_files if p not in local_files)
        deleted = sorted(p for p in local_files if p not in sp_files)
        modified = sorted(
            path
            for path, info in sp_files.items()
            if path in local_files and not _same(path, info, local_files[path], records)
        )
        return added, modified, deleted

    def _records(self) -> dict[str, MirrorFile]:
        if not (self.spec.state_dir / DB_NAME).exists():
            return {}
        state = StateStore.snapshot(self.spec.state_dir)
        try:
            return {m.item_id: m for m in state.mirror_files()}
        finally:
            state.close()


def changes_dict(result: SyncResult) -> dict[str, Any]:
    """The 0.3.x return value of `sync()` for a result.

    Raises:
        MS365SyncError: the result is a failure.
    """
    if result.error is not None:
        raise result.error
    if result.log is None:
        raise MS365SyncError(f"target {result.target!r}: the run produced no change log")
    log = result.log
    return {
        "added": list(log.changes.added),
        "modified": list(log.changes.modified),
        "deleted": list(log.changes.deleted),
        "permission_changed": list(log.changes.permission_only_changes),
        "total_files": log.summary.total_files,
        "changes_file": str(result.log_path) if result.log_path else None,
        "rag_changes": json.loads(log.to_json()),
    }


def _remote_info(remote: RemoteFile) -> FileInfo:
    return {
        "size": remote.size,
        "last_modified": remote.modified,
        "item_id": remote.item_id,
        "id": remote.item_id,  # the 0.1 name
        "name": key_names(remote.path)[-1],
        "relative_path": remote.path,
        "permissions": list(remote.permissions.labels) if remote.permissions else None,
        "quick_xor_hash": remote.quick_xor_hash,
        "ctag": remote.ctag,
    }


def _same(
    path: str, remote: Mapping[str, Any], local: Mapping[str, Any], records: dict[str, MirrorFile]
) -> bool:
    if local.get("size") != remote.get("size"):
        return False
    record = records.get(str(remote.get("item_id") or remote.get("id") or ""))
    untouched = record is not None and local.get("mtime_ns", record.mtime_ns) == record.mtime_ns
    if record is not None and untouched and record.path == path:
        return same_content(_as_remote(path, remote, record), record)
    expected = remote.get("quick_xor_hash")
    where = local.get("local_path")
    if not isinstance(expected, str) or where is None:
        return False  # nothing proves the copy is this version
    return _qxh(Path(where)) == expected


def _qxh(path: Path) -> str:
    hasher = QuickXorHash()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.b64digest()


def _as_remote(path: str, info: Mapping[str, Any], record: MirrorFile) -> RemoteFile:
    return RemoteFile(
        item_id=record.item_id,
        path=path,
        local_path=record.local_path,
        size=int(info.get("size") or 0),
        ctag=info.get("ctag"),
        quick_xor_hash=info.get("quick_xor_hash"),
        etag=None,
        modified=info.get("last_modified"),
        permissions=None,
    )


def _iso_ns(mtime_ns: int) -> str:
    moment = datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _credential(
    secret: str | None,
    certificate: str | Path | None,
    thumbprint: str | None,
    passphrase: str | None,
) -> Credential:
    if certificate is not None:
        return ClientCertificate(Path(certificate), thumbprint, passphrase)
    if not secret:
        raise ConfigError(
            "missing client_secret (or certificate_path)",
            hint="pass it, or set CLIENT_SECRET (environment or .env)",
        )
    return ClientSecret(secret)


def _site_and_library(
    env: Mapping[str, str],
    host: str | None,
    name: str | None,
    library: str | None,
    path: str | None,
) -> tuple[SiteRef, str]:
    host = host or env.get("SHAREPOINT_HOST")
    name = name or env.get("SITE_NAME")
    library = library or env.get("DOC_LIBRARY")
    if name and name.startswith(_SITE_PATH_PREFIXES) and path is None:
        name, path = None, name  # a server-relative path given as the site name
    if not library or not (name or (host and path)):
        raise ConfigError(
            "name the library (doc_library) and its site (site_name, or sharepoint_host "
            "with site_path)",
            hint="or set SHAREPOINT_HOST, SITE_NAME and DOC_LIBRARY",
        )
    return SiteRef(host=host, path=path, display_name=name), library


def _app(tenant_id: str | None, client_id: str | None, credential: Credential) -> AppCredentials:
    if not tenant_id or not client_id:
        raise ConfigError(
            "missing tenant_id or client_id",
            hint="pass them, or set TENANT_ID and CLIENT_ID (environment or .env)",
        )
    return AppCredentials(tenant_id, client_id, credential)


def _given(session: requests.Session | None) -> SessionFactory | None:
    """The caller's own session, for every client this object makes."""
    if session is None:
        return None
    return lambda: session
