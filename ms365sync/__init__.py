"""ms365sync: mirror SharePoint document libraries to disk with permissions and change logs."""

from __future__ import annotations

from loguru import logger

from ms365sync._version import __version__
from ms365sync.api import SharePointSync, sync_target
from ms365sync.changelog import ChangeLog
from ms365sync.consumer import (
    CheckpointStore,
    ConsumerError,
    FileCheckpointStore,
    LogConsumer,
    LogSource,
    PendingLog,
    SQLiteCheckpointStore,
)
from ms365sync.exports import GrantEntry, GrantsFile
from ms365sync.filters import Filters
from ms365sync.quickxorhash import QuickXorHash, quickxorhash
from ms365sync.resolve import SiteRef
from ms365sync.syncer import PermissionPolicy, SyncResult, TargetSpec

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
