"""Pooled keep-alive `requests` sessions that always trust the configured CA bundle."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

__all__ = ["Timeout", "build_session", "default_user_agent", "package_version"]

Timeout = float | tuple[float, float]


class _ConfiguredAdapter(HTTPAdapter):
    """Applies a default timeout and a pinned CA bundle to every request it sends.

    `Session.verify` alone is not enough: `requests` lets REQUESTS_CA_BUNDLE override it, and
    MSAL calls its http_client without a timeout, so both are fixed here, at the adapter.
    """

    def __init__(self, *, ca_bundle: Path | None, timeout: Timeout, pool_size: int) -> None:
        self._ca_bundle = None if ca_bundle is None else str(ca_bundle)
        self._timeout = timeout
        # No urllib3 retries: retry policy lives in the Graph transport, classified in one place.
        super().__init__(pool_connections=4, pool_maxsize=pool_size, max_retries=0)

    def send(  # noqa: PLR0917 - HTTPAdapter.send's own signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=self._ca_bundle if self._ca_bundle and verify is not False else verify,
            cert=cert,
            proxies=proxies,
        )


def build_session(
    *, ca_bundle: Path | None = None, timeout: Timeout = (15.0, 120.0), pool_size: int = 16
) -> requests.Session:
    """A session whose connection pool holds `pool_size` keep-alive connections per host."""
    session = requests.Session()
    adapter = _ConfiguredAdapter(ca_bundle=ca_bundle, timeout=timeout, pool_size=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if ca_bundle is not None:
        session.verify = str(ca_bundle)
    return session


@functools.cache
def package_version() -> str:
    """The installed ms365sync version ("0+unknown" when running from an uninstalled tree)."""
    try:
        return importlib.metadata.version("ms365sync")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def default_user_agent() -> str:
    """The decorated User-Agent SharePoint asks for: undecorated traffic is throttled first."""
    return f"NONISV|ms365sync|ms365sync/{package_version()}"
