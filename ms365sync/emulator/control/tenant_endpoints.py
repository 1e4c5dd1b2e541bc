"""Control endpoints over the tenant itself: apply a scenario, export the tenant's truth,
mint a user's delegated tokens.

They live under `/_emulator/` (admin key required) so that another process (`ms365sync
emulator apply` / `export`, benchmarks, scripts) can change and inspect a running emulator.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Literal

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.login.control import token_handler
from ms365sync.emulator.msgraph.exceptions import InvalidRequest
from ms365sync.emulator.scenarios.export import export_tar
from ms365sync.emulator.scenarios.scenario import apply_scenario, parse_scenario
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.http import Headers, Request, Response, Router, json_response

_CHUNK = 1 << 20


def tenant_routes(tenant: Tenant) -> Router:
    """`POST /scenario` and `GET /export` for one tenant."""
    router = Router()

    def post_scenario(request: Request) -> Response:
        """Body: the scenario file's text; `?format=json` for JSON, `?name=` for messages."""
        query = request.query
        fmt: Literal["toml", "json"] = "json" if query.get("format") == "json" else "toml"
        try:
            text = request.body.decode("utf-8")
            scenario = parse_scenario(text, name=query.get("name", "scenario"), fmt=fmt)
            applied = apply_scenario(tenant, scenario)
        except UnicodeDecodeError:
            raise InvalidRequest("The scenario is not UTF-8 text.") from None
        except InputError as error:
            raise InvalidRequest(str(error)) from None
        return json_response(200, {"applied": applied}, content_type="application/json")

    def get_export(request: Request) -> Response:
        """The tenant's truth as a tar stream (see scenarios/export.py for the layout)."""
        spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 (streamed below)
        report = export_tar(tenant, spool)  # type: ignore[arg-type]  # a binary file object
        size = spool.tell()
        spool.seek(0)
        headers = Headers(
            [
                ("Content-Type", "application/x-tar"),
                ("X-Emulator-Skipped", str(len(report.skipped))),
            ]
        )
        return Response(200, headers, _drain(spool), content_length=size)

    router.add("POST", r"/scenario", post_scenario, cost=0)
    router.add("GET", r"/export", get_export, cost=0)
    router.add("POST", r"/token", token_handler(tenant.user), cost=0)
    return router


def _drain(spool: tempfile.SpooledTemporaryFile[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(_CHUNK):
            yield chunk
    finally:
        spool.close()
