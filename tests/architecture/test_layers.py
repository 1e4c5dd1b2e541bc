"""The package's layers: each package imports only the layers below it (docs/architecture.md).

    cli -> coordinator, compat -> sync, principals -> graph, state, localfs, outputs
        -> target, models, errors
    config -> graph;  consumer -> outputs (and localfs's atomic writes);  emulator -> nothing

The check reads every module's import statements (including imports inside functions), so a
lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ms365sync

PACKAGE = Path(ms365sync.__file__).parent

# Modules every layer may use: values, errors and names that import nothing above them.
BASE = frozenset({"target", "models", "errors", "quickxorhash", "shards", "where", "_version"})
IO = frozenset({"graph", "state", "localfs", "outputs"})
ALLOWED: dict[str, frozenset[str]] = {
    "__main__": frozenset({"cli"}),
    "cli": frozenset(
        {"coordinator", "compat", "config", "sync", "principals", "consumer", "emulator"} | IO
    ),
    "coordinator": frozenset({"config", "sync", "principals"} | IO),
    "compat": frozenset({"config", "sync"} | IO),
    "sync": IO,
    "principals": IO,
    "config": frozenset({"graph"}),
    "consumer": frozenset({"outputs", "localfs"}),
    "graph": frozenset(),
    "state": frozenset(),
    "localfs": frozenset(),
    "outputs": frozenset(),
    "emulator": frozenset(),
    **{name: frozenset() for name in BASE},
}
EMULATOR_ONLY = frozenset({"cheroot", "trustme"})


def _layer(module: str) -> str:
    """`ms365sync.sync.plan` -> `sync`; `ms365sync.target` -> `target`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the package uses absolute ones)"
            if node.module:
                found.add(node.module)
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _layer(_module_name(path))
        if source == "__init__":
            continue  # the public surface re-exports from every layer (lazily)
        allowed = ALLOWED[source] | BASE | {source}
        for name in sorted(_imported(path)):
            top = name.split(".")[0]
            if top == "ms365sync" and _layer(name) not in allowed:
                problems.append(f"{_module_name(path)} imports {name}")
            elif top in EMULATOR_ONLY and source != "emulator":
                problems.append(f"{_module_name(path)} imports {name} (the emulator's only)")
    return problems


def test_every_package_has_a_layer() -> None:
    """A new package or top-level module must be placed in the layer table on purpose."""
    layers = {_layer(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert layers - {"__init__"} <= set(ALLOWED), sorted(layers - set(ALLOWED) - {"__init__"})


def test_imports_follow_the_layers() -> None:
    assert _violations() == []


def test_the_emulator_imports_nothing_of_the_rest() -> None:
    emulator = [path for path in PACKAGE.rglob("*.py") if _layer(_module_name(path)) == "emulator"]
    assert len(emulator) > 20
    leaks = {
        _module_name(path): name
        for path in emulator
        for name in _imported(path)
        if name.startswith("ms365sync") and _layer(name) != "emulator"
    }
    assert leaks == {}


def _modules_after(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import ms365sync",
        "import ms365sync.cli",
        "from ms365sync import coordinator, compat",
        "from ms365sync.sync import syncer",
    ],
)
def test_a_sync_run_does_not_import_the_emulator(code: str) -> None:
    """The emulator, its HTTPS server (cheroot) and its CA (trustme) load only for the demo
    and the emulator commands."""
    loaded = _modules_after(code)
    assert {m for m in loaded if m.split(".")[0] in EMULATOR_ONLY} == set()
    assert {m for m in loaded if m.startswith("ms365sync.emulator")} == set()


def test_importing_the_package_loads_nothing_heavy() -> None:
    """`import ms365sync` is cheap: the public names load on first use."""
    loaded = _modules_after("import ms365sync")
    assert {"requests", "msal", "pydantic"} & loaded == set()
