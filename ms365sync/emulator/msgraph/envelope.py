"""Graph's wire conventions around every response: the error envelope and the standard headers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any

from ms365sync.emulator.msgraph.exceptions import (
    ActivityLimitReached,
    GraphError,
    ServiceNotAvailable,
)
from ms365sync.emulator.transport.http import Headers, Request, Response

ERROR_CONTENT_TYPE = "application/json"
# Shape of the real header (samples/08-401-headers.real-2022.http), naming the emulator.
AGS_DIAGNOSTIC = (
    '{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"0",'
    '"ScaleUnit":"000","RoleInstance":"EMULATOR"}}'
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def error_date(now: float) -> str:
    """innerError.date: UTC, whole seconds, no zone suffix (e.g. 2023-09-29T14:31:03)."""
    return datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def error_body(error: GraphError, request: Request, now: float) -> dict[str, Any]:
    """The error envelope: {"error": {code, message, innerError: {code?, date, request-id, ...}}}.

    The nesting follows samples/06-batch-429-subresponse: the first inner code sits beside the
    date and ids, deeper codes nest as {"code": ...} objects.
    """
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    inner: dict[str, Any] = {}
    if error.inner_codes:
        inner["code"] = error.inner_codes[0]
        nested: dict[str, Any] = inner
        for code in error.inner_codes[1:]:
            nested["innerError"] = {"code": code}
            nested = nested["innerError"]
    inner["date"] = error_date(now)
    inner["request-id"] = request.request_id
    inner["client-request-id"] = request.client_request_id
    body["innerError"] = inner
    return {"error": body}


def error_response(error: GraphError, request: Request, now: float) -> Response:
    """The wire form of a GraphError; error bodies are plain application/json (graph-facts §1.2)."""
    payload = json.dumps(error_body(error, request, now), separators=(",", ":")).encode()
    headers = Headers([("Content-Type", ERROR_CONTENT_TYPE), *error.headers])
    return Response(error.status, headers, payload)


def throttled(status: int, headers: tuple[tuple[str, str], ...] = ()) -> GraphError:
    """A SharePoint-flavoured throttling error carrying Retry-After (and RateLimit-*) headers.

    429 uses the real chain activityLimitReached -> throttledRequest -> quota
    (samples/06-batch-429-subresponse); 503 uses serviceNotAvailable, the documented code for
    "service busy" (OneDrive docs concepts/errors.md) — no real 503 body was captured.
    """
    if status == 503:
        return ServiceNotAvailable(headers=headers)
    return ActivityLimitReached(headers=headers)


def add_standard_headers(response: Response, request: Request, now: float) -> None:
    """Add the headers every Graph answer has (graph-facts §1.2); OData-Version on JSON success."""
    headers = response.headers
    headers.set("request-id", request.request_id)
    headers.set("client-request-id", request.client_request_id)
    headers.set("x-ms-ags-diagnostic", AGS_DIAGNOSTIC)
    headers.set("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    headers.set("Date", formatdate(now, usegmt=True))
    content_type = headers.get("Content-Type") or ""
    is_json = content_type.startswith("application/json")
    if 200 <= response.status < 300 and is_json and "OData-Version" not in headers:
        headers.add("OData-Version", "4.0")
