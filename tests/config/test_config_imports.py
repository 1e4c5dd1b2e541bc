"""Loading a configuration stays light: `ms365sync.config` imports neither the HTTP stack nor
the sync engine, and callers find its public names on the package itself."""

from __future__ import annotations

import subprocess
import sys

import ms365sync.config


def _modules_after(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_importing_the_configuration_does_not_import_requests_or_the_engine() -> None:
    loaded = _modules_after("import ms365sync.config")
    assert {"requests", "msal", "urllib3"} & loaded == set()
    heavy = ("ms365sync.sync", "ms365sync.state", "ms365sync.outputs", "ms365sync.emulator")
    assert sorted(m for m in loaded if m.startswith(heavy)) == []


def test_the_package_exports_the_loader_and_its_types() -> None:
    for name in ("load_config", "Config", "Target", "ConfigError", "StarterSite"):
        assert name in ms365sync.config.__all__
        assert getattr(ms365sync.config, name) is not None
