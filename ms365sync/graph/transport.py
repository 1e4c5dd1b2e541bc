"""Sends Graph requests: authentication, decoration, the shared throttle gate and the retry loop."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import requests
from loguru import logger
from pydantic import BaseModel, ValidationError
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from ms365sync.errors import GraphError, MS365SyncError, Redacted
from ms365sync.graph.auth import TokenProvider
from ms365sync.graph.classify import Action, Verdict, classify, rate_limit
from ms365sync.graph.session import Timeout, build_session, default_user_agent
from ms365sync.graph.throttle import ThrottleGate
from ms365sync.graph.types import JsonObject

if TYPE_CHECKING:
    from requests.sessions import _Settings

__all__ = ["Outcome", "Transport", "parse_model", "parse_object"]

Outcome = requests.Response | requests.RequestException
ModelT = TypeVar("ModelT", bound=BaseModel)
Params = Mapping[str, str | int]

_API_VERSIONS = ("/v1.0", "/beta")


@dataclass(frozen=True)
class _Route:
    """What `Transport.fetch` sends a GET to an origin with, resolved once per origin."""

    adapter: BaseAdapter
    headers: CaseInsensitiveDict[str]
    verify: bool | str
    cert: str | tuple[str, str] | None
    proxies: dict[str, str]


class Transport:
    """One pooled session plus the policy around it; shared by every worker thread."""

    def __init__(
        self,
        graph_url: str,
        token_provider: TokenProvider,
        *,
        session: requests.Session | None = None,
        gate: ThrottleGate | None = None,
        max_attempts: int = 8,
        timeout: Timeout = (15.0, 120.0),
        user_agent: str | None = None,
        ca_bundle: Path | None = None,
        pool_size: int = 16,
    ) -> None:
        root = graph_url.rstrip("/")
        has_version = urlsplit(root).path.endswith(_API_VERSIONS)
        self.base_url = root if has_version else f"{root}/v1.0"
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}".lower()
        self._tokens = token_provider
        self._session = session or build_session(
            ca_bundle=ca_bundle, timeout=timeout, pool_size=pool_size
        )
        self.gate = gate or ThrottleGate()
        self._max_attempts = max(1, max_attempts)
        self._timeout = timeout
        self._user_agent = user_agent or default_user_agent()
        self._verify = None if ca_bundle is None else str(ca_bundle)
        # requests reads the proxy variables again for every request (a few % of a download's
        # CPU); they do not change during a run, so the answer is kept per origin.
        self._settings: dict[tuple[str, bool], _Settings] = {}
        self._routes: dict[str, _Route] = {}

    @property
    def max_attempts(self) -> int:
        """How many times one request is tried before its error is raised."""
        return self._max_attempts

    def url(self, url_or_path: str) -> str:
        """An absolute URL: links are kept verbatim, paths are joined to the versioned root."""
        if url_or_path.startswith(("https://", "http://")):
            return url_or_path
        return f"{self.base_url}/{url_or_path.lstrip('/')}"

    def request(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Params | None = None,
        json_body: JsonObject | None = None,
        headers: Mapping[str, str] | None = None,
        cost: float = 1.0,
        allow_redirects: bool = True,
        stream: bool = False,
    ) -> requests.Response:
        """Send an authenticated Graph request, retrying as `classify` decides.

        Raises:
            GraphError: (or a subclass) Graph answered with an error, after any retries.
            TransportError: no answer could be obtained, after any retries.
            AuthError: no access token could be obtained.
        """
        url = _with_query(self.url(url_or_path), params)
        self._check_origin(url)
        renewed = False
        for attempt in range(1, self._max_attempts + 1):
            token = self._tokens.token()
            extra = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            extra.update(headers or {})
            outcome = self._send(
                method,
                url,
                json_body=json_body,
                headers=extra,
                cost=cost,
                allow_redirects=allow_redirects,
                stream=stream,
                attempt=attempt,
            )
            verdict = classify(outcome, method=method, url=url)
            if verdict.action is Action.DONE and isinstance(outcome, requests.Response):
                return outcome
            if isinstance(outcome, requests.Response):
                outcome.close()
            if not self.prepare_retry(verdict, attempt, renewed=renewed, rejected=token):
                cause = outcome if isinstance(outcome, requests.RequestException) else None
                raise _error_of(verdict) from cause
            renewed = renewed or verdict.action is Action.RENEW_TOKEN
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def fetch(
        self, url: str, *, headers: Mapping[str, str] | None = None, cost: float = 1.0
    ) -> Outcome:
        """One unauthenticated, streamed GET of an opaque pre-authenticated URL, via the gate.

        No Authorization header is sent (a session default must not leak it to another host)
        and the URL is sent byte for byte: its signature covers it (graph-facts §8.1, §8.4).

        A download needs none of what `Session.send` does around the connection pool (hooks,
        cookies, redirects, a fresh look at the proxy variables, merging settings), which
        was about half of a download's CPU: the request goes straight to the session's
        adapter (its pool, CA bundle and timeout) with the settings resolved once per origin
        (proxies from HTTPS_PROXY/NO_PROXY, verify). Response hooks set on the session still
        see the answer.
        """
        self.gate.wait(cost)
        route = self._route(url)
        prepared = requests.PreparedRequest()
        prepared.method = "GET"
        prepared.url = url
        prepared.headers = route.headers.copy()
        prepared.headers["client-request-id"] = str(uuid.uuid4())
        if headers:
            prepared.headers.update(headers)
        prepared.body = None
        started = time.perf_counter()
        try:
            response = route.adapter.send(
                prepared,
                stream=True,
                timeout=self._timeout,
                verify=route.verify,
                cert=route.cert,
                proxies=route.proxies,
            )
        except requests.RequestException as exc:
            logger.debug("GET {} failed: {}", Redacted(url), type(exc).__name__)
            return exc
        finally:
            self.gate.finished(cost)
        for hook in self._session.hooks.get("response") or ():  # the session's observers
            answer = hook(response)
            response = response if answer is None else answer
        self._observe("GET", url, response, started, 1)
        return response

    def _route(self, url: str) -> _Route:
        """How a bare GET of `url` is sent: adapter, default headers and settings, per origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        route = self._routes.get(origin)
        if route is None:
            settings = self._environment(url, True)
            headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
                {
                    k: v if isinstance(v, str) else v.decode("latin-1")
                    for k, v in self._session.headers.items()
                }
            )
            headers["User-Agent"] = self._user_agent
            headers.pop("Authorization", None)
            verify = settings.get("verify", True)
            route = _Route(
                adapter=self._session.get_adapter(url),
                headers=headers,
                verify=True if verify is None else verify,
                cert=settings.get("cert"),
                proxies=dict(settings.get("proxies") or {}),
            )
            self._routes[origin] = route
        return route

    def prepare_retry(
        self, verdict: Verdict, attempt: int, *, renewed: bool, rejected: str | None = None
    ) -> bool:
        """Wait as `verdict` requires before another attempt; False when it must not retry."""
        if verdict.action in (Action.DONE, Action.FAIL) or attempt >= self._max_attempts:
            return False
        if verdict.action is Action.RENEW_TOKEN:
            if renewed:
                return False  # one renewal per request: a second 401 is final, never a loop
            logger.debug("Graph rejected the access token; renewing it once")
            self._tokens.token(force_refresh=True, rejected=rejected)
        elif verdict.action is Action.THROTTLED:
            self.gate.pause(verdict.retry_after, verdict.reset)
        else:
            delay = self.gate.backoff(attempt)
            logger.info("retrying after {:.1f} s: {}", delay, verdict.error)
        return True

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: JsonObject | None = None,
        headers: Mapping[str, str | None],
        cost: float,
        allow_redirects: bool,
        stream: bool,
        attempt: int = 1,
    ) -> Outcome:
        self.gate.wait(cost)
        prepared = self._prepare(method, url, json_body, headers)
        settings = self._environment(url, stream)
        started = time.perf_counter()
        try:
            response = self._session.send(
                prepared, allow_redirects=allow_redirects, timeout=self._timeout, **settings
            )
        except requests.RequestException as exc:
            logger.debug("{} {} failed: {}", method, Redacted(url), type(exc).__name__)
            return exc
        finally:
            self.gate.finished(cost)
        self._observe(method, url, response, started, attempt)
        return response

    def _observe(
        self, method: str, url: str, response: requests.Response, started: float, attempt: int
    ) -> None:
        """Tell the gate what an answer said about the rate limits, and log it."""
        self.gate.observe(rate_limit(response.headers))
        if response.status_code not in (429, 503):
            self.gate.succeeded()
        logger.debug(
            "{} {} -> {} in {:.0f} ms (attempt {}, request-id {})",
            method,
            Redacted(url),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            attempt,
            response.headers.get("request-id", "-"),
        )

    def _environment(self, url: str, stream: bool) -> _Settings:
        """The session's settings for `url` (proxies from the environment, verify, stream)."""
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}".lower(), stream)
        settings = self._settings.get(key)
        if settings is None:
            settings = self._session.merge_environment_settings(url, {}, stream, self._verify, None)
            self._settings[key] = settings
        return settings

    def _prepare(
        self,
        method: str,
        url: str,
        json_body: JsonObject | None,
        headers: Mapping[str, str | None],
    ) -> requests.PreparedRequest:
        decorated: dict[str, str | None] = {
            "User-Agent": self._user_agent,
            "client-request-id": str(uuid.uuid4()),
        }
        decorated.update(headers)
        request = requests.Request(method, url, headers=decorated, json=json_body)
        prepared = self._session.prepare_request(request)
        # Links from Graph (nextLink, deltaLink, Location) are opaque: requests would re-quote
        # them, which can break a signature. Every URL is sent exactly as given.
        prepared.url = url
        return prepared

    def _check_origin(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if origin != self._origin:
            raise GraphError(
                f"refusing to send the access token to {origin}: not the Graph endpoint "
                f"{self._origin}",
                code="foreignLink",
                url=url,
            )

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()


def _with_query(url: str, params: Params | None) -> str:
    """Append `params`, keeping OData's `$` and `,` literal (`$select=id,name`)."""
    if not params:
        return url
    query = urlencode(
        {key: str(value) for key, value in params.items()}, safe="$,", quote_via=quote
    )
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _error_of(verdict: Verdict) -> MS365SyncError:
    if verdict.error is None:  # only DONE verdicts have no error, and those are returned
        return GraphError("request failed without an error description")
    return verdict.error


def parse_object(response: requests.Response) -> JsonObject:
    """The JSON object in a response body.

    Raises:
        GraphError: the body is not a JSON object.
    """
    try:
        value = json.loads(response.content)
    except ValueError as exc:
        raise _invalid(response, f"body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _invalid(response, "body is not a JSON object")
    return value


def parse_model(model: type[ModelT], response: requests.Response) -> ModelT:
    """A response body validated as `model`.

    Raises:
        GraphError: the body does not match the model.
    """
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.error_count() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise _invalid(response, f"unexpected {model.__name__} ({where}: {first['msg']})") from None


def _invalid(response: requests.Response, message: str) -> GraphError:
    return GraphError(
        message,
        status=response.status_code,
        code="invalidResponse",
        request_id=response.headers.get("request-id"),
        method=response.request.method if response.request else None,
        url=response.url,
    )
