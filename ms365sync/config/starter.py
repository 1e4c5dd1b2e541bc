"""The files `ms365sync init` writes: the starter sites.toml, optionally listing discovered
sites and the endpoints they were found at, and the commented example of every key."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

import tomli_w

from ms365sync.config.schema import validate
from ms365sync.config.source import Raw
from ms365sync.errors import ConfigError, LocalStorageError

__all__ = [
    "EXAMPLE_NAME",
    "StarterCloud",
    "StarterSite",
    "example_text",
    "starter_document",
    "write_example_config",
    "write_starter_config",
]

EXAMPLE_NAME = "sites.example.toml"
"""The commented example of every key, shipped in this package (and at the sources' top)."""

_STARTER_HEADER = """\
# ms365sync configuration, written by `ms365sync init`.
# ${NAME} is read from the environment, or from a .env file next to this file or in the
# current directory. `ms365sync init --example` writes an example that explains every key.

"""
_SITE_SEGMENT = re.compile(r"/(?:sites|teams)/([^/]+)/?$", re.IGNORECASE)


@dataclass(frozen=True)
class StarterSite:
    """A site for the starter file, found by host + path or by display name, and its libraries."""

    name: str
    host: str | None = None
    path: str | None = None
    display_name: str | None = None
    libraries: Sequence[str] = ()

    @classmethod
    def from_url(
        cls, web_url: str, *, libraries: Sequence[str] = (), display_name: str | None = None
    ) -> StarterSite:
        """The site at `web_url` (as Graph's `webUrl` gives it), named after its URL segment.

        A site outside /sites/ and /teams/ (the root site) is listed by its display name.
        """
        parts = urlsplit(web_url)
        match = _SITE_SEGMENT.search(parts.path)
        if match is None:
            label = display_name or parts.hostname or "site"
            return cls(_short_name(label), parts.hostname, None, label, tuple(libraries))
        path = unquote(parts.path).rstrip("/")
        name = _short_name(unquote(match[1]))
        return cls(name, parts.hostname, path, None, tuple(libraries))


@dataclass(frozen=True)
class StarterCloud:
    """The `[cloud]` of a starter file: a national cloud by name, or explicit endpoints
    (both URLs), and the CA bundle to trust for them."""

    name: str = "global"
    authority_url: str | None = None
    graph_url: str | None = None
    ca_bundle: Path | None = None

    def table(self) -> Raw:
        """The `[cloud]` table: the URLs when given (they exclude a name), the bundle's
        absolute path (valid wherever the file is moved to)."""
        table: Raw = {"name": self.name}
        if self.authority_url or self.graph_url:
            table = {"authority_url": self.authority_url, "graph_url": self.graph_url}
        if self.ca_bundle is not None:
            table["ca_bundle"] = str(self.ca_bundle.expanduser().absolute())
        return {key: value for key, value in table.items() if value is not None}


def _short_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:64]
    return name or "site"


def starter_document(sites: Sequence[StarterSite], cloud: StarterCloud | None = None) -> Raw:
    """The starter file's content: placeholders for the credentials, `cloud` (default: the
    global cloud), the defaults, `sites`.

    Without sites it lists one example site to edit. Colliding site names get a -2, -3 suffix.
    """
    listed = sites or [StarterSite("example", "contoso.sharepoint.com", "/sites/example")]
    used: set[str] = set()
    return {
        "auth": {
            "tenant_id": "${TENANT_ID}",
            "client_id": "${CLIENT_ID}",
            "client_secret": "${CLIENT_SECRET}",
        },
        "cloud": (cloud or StarterCloud()).table(),
        "run": {"parallel_targets": 8, "max_connections": 32, "lock_timeout": "5m"},
        "defaults": {
            "data_root": "ms365_data",
            "include": [],
            "exclude": ["~$*", "*.tmp"],
            "concurrency": "auto",
            "max_delete": 1000,
            "max_delete_percent": 50,
            "permission_sweep": "24h",
            "write_empty_logs": False,
            "on_change": "",
            "download_give_up": "60s",
        },
        "sites": [_starter_site(site, used) for site in listed],
    }


def _starter_site(site: StarterSite, used: set[str]) -> Raw:
    name, suffix = site.name, 1
    while name.casefold() in used:
        suffix += 1
        name = f"{site.name}-{suffix}"
    used.add(name.casefold())
    table: Raw = {"name": name}
    for key in ("host", "path", "display_name"):
        value = getattr(site, key)
        if value:
            table[key] = value
    table["libraries"] = [{"name": library} for library in site.libraries or ("Documents",)]
    return table


def _write_new_file(path: Path, text: str) -> None:
    """Create `path` (mode 0600: the user may paste a secret in) holding `text`.

    Raises:
        ConfigError: `path` already exists.
        LocalStorageError: the file cannot be created or written.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("already exists; not overwriting it", file=path) from None
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path, action="create") from exc
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path) from exc


def write_starter_config(
    path: Path, *, sites: Sequence[StarterSite] = (), cloud: StarterCloud | None = None
) -> None:
    """Write a starter configuration for `ms365sync init`, listing `sites` if any are given,
    with `cloud` as its `[cloud]` (default: the global cloud).

    Credentials are `${TENANT_ID}`-style placeholders. The document is validated before it is
    written, and the file is created exclusively (mode 0600).

    Raises:
        ConfigError: `path` already exists, a site or library name is unusable, or the
            cloud's URLs or CA bundle are.
        LocalStorageError: the file cannot be created.
    """
    path = _new_path(path)
    document = starter_document(sites, cloud)
    validate(document, path, path.expanduser().absolute().parent)
    _write_new_file(path, _STARTER_HEADER + tomli_w.dumps(document))


def example_text() -> str:
    """The commented example configuration that explains every key (shipped as package data)."""
    return resources.files("ms365sync.config").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


def write_example_config(path: Path) -> None:
    """Write the commented example configuration to `path`, created exclusively (mode 0600).

    Raises:
        ConfigError: `path` already exists.
        LocalStorageError: the file cannot be created.
    """
    _write_new_file(_new_path(path), example_text())


def _new_path(path: Path) -> Path:
    path = Path(path)
    if path.exists():
        raise ConfigError("already exists; not overwriting it", file=path, hint="pick a new path")
    return path
