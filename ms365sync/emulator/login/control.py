"""The `/_emulator/token` control endpoint: a delegated token pair for a tenant user, minted
as if the user had signed in to a client (what `ms365sync emulator token` asks for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.login.delegated import DEFAULT_SCOPES, DirectoryUser
from ms365sync.emulator.msgraph.exceptions import InvalidRequest
from ms365sync.emulator.transport.http import Request, Response, json_response

if TYPE_CHECKING:
    from ms365sync.emulator.transport.pipeline import EmulatorApp


def token_handler(find_user: Callable[[str], DirectoryUser]) -> Callable[[Request], Response]:
    """POST /token with {"user": EMAIL, "client_id"?: ID, "scopes"?: [SCOPE, ...]}.

    Answers the token response of `IdentityService.mint_delegated`. `find_user` resolves an
    email or user principal name and raises InputError for an unknown one (then 400).
    """

    def post_token(request: Request) -> Response:
        body = _body(request)
        user_ref, client_id, scopes = body.get("user"), body.get("client_id"), body.get("scopes")
        if not isinstance(user_ref, str) or not user_ref:
            raise InvalidRequest('Expected {"user": EMAIL, "client_id": ID, "scopes": [...]}.')
        if client_id is not None and not isinstance(client_id, str):
            raise InvalidRequest('"client_id" must be a string.')
        if scopes is not None and not (
            isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)
        ):
            raise InvalidRequest('"scopes" must be a list of strings.')
        try:
            user = find_user(user_ref)
        except InputError as error:
            raise InvalidRequest(str(error)) from None
        emulator: EmulatorApp = request.context["emulator"]
        pair = emulator.identity.mint_delegated(user, client_id, scopes or DEFAULT_SCOPES)
        return json_response(200, pair, content_type="application/json")

    return post_token


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise InvalidRequest("The body is not a JSON object.")
    return body
