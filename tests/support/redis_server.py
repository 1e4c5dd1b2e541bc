"""The real redis-server of `benchmarks.redis_server` for tests: skipped, saying how to
install it, where the binary is not on the PATH."""

from __future__ import annotations

import pytest

from benchmarks.redis_server import RedisMissingError, RedisServer, redis_binary, redis_server

__all__ = ["RedisServer", "redis_server", "require_redis_server"]


def require_redis_server() -> str:
    """The redis-server binary, or skip the test saying how to get it."""
    try:
        return redis_binary()
    except RedisMissingError as missing:
        pytest.skip(str(missing))
