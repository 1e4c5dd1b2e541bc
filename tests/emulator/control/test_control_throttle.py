"""Resource-unit throttling: budgets per app, integer Retry-After, RateLimit headers from 80 %."""

from __future__ import annotations

from urllib.parse import urlsplit

from ms365sync.emulator.control.settings import ThrottleConfig
from ms365sync.emulator.control.throttle import Throttle
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.http import Response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import (
    APP_ID,
    OTHER_APP_ID,
    TENANT_ID,
    AppFactory,
    body_json,
    call,
    issue_token,
    sample,
)

NOW = 1_700_000_000.0


def test_admits_within_budget_and_rejects_beyond() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=10))
    assert all(throttle.charge("t/a", 2, NOW).admitted for _ in range(5))
    rejected = throttle.charge("t/a", 1, NOW + 1)
    assert not rejected.admitted
    assert rejected.status == 429
    assert rejected.retry_after == 59
    assert dict(rejected.headers)["Retry-After"] == "59"


def test_waiting_retry_after_is_enough_because_rejections_are_not_charged() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=10))
    throttle.charge("t/a", 10, NOW)
    first = throttle.charge("t/a", 1, NOW + 30)
    for second in range(31, 60):  # a client hammering while throttled
        assert not throttle.charge("t/a", 1, NOW + second).admitted
    assert first.retry_after is not None
    assert throttle.charge("t/a", 1, NOW + 30 + first.retry_after).admitted


def test_retry_after_counts_only_what_must_leave_the_window() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=10))
    throttle.charge("t/a", 4, NOW)
    throttle.charge("t/a", 6, NOW + 20)
    # 5 RU are needed; the 4 charged at NOW leave at NOW + 60 but are not enough,
    # so the client must wait for the 6 charged at NOW + 20 too.
    assert throttle.charge("t/a", 5, NOW + 30).retry_after == 50
    assert throttle.charge("t/a", 1, NOW + 30).retry_after == 30


def test_ratelimit_headers_appear_from_80_percent() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=100))
    assert throttle.charge("t/a", 79, NOW).headers == ()
    near = dict(throttle.charge("t/a", 1, NOW + 5).headers)
    assert near == {"RateLimit-Limit": "100", "RateLimit-Remaining": "20", "RateLimit-Reset": "55"}
    full = throttle.charge("t/a", 20, NOW + 6)
    assert full.admitted
    assert dict(full.headers)["RateLimit-Remaining"] == "0"
    over = dict(throttle.charge("t/a", 1, NOW + 7).headers)
    assert over["RateLimit-Remaining"] == "0"
    assert over["Retry-After"] == over["RateLimit-Reset"] == "53"


def test_budgets_are_per_app() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=5))
    assert throttle.charge("t/a", 5, NOW).admitted
    assert not throttle.charge("t/a", 1, NOW).admitted
    assert throttle.charge("t/b", 5, NOW).admitted
    apps = throttle.stats()["apps"]
    assert apps["t/a"] == {"requests": 2, "rejections": 1, "ru_charged": 5}
    assert apps["t/b"] == {"requests": 1, "rejections": 0, "ru_charged": 5}


def test_day_budget_rejects_without_ratelimit_headers() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=1000, per_day=30))
    for minute in range(3):
        assert throttle.charge("t/a", 10, NOW + 60 * minute).admitted
    rejected = throttle.charge("t/a", 1, NOW + 200)
    assert not rejected.admitted
    assert [name for name, _ in rejected.headers] == ["Retry-After"]
    assert rejected.retry_after is not None
    assert rejected.retry_after > 80_000


def test_503_mode_and_no_header_mode() -> None:
    throttle = Throttle(ThrottleConfig(per_minute=1, status=503, ratelimit_headers=False))
    throttle.charge("t/a", 1, NOW)
    rejected = throttle.charge("t/a", 1, NOW)
    assert rejected.status == 503
    assert [name for name, _ in rejected.headers] == ["Retry-After"]


def test_ru_per_minute_bucket_for_benchmarks() -> None:
    throttle = Throttle(ThrottleConfig())
    throttle.charge("t/a", 2, 120.0)
    throttle.charge("t/b", 5, 150.0)
    throttle.charge("t/a", 1, 185.0)
    assert throttle.stats()["ru_by_minute"] == {"120": 7, "180": 1}


def test_graph_requests_are_charged_their_route_cost(make_app: AppFactory) -> None:
    clock = Clock()
    app = make_app(throttle=ThrottleConfig.parse("10/min"), clock=clock)
    token = issue_token(app)
    assert call(app, "GET", "/v1.0/drives/d/items/a/permissions", token=token).status == 200
    response = call(app, "GET", "/v1.0/drives/d/items/a/permissions", token=token)
    assert response.status == 200
    assert response.headers.get("x-ms-resource-unit") == "5"
    assert response.headers.get("RateLimit-Remaining") == "0"
    throttled = call(app, "GET", "/v1.0/me", token=token)
    assert throttled.status == 429
    retry_after = throttled.headers.get("Retry-After")
    assert retry_after is not None
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    clock.advance(int(retry_after))
    assert call(app, "GET", "/v1.0/me", token=token).status == 200


def test_graph_429_body_is_sharepoints(make_app: AppFactory) -> None:
    app = make_app(throttle=ThrottleConfig.parse("1/min"))
    token = issue_token(app)
    call(app, "GET", "/v1.0/me", token=token)
    throttled = call(app, "GET", "/v1.0/me", token=token)
    expected = sample("06-batch-429-subresponse.real-fixture.json")["responses"][0]["body"]
    error = body_json(throttled)["error"]
    assert error["code"] == expected["error"]["code"]
    assert error["innerError"]["code"] == expected["error"]["innerError"]["code"]
    assert error["innerError"]["innerError"] == expected["error"]["innerError"]["innerError"]
    assert throttled.headers.get("Content-Type") == "application/json"


def test_one_app_throttled_leaves_another_alone(make_app: AppFactory) -> None:
    app = make_app(throttle=ThrottleConfig.parse("1/min"))
    mine, theirs = issue_token(app, APP_ID), issue_token(app, OTHER_APP_ID)
    call(app, "GET", "/v1.0/me", token=mine)
    assert call(app, "GET", "/v1.0/me", token=mine).status == 429
    assert call(app, "GET", "/v1.0/me", token=theirs).status == 200


def download_location(app: EmulatorApp, token: str) -> str:
    response = call(app, "GET", "/v1.0/drives/d/items/file1/content", token=token)
    assert response.status == 302
    location = response.headers.get("Location")
    assert location is not None
    return location


def download(app: EmulatorApp, url: str) -> Response:
    parts = urlsplit(url)
    return call(app, "GET", f"{parts.path}?{parts.query}", host=parts.netloc)


def test_a_throttled_apps_download_answers_429_with_retry_after(make_app: AppFactory) -> None:
    clock = Clock()
    app = make_app(throttle=ThrottleConfig.parse("3/min"), clock=clock)
    url = download_location(app, issue_token(app))  # 1 RU
    assert download(app, url).status == 200  # 2 RU
    near = download(app, url)  # 3 RU: the whole budget
    assert near.status == 200
    assert near.headers.get("RateLimit-Remaining") == "0"
    throttled = download(app, url)
    assert throttled.status == 429
    retry_after = throttled.headers.get("Retry-After")
    assert retry_after is not None
    assert retry_after.isdigit()
    assert throttled.headers.get("RateLimit-Reset") == retry_after
    assert throttled.headers.get("Content-Type") == "application/json"
    expected = sample("06-batch-429-subresponse.real-fixture.json")["responses"][0]["body"]
    error = body_json(throttled)["error"]
    assert error["code"] == expected["error"]["code"]
    assert error["innerError"]["code"] == expected["error"]["innerError"]["code"]
    assert error["innerError"]["innerError"] == expected["error"]["innerError"]["innerError"]
    assert throttled.body_bytes().count(b"activityLimitReached") == 1
    other = issue_token(app, OTHER_APP_ID)
    assert download(app, download_location(app, other)).status == 200  # another app's budget
    clock.advance(int(retry_after))
    assert download(app, url).status == 200
    apps = app.throttle.stats()["apps"]
    assert apps[f"{TENANT_ID}/{APP_ID}"] == {"requests": 5, "rejections": 1, "ru_charged": 4}


def test_a_throttled_download_in_503_mode(make_app: AppFactory) -> None:
    app = make_app(throttle=ThrottleConfig.parse("1/min,status=503,ratelimit-headers=off"))
    url = download_location(app, issue_token(app))
    refused = download(app, url)
    assert refused.status == 503
    assert body_json(refused)["error"]["code"] == "serviceNotAvailable"
    assert [name for name, _ in refused.headers if name.startswith(("Retry", "RateLimit"))] == [
        "Retry-After"
    ]
