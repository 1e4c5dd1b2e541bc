"""Where to authenticate and which Graph endpoint to call: national clouds or explicit URLs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from ms365sync.errors import ConfigError

__all__ = [
    "CHINA",
    "CLOUDS",
    "GLOBAL",
    "US_GOV",
    "US_GOV_DOD",
    "Cloud",
    "choose_cloud",
    "custom_cloud",
    "get_cloud",
]

_GLOBAL_GRAPH: Final = "https://graph.microsoft.com"


@dataclass(frozen=True)
class Cloud:
    """Authority host, Graph root and (for a private endpoint such as the emulator) a CA bundle.

    `authority_url` and `graph_url` have no trailing slash, e.g.
    "https://login.microsoftonline.com" and "https://graph.microsoft.com" (no API version).
    """

    name: str
    authority_url: str
    graph_url: str
    scope: str
    ca_bundle: Path | None = None
    # Where SharePoint's own REST API is reached: None at each site's webUrl (the real
    # service); else this origin, keeping the site's path (the emulator on loopback). Tokens
    # for it are always for the site's real host (graph-facts §16.1, §16.7).
    sharepoint_url: str | None = None

    def authority(self, tenant: str) -> str:
        """The MSAL authority URL for `tenant` (a GUID or a domain)."""
        return f"{self.authority_url}/{tenant}"

    @property
    def authority_host(self) -> str:
        """The authority's host name, without port (what MSAL compares to its known hosts)."""
        return urlsplit(self.authority_url).hostname or ""


def _national(name: str, login: str, graph: str) -> Cloud:
    return Cloud(
        name=name,
        authority_url=f"https://{login}",
        graph_url=f"https://{graph}",
        scope=f"https://{graph}/.default",
    )


# learn.microsoft.com/graph/deployments: national cloud endpoints.
GLOBAL: Final = _national("global", "login.microsoftonline.com", "graph.microsoft.com")
US_GOV: Final = _national("us-gov", "login.microsoftonline.us", "graph.microsoft.us")
US_GOV_DOD: Final = _national("us-gov-dod", "login.microsoftonline.us", "dod-graph.microsoft.us")
CHINA: Final = _national("china", "login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn")

CLOUDS: Final = {cloud.name: cloud for cloud in (GLOBAL, US_GOV, US_GOV_DOD, CHINA)}


def get_cloud(name: str) -> Cloud:
    """The national cloud called `name` ("global", "us-gov", "us-gov-dod", "china").

    Raises:
        ConfigError: `name` is not a known cloud.
    """
    try:
        return CLOUDS[name.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"unknown cloud {name!r}", key="cloud", expected=" | ".join(CLOUDS)
        ) from None


def _https_url(url: str, key: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        # MSAL refuses http:// authorities and token endpoints (graph-facts §11.5).
        raise ConfigError(f"{url!r} is not an https URL", key=key, expected="https://host[:port]")
    return url.strip().rstrip("/")


def custom_cloud(
    *,
    authority_url: str,
    graph_url: str,
    ca_bundle: str | Path | None = None,
    scope: str | None = None,
) -> Cloud:
    """A cloud at explicit URLs (the emulator, a proxy); `scope` defaults to Graph's global one.

    The default scope stays `https://graph.microsoft.com/.default` because a stand-in for
    Graph issues tokens for that audience; pass `scope` to override.

    Raises:
        ConfigError: a URL is not https, or the CA bundle does not exist.
    """
    bundle = None if ca_bundle is None else Path(ca_bundle)
    if bundle is not None and not bundle.is_file():
        raise ConfigError(f"CA bundle {str(bundle)!r} does not exist", key="ca_bundle")
    return Cloud(
        name="custom",
        authority_url=_https_url(authority_url, "authority_url"),
        graph_url=_https_url(graph_url, "graph_url"),
        scope=scope or f"{_GLOBAL_GRAPH}/.default",
        ca_bundle=bundle,
    )


def choose_cloud(
    name: str | Cloud = "global",
    *,
    authority_url: str | None = None,
    graph_url: str | None = None,
    ca_bundle: str | Path | None = None,
    sharepoint_url: str | None = None,
) -> Cloud:
    """A national cloud (by name, or as given), or explicit endpoints; trusting `ca_bundle`;
    SharePoint REST at `sharepoint_url` instead of the sites' own hosts, if given.

    Raises:
        ConfigError: only one of the two URLs is given, a URL is not https, the name is not
            a known cloud, or the CA bundle does not exist.
    """
    if authority_url or graph_url:
        if not (authority_url and graph_url):
            raise ConfigError("authority_url and graph_url go together", key="graph_url")
        cloud = custom_cloud(authority_url=authority_url, graph_url=graph_url, ca_bundle=ca_bundle)
    else:
        cloud = name if isinstance(name, Cloud) else get_cloud(name)
        if ca_bundle is not None:
            bundle = Path(ca_bundle)
            if not bundle.is_file():
                raise ConfigError(f"CA bundle {str(bundle)!r} does not exist", key="ca_bundle")
            cloud = dataclasses.replace(cloud, ca_bundle=bundle)
    if sharepoint_url is not None:
        cloud = dataclasses.replace(cloud, sharepoint_url=sharepoint_url.rstrip("/"))
    return cloud
