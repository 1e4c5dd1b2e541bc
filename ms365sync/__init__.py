"""ms365sync: mirror SharePoint document libraries to disk with permissions and change logs.

The public names are loaded on first use (PEP 562), so that importing one part of the
package (`ms365sync.config`, `ms365sync.target`, the emulator) does not import the whole
sync machinery and its HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loguru import logger

from ms365sync._version import __version__

# Eager, as it is light: the public function shares its name with its module, and importing
# that module anywhere would otherwise leave the module, not the function, in this namespace.
from ms365sync.quickxorhash import QuickXorHash, quickxorhash

if TYPE_CHECKING:
    from ms365sync.compat import SharePointSync, sync_target
    from ms365sync.consumer.logconsumer import (
        CheckpointStore,
        ConsumerError,
        FileCheckpointStore,
        LogConsumer,
        LogSource,
        PendingLog,
        SQLiteCheckpointStore,
    )
    from ms365sync.outputs.changelog import ChangeLog
    from ms365sync.outputs.grants import GrantEntry, GrantsFile
    from ms365sync.outputs.metadata import MetadataFile
    from ms365sync.sync.result import SyncResult
    from ms365sync.sync.stop import Stop
    from ms365sync.target import Filters, MetadataSpec, PermissionPolicy, SiteRef, TargetSpec
    from ms365sync.where import Where, WhereError, parse_where

# A library stays quiet unless its user asks: the command line enables and configures it.
logger.disable("ms365sync")

_HOMES = {
    "ChangeLog": "ms365sync.outputs.changelog",
    "CheckpointStore": "ms365sync.consumer.logconsumer",
    "ConsumerError": "ms365sync.consumer.logconsumer",
    "FileCheckpointStore": "ms365sync.consumer.logconsumer",
    "Filters": "ms365sync.target",
    "GrantEntry": "ms365sync.outputs.grants",
    "GrantsFile": "ms365sync.outputs.grants",
    "LogConsumer": "ms365sync.consumer.logconsumer",
    "LogSource": "ms365sync.consumer.logconsumer",
    "MetadataFile": "ms365sync.outputs.metadata",
    "MetadataSpec": "ms365sync.target",
    "PendingLog": "ms365sync.consumer.logconsumer",
    "PermissionPolicy": "ms365sync.target",
    "SQLiteCheckpointStore": "ms365sync.consumer.logconsumer",
    "SharePointSync": "ms365sync.compat",
    "SiteRef": "ms365sync.target",
    "Stop": "ms365sync.sync.stop",
    "SyncResult": "ms365sync.sync.result",
    "TargetSpec": "ms365sync.target",
    "Where": "ms365sync.where",
    "WhereError": "ms365sync.where",
    "parse_where": "ms365sync.where",
    "sync_target": "ms365sync.compat",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ms365sync' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "ChangeLog",
    "CheckpointStore",
    "ConsumerError",
    "FileCheckpointStore",
    "Filters",
    "GrantEntry",
    "GrantsFile",
    "LogConsumer",
    "LogSource",
    "MetadataFile",
    "MetadataSpec",
    "PendingLog",
    "PermissionPolicy",
    "QuickXorHash",
    "SQLiteCheckpointStore",
    "SharePointSync",
    "SiteRef",
    "Stop",
    "SyncResult",
    "TargetSpec",
    "Where",
    "WhereError",
    "__version__",
    "parse_where",
    "quickxorhash",
    "sync_target",
]
