"""Shards on the command line: workers given the same configuration and --shard I/N (or
--shards N with JOB_COMPLETION_INDEX) sync every target exactly once between them; an
empty shard is a run with nothing to do; bad shard settings are one-line usage errors;
`ms365sync shards` prints the split with the files each state records, and `check` warns
when one shard holds far more files than the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ms365sync.cli import cli
from ms365sync.cli.commands import _watch_loop
from ms365sync.cli.main import Options
from ms365sync.cli.shards import ShardLoad, imbalance_warning
from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.emulator.cli import sites_toml
from ms365sync.shards import split
from support.cli import OneCycle, served

DEMO_TARGETS = [
    "hr/Policies", "hr/Shared Documents", "marketing/Brand Assets",
    "marketing/Shared Documents", "product/Release Notes", "product/Shared Documents",
]  # fmt: skip


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _offline_config(tmp_path: Path) -> Path:
    """A valid configuration of the demo's targets that no run could reach (for errors
    found before signing in)."""
    path = tmp_path / "sites.toml"
    text = sites_toml(Emulator(load_demo_tenant()), "https://127.0.0.1:9", "ca.pem", "mirror")
    path.write_text(text, encoding="utf-8")
    (tmp_path / "ca.pem").write_text("", encoding="utf-8")
    return path


def test_two_shards_sync_every_target_exactly_once(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        documents = [
            json.loads(_invoke("--config", str(world.config), "--shard", f"{i}/2", "--json").stdout)
            for i in range(2)
        ]
        for index, document in enumerate(documents):
            assert document["ok"] is True and document["shard"] == f"{index}/2"
        synced = [[t["target"] for t in document["targets"]] for document in documents]
        assert sorted(synced[0] + synced[1]) == DEMO_TARGETS
        assert synced == split(DEMO_TARGETS, 2)
        for name in DEMO_TARGETS:
            assert (world.mirror(name) / "data").is_dir()
            assert (world.mirror(name) / ".permissions.json").is_file()


def test_the_index_comes_from_a_kubernetes_indexed_job(tmp_path: Path) -> None:
    config = _offline_config(tmp_path)
    for index, expected in enumerate(split(DEMO_TARGETS, 3)):
        env = {"JOB_COMPLETION_INDEX": str(index), "MS365SYNC_SHARDS": "3"}
        result = _invoke("--config", str(config), "status", "--json", env=env)
        assert result.exit_code == 0, result.output
        assert [row["target"] for row in json.loads(result.stdout)["targets"]] == expected
        via_option = _invoke("--config", str(config), "--shards", "3", "status", "--json",
                             env={"JOB_COMPLETION_INDEX": str(index)})  # fmt: skip
        assert [row["target"] for row in json.loads(via_option.stdout)["targets"]] == expected


def test_only_picks_within_the_shard(tmp_path: Path) -> None:
    config = _offline_config(tmp_path)
    shard = next(i for i, names in enumerate(split(DEMO_TARGETS, 2)) if "hr/Policies" in names)
    other = 1 - shard
    mine = _invoke("--config", str(config), "--shard", f"{shard}/2", "--only", "hr",
                   "status", "--json")  # fmt: skip
    rows = [row["target"] for row in json.loads(mine.stdout)["targets"]]
    assert "hr/Policies" in rows
    assert set(rows) == {n for n in split(DEMO_TARGETS, 2)[shard] if n.startswith("hr/")}
    theirs = _invoke("--config", str(config), "--shard", f"{other}/2", "--only", "hr/Policies",
                     "status", "--json")  # fmt: skip
    assert json.loads(theirs.stdout)["targets"] == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--shard", "4/4"], {}, "--shard / MS365SYNC_SHARD: expected a shard index from 0 to 3 "
         "(0-based), not 4"),
        (["--shard", "first"], {}, "--shard / MS365SYNC_SHARD: expected I/N with a 0-based "
         "index, e.g. 0/4, not 'first'"),
        ([], {"MS365SYNC_SHARD": "1-of-2"}, "--shard / MS365SYNC_SHARD: expected I/N with a "
         "0-based index, e.g. 0/4, not '1-of-2'"),
        (["--shards", "3"], {}, "--shards 3 needs this worker's shard: --shard I/3 (or "
         "MS365SYNC_SHARD), or JOB_COMPLETION_INDEX, which a Kubernetes Indexed Job sets"),
        (["--shards", "3"], {"JOB_COMPLETION_INDEX": "3"}, "JOB_COMPLETION_INDEX '3' is not a "
         "shard index from 0 to 2 (0-based) of --shards 3"),
        ([], {"MS365SYNC_SHARDS": "many", "JOB_COMPLETION_INDEX": "0"}, "--shards / "
         "MS365SYNC_SHARDS: expected a number of shards from 1 to 1000, not 'many'"),
        (["--shard", "0/2", "--shards", "3"], {}, "--shard 0/2 and --shards 3 disagree on the "
         "number of shards"),
    ],
)  # fmt: skip
def test_a_shard_setting_that_cannot_be_used_is_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    config = _offline_config(tmp_path)
    result = _invoke("--config", str(config), *args, env=env)
    assert result.exit_code == 2
    assert f"ms365sync: error: {message}\n" in result.stderr
    assert not (tmp_path / "mirror").exists()
    as_json = _invoke("--config", str(config), *args, "--json", env=env)
    assert json.loads(as_json.stdout)["exit_code"] == 2


def test_an_empty_shard_has_nothing_to_do(tmp_path: Path) -> None:
    config = _offline_config(tmp_path)
    empty = next(i for i, names in enumerate(split(DEMO_TARGETS, 8)) if not names)
    result = _invoke("--config", str(config), "--shard", f"{empty}/8")
    assert result.exit_code == 0
    assert result.stdout == (
        f"ms365sync: shard {empty}/8 holds none of the selected targets of {config}; "
        "nothing to do\n"
    )
    document = json.loads(
        _invoke("--config", str(config), "--shard", f"{empty}/8", "--json").stdout
    )
    assert document["ok"] is True and document["targets"] == []
    assert document["shard"] == f"{empty}/8"
    assert not (tmp_path / "mirror").exists()


def test_shards_prints_the_split_with_the_files_each_state_records(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        synced = _invoke("--config", str(world.config), "--only", "hr/Policies", "-q")
        assert synced.exit_code == 0, synced.output
        result = _invoke("--config", str(world.config), "shards", "--shards", "3", "--json")
        text = _invoke("--config", str(world.config), "shards", "--shards", "3")
        checked = _invoke("--config", str(world.config), "--shards", "3", "check", "--json",
                          env={"JOB_COMPLETION_INDEX": "0"})  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    files = len(list((world.mirror("hr/Policies") / "data").rglob("*.*")))
    assert files > 0
    rows = {t["name"]: t["files"] for shard in document["shards"] for t in shard["targets"]}
    assert rows == {name: files if name == "hr/Policies" else None for name in DEMO_TARGETS}
    assert [[t["name"] for t in s["targets"]] for s in document["shards"]] == split(DEMO_TARGETS, 3)
    assert document["files"] == files and document["largest_over_mean"] == 3.0
    holder = next(i for i, names in enumerate(split(DEMO_TARGETS, 3)) if "hr/Policies" in names)
    assert f"shard {holder}/3: 2 targets, {files:,} files (1 of them synced here)" in text.stdout
    assert "  hr/Policies: " in text.stdout and "not synced here" in text.stdout
    assert "warning: shard" in text.stdout
    # check warns (it is not an error): all the files are in one shard of three.
    assert checked.exit_code == 0, checked.output
    warnings = json.loads(checked.stdout)["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith(f"shard {holder}/3 holds {files:,} of")


def test_no_warning_while_the_shards_are_within_twice_the_mean() -> None:
    even = [ShardLoad(0, 2, [("a/x", 100)]), ShardLoad(1, 2, [("b/y", 60)])]
    assert imbalance_warning(even, Path("sites.toml")) is None  # 100 / 80 = 1.25x
    skewed = [ShardLoad(i, 4, [(f"{i}/x", files)]) for i, files in enumerate([900, 50, 30, 20])]
    warning = imbalance_warning(skewed, Path("sites.toml"))
    assert warning is not None
    assert warning.startswith("shard 0/4 holds 900 of the 1,000 files the state stores of "
                              "sites.toml record (3.6x the mean of 4 shards)")  # fmt: skip
    assert imbalance_warning([ShardLoad(0, 1, [("a/x", None)])], None) is None


def test_watch_on_an_empty_shard_waits_without_signing_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _offline_config(tmp_path)  # nothing answers there: a sign-in would fail (exit 3)
    empty = next(i for i, names in enumerate(split(DEMO_TARGETS, 8)) if not names)
    options = Options(config, (), False, False, False, False, False, None, shard=f"{empty}/8")
    assert _watch_loop(options, 900.0, OneCycle()) == 0
    captured = capsys.readouterr()
    assert f"shard {empty}/8 holds none of the selected targets" in captured.out
    assert "cycle done at" in captured.err
