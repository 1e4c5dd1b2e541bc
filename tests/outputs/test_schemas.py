"""The published JSON Schemas: generated from the models, shipped in the package, printed by
`ms365sync schema`, and enforced on every output the suite writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.emulator import apply_scenario, demo_scenario_path, load_scenario
from ms365sync.outputs import schemas
from ms365sync.outputs.schemas.__main__ import main as regenerate
from ms365sync.target import METADATA_FILE
from support.demo import MARKETING, Demo
from support.schemas_plugin import _logs_written_under, problems


@pytest.mark.parametrize("name", schemas.NAMES)
def test_the_shipped_schema_is_the_one_the_models_generate(name: str) -> None:
    shipped = schemas.shipped(name)
    assert shipped == schemas.render(name), "run: python -m ms365sync.outputs.schemas"
    document = json.loads(shipped)
    assert document["$schema"] == schemas.DRAFT and document["title"].startswith("ms365sync")


def test_the_generator_checks_the_shipped_files() -> None:
    assert regenerate(["--check"]) == 0
    assert regenerate(["--bogus"]) == 2


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_command_prints_each_schema(name: str) -> None:
    result = CliRunner().invoke(cli, ["schema", name])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(schemas.shipped(name))


@pytest.mark.parametrize("args", [["schema", "changes"], ["schema"]])
def test_schema_command_names_the_valid_schemas_on_a_wrong_name(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    for name in schemas.NAMES:
        assert name in result.output
    assert "Print the JSON Schema" in CliRunner().invoke(cli, ["schema", "--help"]).output


def _outputs(demo: Demo) -> list[tuple[str, Path]]:
    found = []
    for target in demo.config.targets():
        root = target.spec.local_root
        found += [("changelog", log) for log in demo.logs(target.name)]
        found += [("permissions", root / ".permissions.json")]
        found += [("grants", root / ".permissions.grants.json")]
        if (root / METADATA_FILE).exists():
            found += [("metadata", root / METADATA_FILE)]
    return found


def test_real_outputs_are_valid_and_broken_ones_are_not(tmp_path: Path) -> None:
    demo = Demo.create(tmp_path)
    demo.sync()
    apply_scenario(demo.emulator.tenant, load_scenario(demo_scenario_path()))
    demo.sync()
    outputs = _outputs(demo)
    # The principals' files are checked by end_to_end/test_principals.py (the demo does not
    # expand principals).
    unread = {"principals", "principal_changes"}
    assert {kind for kind, _ in outputs} == set(schemas.NAMES) - unread
    assert len([p for kind, p in outputs if kind == "changelog"]) == 8  # 6 first, 2 second
    for kind, path in outputs:
        assert problems(kind, json.loads(path.read_text("utf-8"))) == [], path

    log = json.loads(demo.logs(MARKETING)[-1].read_text("utf-8"))
    # The demo's marketing library reads its columns: the scenario's column edit is a
    # metadata-only change, and the sidecar holds the label of the agency's contract.
    summary = "Campaigns/Holiday 2024/results-summary.md"
    assert log["metadata_only_changes"][summary]["changes"] == {
        "Status": {"old": "Final", "new": "In review"}
    }
    sidecar = json.loads((demo.root() / METADATA_FILE).read_text("utf-8"))
    assert sidecar["Agency/contract-summary.txt"]["sensitivity_label"]["name"] == "Confidential"
    assert sidecar[summary]["fields"] == {"Status": "In review", "Campaign": "Holiday 2024"}
    grants = demo.grants_file()
    broken: list[tuple[str, dict[str, Any]]] = []
    for change in (
        lambda d: d.pop("summary"),
        lambda d: d.update(timestamp="2026-01-20 14:30:45"),
        lambda d: d["changes"]["added"][next(iter(d["changes"]["added"]))].pop("item_id"),
        lambda d: d.update(surprise=True),
    ):
        mutated = copy.deepcopy(log)
        change(mutated)
        broken.append(("changelog", mutated))
    mutated = copy.deepcopy(grants)
    next(iter(mutated["files"].values()))["grants"][0]["kind"] = "person"
    broken.append(("grants", mutated))
    broken.append(("permissions", {"a.txt": ["Display Name without a level"]}))
    broken.append(("metadata", {"a.txt": {"fields": {}}}))  # no item_id
    broken.append(("metadata", {"a.txt": {"item_id": "1", "sensitivity_label": "Secret"}}))
    for kind, document in broken:
        assert problems(kind, document), (kind, document)


def test_the_suite_hook_finds_the_logs_a_state_store_wrote_and_only_those(tmp_path: Path) -> None:
    demo = Demo.create(tmp_path)
    demo.sync(MARKETING)
    foreign = demo.root() / "sync_logs" / "sync_changes_2020-01-01_00-00-00.json"
    foreign.write_text("someone else's file")
    assert list(_logs_written_under(tmp_path)) == demo.logs()[1:]  # not the foreign one


def test_schemas_ship_in_the_package() -> None:
    for name in schemas.NAMES:
        assert (Path(schemas.__file__).parent / f"{name}.json").is_file()
