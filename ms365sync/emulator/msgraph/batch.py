"""JSON batching (`POST /$batch`, graph-facts §7): validation, dependsOn order, member dispatch."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ms365sync.emulator.msgraph.envelope import error_response
from ms365sync.emulator.msgraph.exceptions import (
    METHOD_NOT_ALLOWED,
    BadRequest,
    FailedDependency,
    GraphError,
    RequestBadRequest,
)
from ms365sync.emulator.transport.http import Headers, Request, Response, json_response

if TYPE_CHECKING:
    from ms365sync.emulator.transport.pipeline import EmulatorApp

MAX_REQUESTS = 20
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Transport headers the envelope carries once; members' headers list only their own.
_ENVELOPE_ONLY = frozenset(
    {
        "content-length",
        "date",
        "request-id",
        "client-request-id",
        "strict-transport-security",
        "x-ms-ags-diagnostic",
    }
)
_ABSOLUTE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass
class Member:
    """One request of a batch, as the client listed it."""

    id: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    depends_on: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.id.lower()  # ids are compared case-insensitively


def _member(raw: Any) -> Member:
    if not isinstance(raw, Mapping):
        raise BadRequest("Invalid batch payload format: each request must be an object.")
    ident, method, url = raw.get("id"), raw.get("method"), raw.get("url")
    headers, depends = raw.get("headers", {}), raw.get("dependsOn", [])
    if not isinstance(ident, str) or not ident:
        raise BadRequest("Invalid batch payload format: every request needs a string 'id'.")
    if not isinstance(method, str) or not isinstance(url, str) or not url:
        raise BadRequest(f"Invalid batch payload format: request '{ident}' needs method and url.")
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise BadRequest(f"Invalid batch payload format: headers of request '{ident}'.")
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise BadRequest(f"Invalid batch payload format: dependsOn of request '{ident}'.")
    return Member(
        ident, method.upper(), url, dict(headers), raw.get("body"), "body" in raw, list(depends)
    )


def parse_members(body: bytes) -> list[Member]:
    """The batch's members; raises GraphError 400 for a malformed, oversized or ambiguous batch."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and "
            "payload is of valid JSON format."
        ) from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        raise BadRequest("Invalid batch payload format.")
    if len(requests) > MAX_REQUESTS:
        # The exact wording for > 20 was never captured (graph-facts §13).
        raise BadRequest(f"The number of requests in a batch is limited to {MAX_REQUESTS}.")
    members = [_member(raw) for raw in requests]
    seen: set[str] = set()
    for member in members:
        if member.key in seen:
            raise BadRequest(f"Batch request contains a duplicate id: '{member.id}'.")
        seen.add(member.key)
    return members


def execution_order(members: list[Member]) -> list[Member]:
    """Members in listed order, each after everything it depends on.

    Raises GraphError 400 for a dependsOn naming an unknown id or forming a cycle.
    """
    by_key = {m.key: m for m in members}
    for member in members:
        for dep in member.depends_on:
            if dep.lower() not in by_key or dep.lower() == member.key:
                raise BadRequest(f"Request '{member.id}' depends on an unknown request '{dep}'.")
    ordered: list[Member] = []
    placed: set[str] = set()
    while len(ordered) < len(members):
        ready = [
            m
            for m in members
            if m.key not in placed and all(d.lower() in placed for d in m.depends_on)
        ]
        if not ready:
            raise BadRequest("The dependsOn references of the batch form a cycle.")
        ordered.append(ready[0])
        placed.add(ready[0].key)
    return ordered


def encode_response(member_id: str, response: Response) -> dict[str, Any]:
    """A member's entry in "responses": JSON bodies embedded as objects, other bodies base64."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _ENVELOPE_ONLY}
    entry: dict[str, Any] = {"id": member_id, "status": response.status, "headers": headers}
    data = response.body_bytes()
    if data:
        content_type = (response.headers.get("Content-Type") or "").lower()
        try:
            entry["body"] = (
                json.loads(data) if content_type.startswith("application/json") else None
            )
        except ValueError:
            entry["body"] = None
        if entry["body"] is None:
            entry["body"] = base64.b64encode(data).decode("ascii")
    return entry


class BatchProcessor:
    """Runs a $batch envelope through the app: each member is authorised with the envelope's
    token, fault-injected, charged and throttled on its own, and dispatched through the same
    router; the envelope itself costs nothing."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def handle(self, envelope: Request) -> Response:
        try:
            if envelope.method != "POST":
                raise RequestBadRequest(METHOD_NOT_ALLOWED, status=405, headers=[("Allow", "POST")])
            self.app.authenticate(envelope)
            if self.app.faults.should("drop", envelope):
                envelope.context["fault"] = "drop"
                return Response(0, drop=True)
            ordered = execution_order(parse_members(envelope.body))
        except GraphError as error:
            return error_response(error, envelope, self.app.clock.now())
        entries = self._run(envelope, ordered)
        if self.app.config.batch_shuffle:
            # Responses come back in any order (json-batching.md); seeded so runs repeat.
            seed, _ = self.app.draws.draw("batch-order", envelope)
            random.Random(seed).shuffle(entries)
        return json_response(200, {"responses": entries})

    def _run(self, envelope: Request, ordered: list[Member]) -> list[dict[str, Any]]:
        statuses: dict[str, int] = {}
        entries: list[dict[str, Any]] = []
        for member in ordered:
            failed = next(
                (d for d in member.depends_on if not 200 <= statuses[d.lower()] < 300), None
            )
            sub = self._sub_request(envelope, member)
            if failed is not None:
                error = FailedDependency(
                    f"The request depends on request '{failed}', which failed.",
                )
                response = error_response(error, sub, self.app.clock.now())
            else:
                response = self._dispatch(sub, member)
            envelope.context["batch_ru"] = envelope.context.get("batch_ru", 0) + sub.context.get(
                "ru", 0
            )
            statuses[member.key] = response.status
            entries.append(encode_response(member.id, response))
        return entries

    def _sub_request(self, envelope: Request, member: Member) -> Request:
        headers = Headers(
            [(k, v) for k, v in member.headers.items() if k.lower() != "authorization"]
        )
        authorization = envelope.headers.get("Authorization")
        if authorization:
            headers.add("Authorization", authorization)
        path, _, query = member.url.partition("?")
        path = path if path.startswith("/") else "/" + path
        sub = Request(
            method=member.method,
            host=envelope.host,
            raw_path="/v1.0" + path,
            query_string=query,
            headers=headers,
            scheme=envelope.scheme,
        )
        sub.request_id = str(uuid.uuid4())
        sub.client_request_id = headers.get("client-request-id") or sub.request_id
        # Routed by the decoded path, as a request outside a batch is (`users/a%40b` is a@b).
        graph_path = sub.path.removeprefix("/v1.0")
        sub.context.update(envelope.context, graph_path=graph_path, batch=envelope.request_id)
        for key in ("app", "claims", "route", "fault", "ru", "ratelimit", "batch_ru"):
            sub.context.pop(key, None)
        return sub

    def _dispatch(self, sub: Request, member: Member) -> Response:
        try:
            self._check_member(member)
            sub.body = self._member_body(member)
        except GraphError as error:
            return error_response(error, sub, self.app.clock.now())
        return self.app.graph_call(sub, sub.context["graph_path"], in_batch=True)

    @staticmethod
    def _check_member(member: Member) -> None:
        if member.method not in METHODS:
            raise BadRequest(f"Invalid method '{member.method}' in request '{member.id}'.")
        if _ABSOLUTE_URL.match(member.url):
            raise BadRequest("Batch request URLs must be relative to the version root.")
        first = member.url.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        if first.lower() in ("v1.0", "beta"):
            # URLs are relative to the version root (json-batching.md), so a leading
            # /v1.0 names a segment that does not exist under it.
            raise BadRequest(f"Resource not found for the segment '{first}'.")

    @staticmethod
    def _member_body(member: Member) -> bytes:
        if not member.has_body:
            return b""
        content_type = next(
            (v for k, v in member.headers.items() if k.lower() == "content-type"), None
        )
        if content_type is None:
            raise BadRequest(f"Request '{member.id}' has a body but no Content-Type header.")
        if content_type.lower().startswith("application/json"):
            return json.dumps(member.body, separators=(",", ":")).encode()
        if not isinstance(member.body, str):
            raise BadRequest(f"The body of request '{member.id}' must be JSON or base64.")
        try:
            return base64.b64decode(member.body, validate=True)
        except (ValueError, binascii.Error):
            raise BadRequest(f"The body of request '{member.id}' is not valid base64.") from None
