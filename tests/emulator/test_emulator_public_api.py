"""The emulator's public entry point: exactly these names, each importable, and importing it
stays cheap (the HTTPS server's cheroot and trustme load only when a server starts)."""

from __future__ import annotations

import subprocess
import sys

import ms365sync.emulator

EXPORTED = [
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


def test_all_is_pinned() -> None:
    assert sorted(ms365sync.emulator.__all__) == EXPORTED


def test_every_exported_name_is_defined_in_the_emulator() -> None:
    for name in ms365sync.emulator.__all__:
        value = getattr(ms365sync.emulator, name)
        assert value.__module__.startswith("ms365sync.emulator"), name


def test_importing_it_does_not_import_the_https_server_dependencies() -> None:
    probe = (
        "import sys, ms365sync.emulator; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cheroot', 'trustme')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_starting_a_server_does_import_them() -> None:
    probe = (
        "import sys, ms365sync.emulator as e; "
        "s = e.Emulator(e.load_demo_tenant()).server().start(); s.stop(); "
        "print('cheroot' in sys.modules, 'trustme' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True True"
