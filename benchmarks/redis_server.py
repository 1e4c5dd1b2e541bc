"""A real redis-server (Debian's package) for the shared budget's tests and for S9: on
127.0.0.1 and a free port, persisting nothing, stopped by whoever started it. Where the
binary is not on the PATH, `RedisMissingError` says how to install it (tests skip with it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

INSTALL_HINT = (
    "redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)"
)
READY_S = 20.0


class RedisMissingError(RuntimeError):
    """redis-server is not on the PATH."""


def redis_binary() -> str:
    """The redis-server binary; RedisMissingError (saying how to get it) when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisMissingError(INSTALL_HINT)
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process; `url` reaches it over TCP on loopback."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = redis_binary()
        self.workdir = workdir
        self.port = port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers PING (a port taken meanwhile: another one)."""
        for _ in range(5):
            argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port)]
            argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
            argv += ["--logfile", str(self.workdir / f"redis-{self.port}.log")]
            self.process = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._ready():
                return
            self.stop()
            self.port = _free_port()
        raise RuntimeError(f"redis-server did not start; see {self.workdir}")

    def _ready(self) -> bool:
        assert self.process is not None
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1.0)
        deadline = time.monotonic() + READY_S
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False  # exited: the port was taken
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)  # polling for readiness, not racing the code under test
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    """A started server, stopped when the block ends."""
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
