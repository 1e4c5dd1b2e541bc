"""The JSON-lines request log: one line per request, the fields benchmarks need, no secrets."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ms365sync.emulator.control.requestlog import LogEntry, RequestLog, redact_query
from ms365sync.emulator.control.settings import FaultConfig
from support.emulator_fakes import APP_ID, SECRET, TENANT_ID, AppFactory, call, issue_token


def logged(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_redact_query_keeps_order_and_other_values() -> None:
    query = "UniqueId=abc&Translate=false&tempauth=v1.secret.sig&ApiVersion=2.0"
    assert redact_query(query) == "UniqueId=abc&Translate=false&tempauth=REDACTED&ApiVersion=2.0"
    assert redact_query("$top=5&token=delta123") == "$top=5&token=delta123"
    assert redact_query("") == ""


def test_requests_are_logged_without_secrets(make_app: AppFactory) -> None:
    stream = io.StringIO()
    app = make_app()
    app.request_log = RequestLog(stream)
    form = {
        "client_id": APP_ID,
        "client_secret": SECRET,
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    token_response = call(
        app,
        "POST",
        f"/{TENANT_ID}/oauth2/v2.0/token",
        host="login.microsoftonline.com",
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=urlencode(form).encode(),
    )
    token = json.loads(token_response.body_bytes())["access_token"]
    location = call(app, "GET", "/v1.0/drives/d/items/file1/content", token=token).headers.get(
        "Location"
    )
    assert location is not None
    parts = urlsplit(location)
    app.faults.configure(FaultConfig.parse("truncate=1"))
    download = call(app, "GET", f"{parts.path}?{parts.query}", host=parts.netloc)
    text = stream.getvalue()
    tempauth = parts.query.split("tempauth=")[1].split("&")[0]
    for secret in (SECRET, token, tempauth, token.split(".")[2]):
        assert secret not in text
    login, content, file = logged(stream)
    assert set(login) == set(LogEntry.__dataclass_fields__)
    assert (login["service"], login["status"], login["method"]) == ("login", 200, "POST")
    assert (content["service"], content["route"], content["resource_units"]) == (
        "graph",
        "content",
        1,
    )
    assert content["status"] == 302
    assert file["service"] == "download"
    assert file["fault"] == "truncate"
    assert file["bytes_sent"] == download.truncate_at
    assert "tempauth=REDACTED" in file["query"]
    assert file["request_id"] == download.headers.get("request-id")


def test_batch_envelope_logs_the_members_resource_units(make_app: AppFactory) -> None:
    stream = io.StringIO()
    app = make_app(batch_shuffle=False)
    app.request_log = RequestLog(stream)
    members = [
        {"id": str(n), "method": "GET", "url": f"/drives/d/items/{n}/permissions"} for n in range(3)
    ]
    body = json.dumps({"requests": members}).encode()
    call(app, "POST", "/v1.0/$batch", token=issue_token(app), body=body)
    (envelope,) = logged(stream)
    assert envelope["resource_units"] == 15


def test_log_file_is_appended_and_closed(tmp_path: Path, make_app: AppFactory) -> None:
    path = tmp_path / "requests.jsonl"
    app = make_app()
    app.request_log = RequestLog(path)
    call(app, "GET", "/v1.0/me")
    call(app, "GET", "/v1.0/me")
    app.request_log.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == [401, 401]
