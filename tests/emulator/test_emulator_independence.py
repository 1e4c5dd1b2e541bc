"""The emulator is an independent oracle: it imports nothing from the rest of ms365sync."""

from __future__ import annotations

import ast
from pathlib import Path

import ms365sync.emulator

PACKAGE = Path(ms365sync.emulator.__file__).parent


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_emulator_modules_import_only_the_emulator_from_ms365sync() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    offenders = {
        str(path.relative_to(PACKAGE)): name
        for path in modules
        for name in _imports(path)
        if name.startswith("ms365sync") and not name.startswith("ms365sync.emulator")
    }
    assert offenders == {}
