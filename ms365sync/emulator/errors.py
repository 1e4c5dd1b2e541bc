"""Graph- and identity-shaped errors the emulator raises inside handlers.

Handlers raise these; the request pipeline turns them into the real wire shapes:
the Graph error envelope (code, message, innerError with date/request-id) and the
identity platform's AADSTS error body.
"""

from __future__ import annotations

from collections.abc import Sequence


class EmulatorError(Exception):
    """Base of the emulator's own exceptions."""


class GraphError(EmulatorError):
    """A Graph error response: HTTP status plus the error envelope's codes.

    `inner_codes` is the chain of more specific codes nested in innerError, outermost
    first (e.g. ("throttledRequest", "quota") under "activityLimitReached").
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        inner_codes: Sequence[str] = (),
        headers: Sequence[tuple[str, str]] = (),
        include_inner: bool = True,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.inner_codes = tuple(inner_codes)
        self.headers = list(headers)
        self.include_inner = include_inner


def item_not_found(message: str = "The resource could not be found.") -> GraphError:
    """404 itemNotFound, the code Graph uses for unknown sites, drives, items and paths."""
    return GraphError(404, "itemNotFound", message)


def invalid_request(message: str) -> GraphError:
    """400 invalidRequest, for malformed URLs, ids and query options."""
    return GraphError(400, "invalidRequest", message)


class IdentityError(EmulatorError):
    """An error from the token or discovery endpoints (AADSTS codes, OAuth2 error names)."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"{status} {error}: AADSTS{aadsts}: {description}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description


class InputError(EmulatorError):
    """A malformed tenant or scenario file: names the file, line or key, and what was expected."""


class ConfigError(EmulatorError, ValueError):
    """A malformed emulator option (latency, throttle or fault spec) naming the bad part."""
