"""The Microsoft Graph layer: the only part of ms365sync that imports requests or msal."""

from __future__ import annotations

from ms365sync.graph.auth import (
    ClientCertificate,
    ClientSecret,
    Credential,
    MsalTokenProvider,
    StaticTokenProvider,
    TokenProvider,
)
from ms365sync.graph.batch import BatchResult
from ms365sync.graph.client import DELTA_SELECT, PREFER_SHARING, GraphClient
from ms365sync.graph.cloud import (
    CHINA,
    CLOUDS,
    GLOBAL,
    US_GOV,
    US_GOV_DOD,
    Cloud,
    custom_cloud,
    get_cloud,
)
from ms365sync.graph.download import DownloadInfo
from ms365sync.graph.throttle import GateStats, RateLimit, ThrottleGate

__all__ = [
    "CHINA",
    "CLOUDS",
    "DELTA_SELECT",
    "GLOBAL",
    "PREFER_SHARING",
    "US_GOV",
    "US_GOV_DOD",
    "BatchResult",
    "ClientCertificate",
    "ClientSecret",
    "Cloud",
    "Credential",
    "DownloadInfo",
    "GateStats",
    "GraphClient",
    "MsalTokenProvider",
    "RateLimit",
    "StaticTokenProvider",
    "ThrottleGate",
    "TokenProvider",
    "custom_cloud",
    "get_cloud",
]
