"""A local, stateful, fault-injecting emulator of Microsoft Graph and the identity platform.

It serves the parts of Graph v1.0 and of login.microsoftonline.com that a SharePoint
library sync uses, for the demo, the test suite and the benchmarks. It imports nothing
from the rest of ms365sync, so it stays an independent oracle of Graph's behaviour.

The names below are its public surface; the subpackages (transport, msgraph, login, tenant,
control, scenarios) are its internals. Importing this package does not import the HTTPS
server's dependencies (cheroot, trustme): they load when `Emulator.server()` starts one.
"""

from __future__ import annotations

from ms365sync.emulator.control.settings import (
    EmulatorConfig,
    FaultConfig,
    LatencyConfig,
    ThrottleConfig,
)
from ms365sync.emulator.core import Credentials, Emulator
from ms365sync.emulator.errors import ConfigError, EmulatorError, InputError
from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.scenarios.demo import (
    demo_scenario_path,
    demo_tenant_path,
    load_demo_tenant,
)
from ms365sync.emulator.scenarios.export import export_tar, export_tenant, extract_export
from ms365sync.emulator.scenarios.scenario import (
    Scenario,
    apply_scenario,
    load_scenario,
    parse_scenario,
)
from ms365sync.emulator.scenarios.synthetic import Membership, synthetic_tenant
from ms365sync.emulator.scenarios.tenantfile import load_tenant, parse_tenant
from ms365sync.emulator.tenant.content import BytesContent, Content, GeneratedContent
from ms365sync.emulator.tenant.model import Drive, GroupKind, Hashes, Item, Role, Served, Site
from ms365sync.emulator.tenant.quirks import item_quirks
from ms365sync.emulator.tenant.tenant import MutationError, Tenant
from ms365sync.emulator.transport.server import EmulatorServer

__all__ = [
    "AppRegistration",
    "BytesContent",
    "ConfigError",
    "Content",
    "Credentials",
    "Drive",
    "Emulator",
    "EmulatorConfig",
    "EmulatorError",
    "EmulatorServer",
    "FaultConfig",
    "GeneratedContent",
    "GroupKind",
    "Hashes",
    "InputError",
    "Item",
    "LatencyConfig",
    "Membership",
    "MutationError",
    "Role",
    "Scenario",
    "Served",
    "Site",
    "Tenant",
    "ThrottleConfig",
    "apply_scenario",
    "demo_scenario_path",
    "demo_tenant_path",
    "export_tar",
    "export_tenant",
    "extract_export",
    "item_quirks",
    "load_demo_tenant",
    "load_scenario",
    "load_tenant",
    "parse_scenario",
    "parse_tenant",
    "synthetic_tenant",
]
