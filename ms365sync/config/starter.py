"""The starter sites.toml that `ms365sync init` writes, optionally listing discovered sites."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import tomli_w

from ms365sync.config.schema import validate
from ms365sync.config.source import Raw
from ms365sync.errors import ConfigError, LocalStorageError

__all__ = ["StarterSite", "starter_document", "write_starter_config"]

_STARTER_HEADER = """\
# ms365sync configuration, written by `ms365sync init`.
# ${NAME} is read from the environment, or from a .env file next to this file or in the
# current directory. sites.example.toml in the ms365sync sources explains every key.

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


def _short_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:64]
    return name or "site"


def starter_document(sites: Sequence[StarterSite]) -> Raw:
    """The starter file's content: placeholders for the credentials, the defaults, `sites`.

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
        "cloud": {"name": "global"},
        "run": {"parallel_targets": 8, "max_connections": 32, "lock_timeout": "5m"},
        "defaults": {
            "data_root": "ms365_data",
            "include": [],
            "exclude": ["~$*", "*.tmp"],
            "concurrency": 8,
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


def _write_new_file(path: Path, document: Raw) -> None:
    """Create `path` (mode 0600: the user may paste a secret in) holding `document` as TOML.

    Raises:
        ConfigError: `path` already exists.
        LocalStorageError: the file cannot be created or written.
    """
    text = _STARTER_HEADER + tomli_w.dumps(document)
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


def write_starter_config(path: Path, *, sites: Sequence[StarterSite] = ()) -> None:
    """Write a starter configuration for `ms365sync init`, listing `sites` if any are given.

    Credentials are `${TENANT_ID}`-style placeholders. The document is validated before it is
    written, and the file is created exclusively (mode 0600).

    Raises:
        ConfigError: `path` already exists, or a site or library name is unusable.
        LocalStorageError: the file cannot be created.
    """
    path = Path(path)
    if path.exists():
        raise ConfigError("already exists; not overwriting it", file=path, hint="pick a new path")
    document = starter_document(sites)
    validate(document, path, path.expanduser().absolute().parent)
    _write_new_file(path, document)
