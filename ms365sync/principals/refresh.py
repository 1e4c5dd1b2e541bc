"""One refresh of a tenant's principals snapshot, when it is due.

Run after the targets of a run (never instead of them): under the data root's own lock, it
finishes a publication a killed refresh left, and when the snapshot is older than the
refresh interval (or absent, or forced) reads what the targets' grants files name and who
is behind it, and publishes the snapshot with its change log (`principals.publish`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import requests
from loguru import logger

from ms365sync.graph.client import GraphClient
from ms365sync.graph.cloud import Cloud
from ms365sync.graph.credentials import AppCredentials
from ms365sync.localfs.lock import target_lock
from ms365sync.principals.directory import Directory
from ms365sync.principals.publish import Published, finish_pending, publish, read_snapshot
from ms365sync.principals.sharepoint import SiteGroupReader
from ms365sync.principals.snapshot import build, wanted
from ms365sync.target import STATE_DIR

__all__ = ["Refresh", "refresh"]


@dataclass(frozen=True)
class Refresh:
    """What a refresh did: None when the snapshot was still fresh."""

    published: Published | None
    unexpanded: int = 0  # groups, site groups and users whose members or details were not read


def refresh(
    client: GraphClient,
    app: AppCredentials,
    cloud: Cloud,
    data_root: Path,
    grants_files: Iterable[Path],
    *,
    every: float,
    now: datetime.datetime,
    force: bool = False,
    lock_timeout: float = 0.0,
    session_factory: Callable[[], requests.Session] | None = None,
) -> Refresh:
    """Refresh the snapshot at `data_root` if it is due (older than `every` seconds).

    Raises:
        LockError: another process refreshes it.
        LocalStorageError, StateError: the snapshot could not be published.
        AuthError: no token could be had.
    """
    with target_lock(data_root / STATE_DIR, timeout=lock_timeout):
        finish_pending(data_root)
        old = read_snapshot(data_root)
        if old is not None and not force and _age(old.refreshed, now) < every:
            return Refresh(published=None)
        reader = SiteGroupReader(app, cloud, session_factory=session_factory, gate=client.gate)
        try:
            snapshot = build(
                app.tenant_id,
                wanted(grants_files),
                directory=Directory(client),
                site_groups=reader,
                site_url=lambda site_id: client.get_site(site_id).web_url or "",
                now=now,
            )
        finally:
            reader.close()
        for key, reason in snapshot.unexpanded.items():
            logger.warning("principals: {} not read: {}", key, reason)
        published = publish(data_root, snapshot, now)
        logger.info(
            "principals: {} users, {} groups, {} site groups; {} membership changes",
            len(snapshot.users),
            len(snapshot.groups),
            len(snapshot.site_groups),
            published.events,
        )
        return Refresh(published=published, unexpanded=len(snapshot.unexpanded))


def _age(refreshed: str, now: datetime.datetime) -> float:
    try:
        then = datetime.datetime.fromisoformat(refreshed.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return (now - then).total_seconds()
