"""The demo tenant synced in-process through a sites.toml; the RAG example loaded as a module."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ms365sync.config import Config, load_config
from ms365sync.coordinator import Coordinator, RunReport
from ms365sync.emulator import Drive, Emulator, load_demo_tenant
from ms365sync.emulator.cli import sites_toml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "rag_sync_example.py"
MARKETING = "marketing/Shared Documents"
PRODUCT = "product/Shared Documents"


def load_example() -> ModuleType:
    """examples/rag_sync_example.py as a module (it is a script, not part of the package)."""
    name = "rag_sync_example"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@dataclass
class Demo:
    """The demo tenant, a configuration with every library, and its mirror under `tmp`."""

    emulator: Emulator
    config_path: Path
    config: Config

    @classmethod
    def create(cls, tmp: Path, *, permission_sweep: str | None = None, defaults: str = "") -> Demo:
        """The demo tenant and its sites.toml; `defaults`: lines added to [defaults]."""
        emulator = Emulator(load_demo_tenant())
        tmp.mkdir(parents=True, exist_ok=True)
        config_path = tmp / "sites.toml"
        text = sites_toml(emulator, None, None, "mirror")
        if permission_sweep is not None:
            defaults += f'permission_sweep = "{permission_sweep}"\n'
        if defaults:
            text = text.replace("[defaults]\n", f"[defaults]\n{defaults}")
            assert defaults in text
        config_path.write_text(text, encoding="utf-8")
        return cls(emulator, config_path, load_config(config_path))

    def sync(self, *only: str) -> RunReport:
        targets = self.config.select(only) if only else self.config.targets()
        coordinator = Coordinator(self.config, session_factory=self.emulator.session)
        try:
            report = coordinator.run(targets)
        finally:
            coordinator.close()
        assert report.ok, [(r.target, r.error) for r in report.results]
        return report

    def root(self, target: str = MARKETING) -> Path:
        (found,) = [t.spec.local_root for t in self.config.targets() if t.name == target]
        return found

    def drive(self, site: str = "marketing", library: str = "Shared Documents") -> Drive:
        return self.emulator.tenant.library(site, library)

    def user_id(self, email: str) -> str:
        return self.emulator.tenant.user(email).id

    def group_id(self, name: str) -> str:
        return self.emulator.tenant.group(name).id

    def site_id(self, target: str = MARKETING) -> str:
        return str(self.grants_file(target)["target"]["site_id"])

    def grants_file(self, target: str = MARKETING) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            (self.root(target) / ".permissions.grants.json").read_text("utf-8")
        )
        return document

    def logs(self, target: str = MARKETING) -> list[Path]:
        folder = self.root(target) / "sync_logs"
        return sorted(folder.iterdir()) if folder.exists() else []


BEN = "ben.carter@contoso.onmicrosoft.com"
CHLOE = "chloe.martin@contoso.onmicrosoft.com"
FARID = "farid.rahimi@contoso.onmicrosoft.com"
