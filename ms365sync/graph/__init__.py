"""The Microsoft Graph layer: the only part of ms365sync that imports requests or msal.

The names below load their module on first use, so a caller that needs only the plain values
(`graph.cloud`, `graph.credentials`, as the configuration does) does not load the HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ms365sync.graph.auth import MsalTokenProvider, StaticTokenProvider, TokenProvider
    from ms365sync.graph.batch import BatchResult
    from ms365sync.graph.client import DELTA_SELECT, PREFER_SHARING, GraphClient
    from ms365sync.graph.cloud import (
        CHINA,
        CLOUDS,
        GLOBAL,
        US_GOV,
        US_GOV_DOD,
        Cloud,
        choose_cloud,
        custom_cloud,
        get_cloud,
    )
    from ms365sync.graph.connect import ConnectedClient
    from ms365sync.graph.credentials import (
        AppCredentials,
        ClientCertificate,
        ClientSecret,
        Credential,
    )
    from ms365sync.graph.download import DownloadInfo
    from ms365sync.graph.throttle import GateStats, RateLimit, ThrottleGate

_HOMES = {
    "auth": ("MsalTokenProvider", "StaticTokenProvider", "TokenProvider"),
    "batch": ("BatchResult",),
    "client": ("DELTA_SELECT", "PREFER_SHARING", "GraphClient"),
    "cloud": (
        "CHINA",
        "CLOUDS",
        "GLOBAL",
        "US_GOV",
        "US_GOV_DOD",
        "Cloud",
        "choose_cloud",
        "custom_cloud",
        "get_cloud",
    ),
    "connect": ("ConnectedClient",),  # not `connect` itself: that is the submodule's name
    "credentials": ("AppCredentials", "ClientCertificate", "ClientSecret", "Credential"),
    "download": ("DownloadInfo",),
    "throttle": ("GateStats", "RateLimit", "ThrottleGate"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "CHINA",
    "CLOUDS",
    "DELTA_SELECT",
    "GLOBAL",
    "PREFER_SHARING",
    "US_GOV",
    "US_GOV_DOD",
    "AppCredentials",
    "BatchResult",
    "ClientCertificate",
    "ClientSecret",
    "Cloud",
    "ConnectedClient",
    "Credential",
    "DownloadInfo",
    "GateStats",
    "GraphClient",
    "MsalTokenProvider",
    "RateLimit",
    "StaticTokenProvider",
    "ThrottleGate",
    "TokenProvider",
    "choose_cloud",
    "custom_cloud",
    "get_cloud",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
