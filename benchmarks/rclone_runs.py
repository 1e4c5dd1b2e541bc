"""rclone beside ms365sync: the `rclone` binary found on PATH, unmodified and with its own
checks (sizes, modification times, quickXorHash), syncing one library of a `World` into an
empty folder through the emulator's CONNECT proxy, measured like every other run.

The World serves its public names (graph.microsoft.com, the login hosts, the tenant's
SharePoint host) from the same emulator, so rclone's requests get the same latency and land
in the same request log. rclone signs in as a tenant user with a delegated token pair the
emulator mints for rclone's built-in client id; the access token is handed over expired, so
every run begins with one refresh at the token endpoint (counted as sign-in, like the other
tools' token requests), as a run more than an hour after the last one would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from benchmarks.bench_world import ChildRun, World, mirror_matches, run_child
from benchmarks.sync_runs import Measured, measure
from ms365sync.emulator import Drive
from ms365sync.emulator.transport.proxy import ConnectProxy

EXPIRED = "2000-01-01T00:00:00Z"  # rclone refreshes such a token before its first request
NOT_FOUND = "rclone not found on PATH"
MISSING = (
    f"{NOT_FOUND}: its rows are skipped (install it, e.g. `apt install rclone`, or put its "
    "directory on PATH, and run again)"
)


@dataclass(frozen=True)
class Variant:
    """One way of running rclone: its flags, and how the report names them."""

    label: str
    flags: tuple[str, ...]


VARIANTS = (
    Variant("default flags", ()),
    Variant("--transfers 8 --checkers 16", ("--transfers", "8", "--checkers", "16")),
)


def find_rclone() -> str | None:
    """The rclone binary on PATH, or None."""
    return shutil.which("rclone")


def rclone_version(binary: str | None) -> str | None:
    """`rclone version`'s first line without "rclone " (e.g. "v1.60.1-DEV"), or None."""
    if binary is None:
        return None
    done = subprocess.run(
        [binary, "version"], capture_output=True, text=True, timeout=60, check=False
    )
    first = done.stdout.strip().splitlines()[:1]
    return first[0].removeprefix("rclone ").strip() if done.returncode == 0 and first else None


class RcloneRuns:
    """rclone syncing `drive` of `world` (or, with no binary, rows saying it was skipped).

    A context manager: the proxy runs from `__enter__` to `__exit__`. Every name the proxy
    refused is kept in `refusals` (none is expected: rclone only calls Graph, the login
    host and the download URLs Graph hands out).
    """

    def __init__(self, world: World, drive: Drive, binary: str | None) -> None:
        self.world, self.drive, self.binary = world, drive, binary
        self.version = rclone_version(binary)
        self.refusals: list[str] = []
        self.proxy = ConnectProxy(world.server.names, world.server.port, log=self.refusals.append)
        self.home = world.workdir / "rclone-home"
        with world.tenant.lock:
            self.user = min(world.tenant.users.values(), key=lambda user: user.email)

    def __enter__(self) -> RcloneRuns:
        if self.binary is not None:
            self.proxy.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.proxy.stop()

    def tool(self, variant: Variant) -> str:
        return f"rclone {self.version or ''}, {variant.label}".replace(" ,", ",")

    def run(self, variant: Variant, local_root: Path, scenario: str, files: int) -> Measured:
        """`rclone sync sp: LOCAL_ROOT/data` with the variant's flags; its mirror checked
        (file set and sizes; rclone does not write permissions)."""
        if self.binary is None:
            return Measured.not_run(scenario, self.tool(variant), files, NOT_FOUND)
        name = f"{scenario}-rclone-{len(variant.flags)}".replace(" ", "_").replace("/", "_")
        config = self._config(name)
        data = local_root / "data"
        data.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "sync", "sp:", str(data), "--config", str(config), *variant.flags]

        def run() -> ChildRun:
            return run_child(
                argv,
                cwd=local_root,
                env=self._env(),
                log_dir=self.world.workdir / "logs",
                name=name,
            )

        measured = measure(self.world, scenario, self.tool(variant), files, run)
        same, detail = mirror_matches(local_root, self.world.truth(self.drive), permissions=False)
        measured.extra["mirror"] = detail
        if not same:
            measured.ok = False
            measured.detail = (measured.detail + " " + detail).strip()
        if self.refusals:
            measured.ok = False
            measured.detail += f" proxy refused {len(self.refusals)}: {self.refusals[0]}"
            self.refusals.clear()
        return measured

    def _config(self, name: str) -> Path:
        """A fresh rclone.conf: a onedrive remote on the drive, its token expired."""
        pair = self.world.emulator.app.identity.mint_delegated(self.user)
        token = {
            "access_token": pair["access_token"],
            "token_type": "Bearer",
            "refresh_token": pair["refresh_token"],
            "expiry": EXPIRED,
        }
        folder = self.world.workdir / "rclone-config"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.conf"
        path.write_text(
            "[sp]\ntype = onedrive\n"
            f"token = {json.dumps(token)}\n"
            f"drive_id = {self.drive.id}\ndrive_type = documentLibrary\n",
            encoding="utf-8",
        )
        return path

    def _env(self) -> dict[str, str]:
        """Only what a user would set: the proxy and the emulator's CA (Go reads
        SSL_CERT_FILE), a HOME of its own; no proxy exceptions."""
        self.home.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HTTPS_PROXY": self.proxy.url,
            "SSL_CERT_FILE": str(self.world.ca_path),
        }
