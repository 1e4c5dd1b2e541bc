"""Which emulated service a request is for, decided by its Host (or its path on loopback hosts)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ms365sync.emulator.transport.http import Request

GRAPH = "graph"
LOGIN = "login"
DOWNLOAD = "download"
SHAREPOINT = "sharepoint"
CONTROL = "control"

DOWNLOAD_PATH_SUFFIX = "/_layouts/15/download.aspx"
CONTROL_PREFIX = "/_emulator"
# SharePoint REST: `/sites/{name}/_api/...` (or `/teams/...`), any case (graph-facts §16.7).
_SHAREPOINT_API = re.compile(r"/(?:sites|teams)/[^/]+/_api(?:/|$)", re.IGNORECASE)

# The clouds' identity hosts (the aliases of samples/10-instance-discovery) and Graph hosts.
LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login-us.microsoftonline.com",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
        "login.microsoftonline.de",
    }
)
GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)
SHAREPOINT_SUFFIXES = (".sharepoint.com", ".sharepoint.us", ".sharepoint-mil.us", ".sharepoint.cn")
DOWNLOAD_SUFFIXES = SHAREPOINT_SUFFIXES


PUBLIC_GRAPH_HOST = "graph.microsoft.com"


def public_names(site_hostnames: Iterable[str]) -> tuple[str, ...]:
    """The public host names an emulator serving these SharePoint hosts answers for.

    Graph, the identity platform and its aliases, and for every tenant behind a site's
    host both `<tenant>.sharepoint.com` and `<tenant>-my.sharepoint.com` (same suffix as
    the site's), so download URLs and OneDrive hosts resolve to a name the certificate
    covers; then localhost and 127.0.0.1.
    """
    names = [PUBLIC_GRAPH_HOST, *sorted(LOGIN_HOSTS)]
    for hostname in site_hostnames:
        name, _ = split_host(hostname)
        suffix = next((s for s in SHAREPOINT_SUFFIXES if name.endswith(s)), None)
        if suffix is None:
            names.append(name)
            continue
        tenant = name.removesuffix(suffix).removesuffix("-my")
        names += [f"{tenant}{suffix}", f"{tenant}-my{suffix}"]
    return tuple(dict.fromkeys([*names, "localhost", "127.0.0.1"]))


def split_host(host: str) -> tuple[str, str]:
    """(lower-case host name, port or "") of a Host header value, IPv6 literals included."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port


@dataclass(frozen=True)
class HostMap:
    """Host names per service; any other host is routed by path, as the loopback server is."""

    login_hosts: frozenset[str] = LOGIN_HOSTS
    graph_hosts: frozenset[str] = GRAPH_HOSTS
    download_suffixes: tuple[str, ...] = DOWNLOAD_SUFFIXES
    download_hosts: frozenset[str] = frozenset()

    def service_for(self, request: Request) -> str:
        """GRAPH, LOGIN, DOWNLOAD, SHAREPOINT or CONTROL."""
        path = request.raw_path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return CONTROL
        name, _ = split_host(request.host)
        if name in self.login_hosts:
            return LOGIN
        if name in self.graph_hosts:
            return GRAPH
        if name in self.download_hosts or name.endswith(self.download_suffixes):
            return SHAREPOINT if _SHAREPOINT_API.match(path) else DOWNLOAD
        return self._service_by_path(path)

    @staticmethod
    def _service_by_path(path: str) -> str:
        if path.endswith(DOWNLOAD_PATH_SUFFIX):
            return DOWNLOAD
        if _SHAREPOINT_API.match(path):
            return SHAREPOINT
        first, _, rest = path.lstrip("/").partition("/")
        if first == "common" and rest.startswith("discovery/"):
            return LOGIN
        if rest.startswith(("oauth2/", "v2.0/.well-known/")):
            return LOGIN
        return GRAPH

    def download_origin(self, request: Request, site_hostname: str) -> str:
        """The origin for a pre-authenticated download URL answering this Graph request.

        It must differ from the API's host or port: `requests` drops Authorization on a
        redirect only when host, port or scheme change, so a same-origin URL would hide a
        client that leaks its bearer token (graph-facts §8.1). On Graph's own hosts that is the
        site's host (https://contoso.sharepoint.com); on loopback, 127.0.0.1:P becomes
        localhost:P and any other name becomes 127.0.0.1:P.
        """
        name, port = split_host(request.host)
        if name in self.graph_hosts:
            return f"https://{site_hostname}"
        swapped = "localhost" if name == "127.0.0.1" else "127.0.0.1"
        return f"{request.scheme}://{swapped}{':' + port if port else ''}"
