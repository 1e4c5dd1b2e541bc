"""The bundled demo tenant (Contoso) and the scripted changes of the demo's second round."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ms365sync.emulator.scenarios.tenantfile import load_tenant
from ms365sync.emulator.tenant.tenant import Tenant

_TENANTS = Path(__file__).with_name("tenants")

DEMO_APP = "ms365sync-demo"
"""Display name of the demo's app registration (fixed client id and secret in demo.toml)."""


def demo_tenant_path() -> Path:
    """The demo tenant file shipped with the package."""
    return _TENANTS / "demo.toml"


def demo_scenario_path() -> Path:
    """The demo's second-round scenario shipped with the package."""
    return _TENANTS / "demo_scenario.toml"


def load_demo_tenant(*, clock: Callable[[], float] = time.time) -> Tenant:
    """A fresh demo tenant; identical ids, credentials and bytes on every call.

    Raises InputError only if the packaged file is damaged.
    """
    return load_tenant(demo_tenant_path(), clock=clock)
