"""The /_emulator/ control service: live fault and throttle settings, statistics, the clock."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from ms365sync.emulator.control.settings import FaultConfig, LatencyConfig, ThrottleConfig
from ms365sync.emulator.errors import ConfigError
from ms365sync.emulator.msgraph.envelope import error_response
from ms365sync.emulator.msgraph.exceptions import GraphError, InvalidRequest, Unauthenticated
from ms365sync.emulator.transport.hosts import CONTROL_PREFIX
from ms365sync.emulator.transport.http import Request, Response, Router, json_response

if TYPE_CHECKING:
    from ms365sync.emulator.transport.pipeline import EmulatorApp

ADMIN_KEY_HEADER = "X-Emulator-Key"
CONTENT_TYPE = "application/json"


def _json(payload: Any, status: int = 200) -> Response:
    return json_response(status, payload, content_type=CONTENT_TYPE)


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.") from None


class ControlService:
    """Answers /_emulator/... for holders of the admin key; never faulted, delayed or throttled.

    Routers see the path after `/_emulator` (e.g. `/faults`). The built-in routes come
    first, then the lead's `extra` router (tenant scenario controls).
    """

    def __init__(self, app: EmulatorApp, extra: Router | None) -> None:
        self.app = app
        self.extra = extra or Router()
        self.builtin = Router()
        self.builtin.add("GET", r"/faults", self.get_faults, cost=0)
        self.builtin.add("PUT", r"/faults", self.put_faults, cost=0)
        self.builtin.add("GET", r"/throttle", self.get_throttle, cost=0)
        self.builtin.add("PUT", r"/throttle", self.put_throttle, cost=0)
        self.builtin.add("GET", r"/latency", self.get_latency, cost=0)
        self.builtin.add("PUT", r"/latency", self.put_latency, cost=0)
        self.builtin.add("GET", r"/stats", self.get_stats, cost=0)
        self.builtin.add("GET", r"/clock", self.get_clock, cost=0)
        self.builtin.add("POST", r"/clock/advance", self.advance_clock, cost=0)

    def handle(self, request: Request) -> Response:
        now = self.app.clock.now()
        sent = request.headers.get(ADMIN_KEY_HEADER) or ""
        if not hmac.compare_digest(sent.encode(), self.app.admin_key.encode()):
            error = Unauthenticated(f"Missing or wrong {ADMIN_KEY_HEADER}.")
            return error_response(error, request, now)
        path = request.path[len(CONTROL_PREFIX) :] or "/"
        found = self.builtin.match(request.method, path) or self.extra.match(request.method, path)
        try:
            if found is None:
                allowed = self.builtin.allowed_methods(path) + self.extra.allowed_methods(path)
                status = 405 if allowed else 404
                raise InvalidRequest(f"No control endpoint {path}.", status=status)
            route, groups = found
            request.context["route"] = route.name
            return route.handler(request, **groups)
        except ConfigError as error:
            return error_response(InvalidRequest(str(error)), request, now)
        except GraphError as error:
            return error_response(error, request, now)

    def get_faults(self, request: Request) -> Response:
        return _json(self.app.faults.config.as_dict())

    def put_faults(self, request: Request) -> Response:
        """Body: the JSON of GET /faults, or a CLI spec string ("429=0.1,retry-after=2")."""
        if request.body.lstrip()[:1] == b"{":
            config = FaultConfig.from_dict(_body(request))
        else:
            config = FaultConfig.parse(request.body.decode("utf-8", "replace"))
        self.app.faults.configure(config)
        return _json(config.as_dict())

    def get_throttle(self, request: Request) -> Response:
        config = self.app.throttle.config
        return _json(
            {
                "per_minute": config.per_minute,
                "per_day": config.per_day,
                "status": config.status,
                "ratelimit_headers": config.ratelimit_headers,
                "spec": str(config),
            }
        )

    def put_throttle(self, request: Request) -> Response:
        """Body: a CLI spec string ("1250/min,1200000/day" or "off")."""
        self.app.throttle.configure(ThrottleConfig.parse(request.body.decode("utf-8", "replace")))
        return self.get_throttle(request)

    def get_latency(self, request: Request) -> Response:
        latency = self.app.latency
        return _json(
            {"fixed_ms": latency.fixed_ms, "jitter_ms": latency.jitter_ms, "spec": str(latency)}
        )

    def put_latency(self, request: Request) -> Response:
        """Body: a CLI spec string ("30" or "30+-10")."""
        self.app.latency = LatencyConfig.parse(request.body.decode("utf-8", "replace"))
        return self.get_latency(request)

    def get_stats(self, request: Request) -> Response:
        return _json(
            {
                "throttle": self.app.throttle.stats(),
                "faults": self.app.faults.stats(),
                "requests": self.app.request_counts(),
            }
        )

    def get_clock(self, request: Request) -> Response:
        clock = self.app.clock
        return _json({"now": clock.utcnow().isoformat(), "offset_s": clock.offset})

    def advance_clock(self, request: Request) -> Response:
        """Body: {"seconds": N}."""
        body = _body(request) if request.body else None
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise InvalidRequest('Expected {"seconds": N} with N >= 0.')
        self.app.clock.advance(float(seconds))
        return self.get_clock(request)
