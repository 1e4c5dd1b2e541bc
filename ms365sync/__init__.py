"""ms365sync: mirror SharePoint document libraries to disk with permissions and change logs."""

from __future__ import annotations

from loguru import logger

from ms365sync._version import __version__
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
from ms365sync.quickxorhash import QuickXorHash, quickxorhash
from ms365sync.sync.result import SyncResult
from ms365sync.target import Filters, PermissionPolicy, SiteRef, TargetSpec

# A library stays quiet unless its user asks: the command line enables and configures it.
logger.disable("ms365sync")


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
    "PendingLog",
    "PermissionPolicy",
    "QuickXorHash",
    "SQLiteCheckpointStore",
    "SharePointSync",
    "SiteRef",
    "SyncResult",
    "TargetSpec",
    "__version__",
    "quickxorhash",
    "sync_target",
]
