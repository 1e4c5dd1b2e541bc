"""ms365sync: mirror SharePoint document libraries to disk with permissions and change logs."""

from __future__ import annotations

from ms365sync.quickxorhash import QuickXorHash, quickxorhash

__version__ = "0.4.0.dev0"

__all__ = ["QuickXorHash", "__version__", "quickxorhash"]
