"""An emulator over HTTPS and a configuration pointing at it, for command-line tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.emulator.cli import sites_toml
from ms365sync.sync.stop import Stop


@dataclass
class Served:
    emulator: Emulator
    config: Path
    root: Path

    def mirror(self, target: str) -> Path:
        """The local root of "site/library"."""
        return self.root / "mirror" / target


@contextmanager
def served(tmp: Path, emulator: Emulator | None = None) -> Iterator[Served]:
    """Serve `emulator` (default: the demo tenant) on a free port until the block ends."""
    emulator = emulator or Emulator(load_demo_tenant())
    ca = tmp / "ca.pem"
    with emulator.server(ca_bundle_path=ca) as server:
        config = tmp / "sites.toml"
        config.write_text(sites_toml(emulator, server.base_url, "ca.pem", "mirror"), "utf-8")
        yield Served(emulator, config, tmp)


class OneCycle(Stop):
    """For `watch`'s loop: asked to wait for the next cycle, it stops instead."""

    def wait(self, timeout: float) -> bool:
        self.request("SIGTERM")
        return True
