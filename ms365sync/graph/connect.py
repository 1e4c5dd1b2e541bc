"""The one way to a `GraphClient`: an app's credentials + a cloud + a session -> a client.

The command line, the coordinator and the library API all connect here, so they sign in and
call Graph over the same kind of session: one pooled session per client, shared by MSAL and
the Graph calls, pinned to the cloud's CA bundle.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable
from typing import Any, BinaryIO

import requests

from ms365sync.graph.auth import MsalTokenProvider, TokenProvider
from ms365sync.graph.budget import TenantBudget
from ms365sync.graph.client import GraphClient
from ms365sync.graph.cloud import Cloud
from ms365sync.graph.credentials import AppCredentials
from ms365sync.graph.download import DEFAULT_CHUNK_SIZE, DownloadInfo
from ms365sync.graph.session import build_session
from ms365sync.graph.throttle import ThrottleGate
from ms365sync.graph.transport import Transport
from ms365sync.target import DOWNLOAD_GIVE_UP_S

__all__ = ["ConnectedClient", "SessionFactory", "Slots", "connect", "connect_sharepoint"]

SessionFactory = Callable[[], requests.Session]
"""Makes the session a client sends everything over (the emulator passes its own)."""


class Slots:
    """At most `count` holders at once: a semaphore whose tokens sit in a `SimpleQueue`, so
    taking and giving one back are single calls into C. (`threading.Semaphore` is Python
    over a Condition: with 48 download threads, a fifth of the coordinator's time holding
    the GIL went to waking its waiters.)"""

    def __init__(self, count: int) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(max(1, count)):
            self._tokens.put(None)

    def __enter__(self) -> None:
        self._tokens.get()

    def __exit__(self, *exc: object) -> None:
        self._tokens.put(None)


class ConnectedClient(GraphClient):
    """A GraphClient that can sign in on demand; with `download_slots`, its downloads wait
    for one of that many slots (one limit across every target that shares the client)."""

    def __init__(
        self,
        graph_url: str,
        provider: TokenProvider,
        *,
        download_slots: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(graph_url, provider, **kwargs)
        self._provider = provider
        self._slots = None if download_slots is None else Slots(download_slots)

    def authenticate(self) -> None:
        """Get an access token now, so a wrong credential fails before any work starts.

        Raises:
            AuthError: the identity platform refused the credential or was unreachable.
            ConfigError: the certificate or its private key could not be used.
        """
        self._provider.token()

    def download(
        self,
        drive_id: str,
        item_id: str,
        out: BinaryIO,
        *,
        expected_size: int | None = None,
        expected_hash: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Callable[[int], None] | None = None,
        url: str | None = None,
        give_up: float = DOWNLOAD_GIVE_UP_S,
        name: str | None = None,
        verify: bool = True,
    ) -> DownloadInfo:
        """`GraphClient.download`, once a download slot is free (when there are slots)."""
        with self._slots or contextlib.nullcontext():
            return super().download(
                drive_id,
                item_id,
                out,
                expected_size=expected_size,
                expected_hash=expected_hash,
                chunk_size=chunk_size,
                progress=progress,
                url=url,
                give_up=give_up,
                name=name,
                verify=verify,
            )


def connect(
    app: AppCredentials,
    cloud: Cloud,
    *,
    session_factory: SessionFactory | None = None,
    pool_size: int = 16,
    download_slots: int | None = None,
    budget: TenantBudget | None = None,
) -> ConnectedClient:
    """A client for `cloud` that signs in as `app`; nothing is sent until it is used.

    The session comes from `session_factory`, else it is a keep-alive pool of `pool_size`
    connections per host that trusts `cloud.ca_bundle`; MSAL and the Graph calls share it.
    `download_slots` caps concurrent downloads across everything that uses the client;
    `budget` is the tenant budget its throttle gate charges (shared with other workers).
    """
    session, provider = _signed_in(app, cloud, session_factory, pool_size)
    return ConnectedClient(
        cloud.graph_url,
        provider,
        session=session,
        gate=ThrottleGate(budget=budget),
        ca_bundle=cloud.ca_bundle,
        pool_size=pool_size,
        download_slots=download_slots,
    )


def connect_sharepoint(
    app: AppCredentials,
    cloud: Cloud,
    host: str,
    *,
    session_factory: SessionFactory | None = None,
    gate: ThrottleGate | None = None,
    pool_size: int = 8,
) -> Transport:
    """A transport for SharePoint's own REST API of `host` (`contoso.sharepoint.com`), at
    `cloud.sharepoint_url` if set, else at `https://{host}`; its tokens are for
    `https://{host}/.default` (graph-facts §16.1). MSAL and the calls share one session."""
    session, provider = _signed_in(
        app, cloud, session_factory, pool_size, scope=f"https://{host}/.default"
    )
    base = cloud.sharepoint_url or f"https://{host}"
    return Transport(
        f"{base}/_api",  # an API root of its own: no Graph version is added
        provider,
        session=session,
        gate=gate,
        ca_bundle=cloud.ca_bundle,
        pool_size=pool_size,
    )


def _signed_in(
    app: AppCredentials,
    cloud: Cloud,
    session_factory: SessionFactory | None,
    pool_size: int,
    *,
    scope: str | None = None,
) -> tuple[requests.Session, MsalTokenProvider]:
    """One session for MSAL and the calls, and tokens for `scope` (Graph's by default)."""
    session = (
        session_factory()
        if session_factory is not None
        else build_session(ca_bundle=cloud.ca_bundle, pool_size=pool_size)
    )
    provider = MsalTokenProvider(
        tenant_id=app.tenant_id,
        client_id=app.client_id,
        credential=app.credential,
        cloud=cloud,
        http_client=session,
        scope=scope,
    )
    return session, provider
