"""A pytest plugin: every change log the test suite produces is validated against the shipped
JSON Schema (and every .permissions.json and .permissions.grants.json written in-process).

Two nets, so that logs written by a subprocess (CLI tests, the RAG example) are caught too:
the syncer's writers are wrapped for the duration of each test (what was written is checked
at teardown), and after a test that used `tmp_path` every log that a target's state store
says it wrote (its `exports` table: files someone else put in sync_logs/ are not ours) is
read back and checked. Opt out with `@pytest.mark.no_output_validation`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ms365sync.localfs.journal import TempJournal
from ms365sync.outputs import schemas
from ms365sync.outputs.changelog import parse_log_name
from ms365sync.sync import publish
from ms365sync.target import GRANTS_FILE, LOG_DIR, METADATA_FILE

VALIDATORS = {
    name: Draft202012Validator(json.loads(schemas.shipped(name))) for name in schemas.NAMES
}
_KIND_OF_FILE = {
    ".permissions.json": "permissions",
    GRANTS_FILE: "grants",
    METADATA_FILE: "metadata",
}


def problems(name: str, document: Any) -> list[str]:
    """Every schema violation of `document` as one line each (empty: valid)."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in VALIDATORS[name].iter_errors(document)
    ]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "no_output_validation: do not check the written outputs against the schemas"
    )


def _logs_written_under(root: Path) -> Iterator[Path]:
    """Logs the state stores under `root` recorded as written (and that still exist)."""
    for dirpath, dirnames, _files in os.walk(root, onerror=lambda _e: None):
        if ".ms365sync" not in dirnames:
            continue
        db_path = Path(dirpath) / ".ms365sync" / "state.db"
        if not db_path.is_file():
            continue
        try:
            db = sqlite3.connect(db_path)  # not mode=ro: that cannot read a killed run's WAL
            try:
                names = [row[0] for row in db.execute(_WRITTEN_LOGS)]
            finally:
                db.close()
        except sqlite3.Error:
            continue  # a test damaged the store on purpose
        for name in names:
            path = Path(dirpath) / LOG_DIR / name
            if path.is_file():
                yield path


_WRITTEN_LOGS = "SELECT log_name FROM exports WHERE done = 1 AND log_name IS NOT NULL"


@pytest.fixture(autouse=True)
def _validate_outputs(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("no_output_validation"):
        yield
        return
    written: list[tuple[str, str, Any]] = []  # (schema name, where, document)
    # Asked for here, so that tmp_path is torn down after this fixture's check.
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    real_write = publish.write_atomic

    def _check(path: Path) -> None:
        name = Path(path).name
        kind = "changelog" if parse_log_name(name) is not None else _KIND_OF_FILE.get(name)
        if kind is not None:  # read back: the exports are written piece by piece
            written.append((kind, str(path), json.loads(Path(path).read_bytes())))

    def write_atomic(
        path: Path, data: bytes | Iterable[bytes], *, journal: TempJournal | None = None
    ) -> None:
        real_write(path, data, journal=journal)
        _check(path)

    monkeypatch.setattr(publish, "write_atomic", write_atomic)  # every published file
    yield
    seen = {where for kind, where, _ in written if kind == "changelog"}
    if tmp is not None:
        for path in _logs_written_under(tmp):
            if str(path) not in seen:
                written.append(("changelog", str(path), json.loads(path.read_bytes())))
    failures = [
        f"{where} ({kind} schema): {problem}"
        for kind, where, document in written
        for problem in problems(kind, document)[:5]
    ]
    if failures:
        pytest.fail("outputs violate the shipped JSON Schemas:\n" + "\n".join(failures))
