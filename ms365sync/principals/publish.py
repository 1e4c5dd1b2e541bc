"""Publishing a refreshed principals snapshot and its change log, each event exactly once.

A refresh writes, in this order: `<data_root>/.ms365sync/principals.pending.json` (the new
snapshot, and the change log's name and events when members changed), the change log in
`<data_root>/sync_logs/`, `<data_root>/.principals.json`, and then removes the pending file.
Killed anywhere, it leaves the pending file, which the next refresh finishes first: the log
is written again under the same name with the same events (atomically: a reader sees it
whole, and a consumer that already took it knows it by its name), so no event is lost and
none is published twice.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, ConfigDict, ValidationError

from ms365sync.errors import StateError
from ms365sync.localfs.atomic import write_atomic
from ms365sync.outputs.changelog import PRINCIPALS_PREFIX, log_name, parse_log_name, timestamp
from ms365sync.outputs.principals import PrincipalChanges, PrincipalsFile
from ms365sync.principals.diff import membership_events
from ms365sync.target import LOG_DIR, STATE_DIR

__all__ = ["PENDING_FILE", "SNAPSHOT_FILE", "Published", "publish", "read_snapshot"]

SNAPSHOT_FILE = ".principals.json"
PENDING_FILE = "principals.pending.json"


class _Pending(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    log_name: str | None
    log: PrincipalChanges | None
    snapshot: PrincipalsFile


class Published(BaseModel):
    """What one publication wrote: the snapshot, and the change log if members changed."""

    model_config = ConfigDict(frozen=True)

    snapshot: Path
    log: Path | None
    events: int


def read_snapshot(data_root: Path) -> PrincipalsFile | None:
    """The published snapshot, or None when there is none (or it is damaged: logged, and
    the next refresh writes a whole one again without events, since nothing can be
    compared with it)."""
    path = data_root / SNAPSHOT_FILE
    try:
        return PrincipalsFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        logger.warning("{}: unreadable, written again without change events ({})", path, exc)
        return None


def publish(data_root: Path, new: PrincipalsFile, now: datetime.datetime) -> Published:
    """Publish `new` over the snapshot at `data_root` (finishing a publication a crash
    left first), with a change log of the members added and removed since.

    Raises:
        LocalStorageError: a file could not be written (the publication stays pending).
        StateError: the pending file is damaged.
    """
    finish_pending(data_root)
    old = read_snapshot(data_root)
    events = membership_events(old, new) if old is not None else []
    name = log = None
    if events:
        name = log_name(timestamp(now), set(), data_root / LOG_DIR, PRINCIPALS_PREFIX)
        position = parse_log_name(name, PRINCIPALS_PREFIX)
        assert position is not None
        log = PrincipalChanges(timestamp=position.stamp, tenant_id=new.tenant_id, events=events)
    pending = _Pending(log_name=name, log=log, snapshot=new)
    write_atomic(_pending_path(data_root), pending.model_dump_json(indent=2).encode())
    return _complete(data_root, pending)


def finish_pending(data_root: Path) -> Published | None:
    """Finish the publication a killed refresh left, if any.

    Raises:
        LocalStorageError, StateError: as `publish`.
    """
    path = _pending_path(data_root)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"unreadable ({exc.strerror or exc})", path=path) from exc
    try:
        pending = _Pending.model_validate_json(text)
    except ValidationError as exc:
        raise StateError(
            "damaged pending principals publication", path=path, hint="delete it"
        ) from exc
    logger.info("finishing the principals publication a killed run left")
    return _complete(data_root, pending)


def _complete(data_root: Path, pending: _Pending) -> Published:
    log_path = None
    if pending.log_name is not None and pending.log is not None:
        log_path = data_root / LOG_DIR / pending.log_name
        log_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(log_path, _json(pending.log))
    snapshot = data_root / SNAPSHOT_FILE
    write_atomic(snapshot, _json(pending.snapshot))
    _pending_path(data_root).unlink()
    events = len(pending.log.events) if pending.log is not None else 0
    return Published(snapshot=snapshot, log=log_path, events=events)


def _json(model: BaseModel) -> bytes:
    return (json.dumps(model.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def _pending_path(data_root: Path) -> Path:
    return data_root / STATE_DIR / PENDING_FILE
