"""The Graph pipeline: authentication errors, the error envelope, standard headers, faults."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from ms365sync.emulator.control.settings import FaultConfig, LatencyConfig
from ms365sync.emulator.login.tokens import b64url
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.http import Response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import (
    APP_ID,
    NO_ROLES_APP_ID,
    SAMPLES,
    AppFactory,
    body_json,
    call,
    issue_token,
    sample,
)

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
STANDARD = ("request-id", "client-request-id", "x-ms-ags-diagnostic", "Strict-Transport-Security")


def recorded_headers(name: str) -> dict[str, str]:
    """The response headers of a recorded .http sample, by lower-case name."""
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    headers = {}
    for line in lines[lines.index(next(x for x in lines if x.startswith("HTTP/1.1"))) + 1 :]:
        if not line.strip():
            break
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return headers


def assert_envelope(response: Response, status: int, code: str) -> dict[str, Any]:
    """The body has the real envelope's shape (samples/08-error-401-expired-token)."""
    assert response.status == status
    assert response.headers.get("Content-Type") == "application/json"
    body = body_json(response)
    reference = sample("08-error-401-expired-token.real-2023.json")
    assert set(body) == set(reference) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    inner = error["innerError"]
    assert set(reference["error"]["innerError"]) <= set(inner)
    assert DATE.match(inner["date"])
    assert inner["request-id"] == response.headers.get("request-id")
    assert inner["client-request-id"] == response.headers.get("client-request-id")
    return dict(error)


def assert_401(response: Response, message: str) -> None:
    error = assert_envelope(response, 401, "InvalidAuthenticationToken")
    assert error["message"] == message
    real = recorded_headers("08-401-headers.real-2022.http")
    assert response.headers.get("WWW-Authenticate") == real["www-authenticate"]


def test_success_carries_the_standard_headers(app: EmulatorApp) -> None:
    response = call(app, "GET", "/v1.0/me", token=issue_token(app))
    assert response.status == 200
    assert body_json(response) == {"appid": APP_ID}
    real = recorded_headers("08-401-headers.real-2022.http")
    for name in STANDARD:
        assert response.headers.get(name), name
        assert name.lower() in real
    assert GUID.match(response.headers.get("request-id") or "")
    assert response.headers.get("client-request-id") == response.headers.get("request-id")
    assert response.headers.get("OData-Version") == "4.0"
    assert response.headers.get("Date", "").endswith(" GMT")


def test_client_request_id_is_echoed(app: EmulatorApp) -> None:
    mine = "e70c5c1b-8b47-68c0-3171-3d22f5e0bd54"
    response = call(
        app, "GET", "/v1.0/me", token=issue_token(app), headers=[("client-request-id", mine)]
    )
    assert response.headers.get("client-request-id") == mine
    assert response.headers.get("request-id") != mine


def test_missing_token(app: EmulatorApp) -> None:
    assert_401(call(app, "GET", "/v1.0/me"), "Access token is empty.")


def test_unparsable_token(app: EmulatorApp) -> None:
    response = call(app, "GET", "/v1.0/me", token="not-a-jwt")
    assert_401(response, "CompactToken parsing failed with error code: 80049217")


def test_token_with_a_bad_signature(app: EmulatorApp) -> None:
    header, claims, _signature = issue_token(app).split(".")
    forged = f"{header}.{claims}.{b64url(b'x' * 32)}"
    assert_401(call(app, "GET", "/v1.0/me", token=forged), "Access token validation failure.")


def test_token_from_another_emulator(app: EmulatorApp, make_app: AppFactory) -> None:
    stranger = issue_token(make_app())
    assert_401(call(app, "GET", "/v1.0/me", token=stranger), "Access token validation failure.")


def test_expired_token_by_the_emulator_clock(make_app: AppFactory) -> None:
    # A clock that stands still but for `advance`: the wall time it takes to issue the
    # token (an RSA key made on first use) and to call must not count. (It did: issued at
    # a whole second, a token had less than 3598 s left once the call came a moment late.)
    app = make_app(admin_key="admin-key", clock=Clock(lambda: 1_800_000_000.5))
    token = issue_token(app)
    app.clock.advance(3598)
    assert call(app, "GET", "/v1.0/me", token=token).status == 200
    app.clock.advance(2)
    response = call(app, "GET", "/v1.0/me", token=token)
    assert_401(response, "Access token has expired or is not yet valid.")
    reference = sample("08-error-401-expired-token.real-2023.json")["error"]
    assert body_json(response)["error"]["message"] == reference["message"]


def test_expire_token_fault_revokes_the_token(make_app: AppFactory) -> None:
    app = make_app(faults=FaultConfig.parse("expire-token=1"))
    token = issue_token(app)
    first = call(app, "GET", "/v1.0/me", token=token)
    assert_401(first, "Access token has expired or is not yet valid.")
    app.faults.configure(FaultConfig())
    assert call(app, "GET", "/v1.0/me", token=token).status == 401
    assert call(app, "GET", "/v1.0/me", token=issue_token(app)).status == 200
    assert app.faults.stats()["expire-token"] == 1


def test_token_without_roles_is_403(app: EmulatorApp) -> None:
    response = call(app, "GET", "/v1.0/me", token=issue_token(app, NO_ROLES_APP_ID))
    error = assert_envelope(response, 403, "AccessDenied")
    reference = sample("08-error-403-no-roles-claim.real-2020.json")["error"]
    assert error["message"] == reference["message"]


def test_handlers_see_the_app_and_claims(app: EmulatorApp) -> None:
    seen: dict[str, Any] = {}

    def spy(request: Any) -> Response:
        seen.update(request.context)
        return Response(204)

    app.graph_router.add("GET", r"/spy", spy)
    call(app, "GET", "/v1.0/spy", token=issue_token(app))
    assert seen["app"].client_id == APP_ID
    assert seen["claims"]["appid"] == APP_ID
    assert seen["emulator"] is app
    assert seen["graph_path"] == "/spy"


def test_handler_graph_error_becomes_the_envelope(app: EmulatorApp) -> None:
    response = call(app, "GET", "/v1.0/drives/d/items/missing/permissions", token=issue_token(app))
    error = assert_envelope(response, 404, "itemNotFound")
    assert error["message"] == "Item not found"
    assert "OData-Version" not in response.headers


def test_unknown_path_method_and_version(app: EmulatorApp) -> None:
    token = issue_token(app)
    unknown = call(app, "GET", "/v1.0/drives/d/nothing", token=token)
    assert assert_envelope(unknown, 400, "BadRequest")["message"] == (
        "Resource not found for the segment 'nothing'."
    )
    wrong_method = call(app, "DELETE", "/v1.0/me", token=token)
    assert_envelope(wrong_method, 405, "Request_BadRequest")
    assert wrong_method.headers.get("Allow") == "GET"
    beta = call(app, "GET", "/beta/me", token=token)
    assert assert_envelope(beta, 400, "BadRequest")["message"] == "Invalid version: beta"


def test_unexpected_exception_is_a_logged_500_without_traceback(
    app: EmulatorApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ms365sync.emulator"):
        response = call(app, "GET", "/v1.0/crash", token=issue_token(app))
    error = assert_envelope(response, 500, "generalException")
    assert "handler bug" not in response.body_bytes().decode()
    assert "Traceback" not in error["message"]
    assert any("handler bug" in str(r.exc_info) for r in caplog.records)


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("503", 503)])
def test_throttling_faults_have_integer_retry_after(
    make_app: AppFactory, kind: str, status: int
) -> None:
    app = make_app(faults=FaultConfig.parse(f"{kind}=1,retry-after=7"))
    response = call(app, "GET", "/v1.0/me", token=issue_token(app))
    assert response.status == status
    assert response.headers.get("Retry-After") == "7"
    if status == 429:
        error = assert_envelope(response, 429, "activityLimitReached")
        assert error["innerError"]["code"] == "throttledRequest"
        assert error["innerError"]["innerError"] == {"code": "quota"}
    assert app.faults.stats()[kind] == 1


def test_500_fault(make_app: AppFactory) -> None:
    app = make_app(faults=FaultConfig.parse("500=1"))
    assert_envelope(call(app, "GET", "/v1.0/me", token=issue_token(app)), 500, "generalException")


def test_drop_fault_asks_the_transport_to_close(make_app: AppFactory) -> None:
    app = make_app(faults=FaultConfig.parse("drop=1"))
    assert call(app, "GET", "/v1.0/me", token=issue_token(app)).drop


def test_faults_are_not_charged(make_app: AppFactory) -> None:
    app = make_app(faults=FaultConfig.parse("429=1"))
    call(app, "GET", "/v1.0/me", token=issue_token(app))
    assert app.throttle.stats()["ru_by_minute"] == {}


def test_wsgi_entry_point(app: EmulatorApp) -> None:
    started: list[Any] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/v1.0/me",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8443",
        "HTTP_HOST": "127.0.0.1:8443",
        "HTTP_AUTHORIZATION": f"Bearer {issue_token(app)}",
        "wsgi.input": None,
        "wsgi.url_scheme": "https",
    }
    body = b"".join(app.wsgi(environ, lambda status, headers: started.append((status, headers))))
    assert started[0][0] == "200 OK"
    assert dict(started[0][1])["Content-Length"] == str(len(body))
    assert b'"appid"' in body


def test_latency_is_fixed_plus_seeded_jitter_and_spares_control(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def delays(seed: int) -> list[float]:
        slept: list[float] = []
        monkeypatch.setattr("ms365sync.emulator.transport.pipeline.time.sleep", slept.append)
        app = make_app(seed=seed, latency=LatencyConfig.parse("30+-10"), admin_key="k")
        token = issue_token(app)
        for n in range(20):
            call(app, "GET", f"/v1.0/drives/d/items/{n}/children", token=token)
        call(app, "GET", "/_emulator/stats", headers=[("X-Emulator-Key", "k")])
        return slept

    first = delays(1)
    assert len(first) == 20
    assert all(0.020 <= d <= 0.040 for d in first)
    assert len(set(first)) > 1
    assert delays(1) == first
    assert delays(2) != first
