"""The target's layout on disk, log naming, and resolving the target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ms365sync.emulator.content import BytesContent
from ms365sync.errors import ResolutionError
from ms365sync.sync import syncer
from ms365sync.target import SiteRef
from support.harness import FIRST_FILES, HOST, World

STAMP = "2024-01-20_14-30-45"


def test_target_layout(world: World) -> None:
    result = world.ok()
    root = world.root
    assert sorted(p.name for p in root.iterdir()) == [
        ".ms365sync",
        ".permissions.grants.json",
        ".permissions.json",
        "data",
        "sync_logs",
    ]
    assert world.data() == FIRST_FILES
    assert (root / ".ms365sync" / "state.db").is_file()
    (log,) = world.logs()
    assert re.fullmatch(r"sync_changes_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.json", log.name)
    assert result.log_path == log
    assert json.loads(log.read_text())["timestamp"] == log.name[len("sync_changes_") : -5]
    assert set(world.permissions_json()) == set(FIRST_FILES)


def test_logs_never_overwrite_each_other(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syncer, "timestamp", lambda _now: STAMP)
    first = world.ok()
    world.tenant.add_file(world.drive, "second.txt", BytesContent(b"2"))
    second = world.ok()
    # Someone else's file with the next free name is respected as well.
    foreign = world.root / "sync_logs" / f"sync_changes_{STAMP}_3.json"
    foreign.write_text("not ours")
    world.tenant.add_file(world.drive, "third.txt", BytesContent(b"3"))
    third = world.ok()
    assert [p.name for p in (first.log_path, second.log_path, third.log_path) if p] == [
        f"sync_changes_{STAMP}.json",
        f"sync_changes_{STAMP}_2.json",
        f"sync_changes_{STAMP}_4.json",
    ]
    assert foreign.read_text() == "not ours"
    assert set(json.loads(first.log_path.read_text())["changes"]["added"]) == set(FIRST_FILES)  # type: ignore[union-attr]
    assert set(json.loads(second.log_path.read_text())["changes"]["added"]) == {"second.txt"}  # type: ignore[union-attr]
    assert set(json.loads(third.log_path.read_text())["changes"]["added"]) == {"third.txt"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("site", "library"),
    [
        (SiteRef(host=HOST, path="/sites/marketing"), "Documents"),
        (SiteRef(host=HOST, path="/sites/Marketing/"), "documents"),
        (SiteRef(display_name="Marketing"), "Documents"),
        (SiteRef(host=HOST, display_name="marketing"), "Shared Documents"),
        (SiteRef(host=HOST, path="/sites/marketing"), "Shared Documents"),
    ],
)
def test_resolution_by_path_name_title_or_url(world: World, site: SiteRef, library: str) -> None:
    result = world.ok(site=site, library=library)
    assert result.log is not None and result.log.target.drive_id == world.drive.id
    assert world.data() == FIRST_FILES


def test_team_site_by_path(world: World) -> None:
    site = world.tenant.add_site(HOST, "/teams/eng", "Engineering")
    drive = world.tenant.add_library(site, "Specs")
    world.tenant.add_file(drive, "design.md", BytesContent(b"design"))
    world.ok(site=SiteRef(host=HOST, path="/teams/eng"), library="Specs")
    assert world.data() == {"design.md": b"design"}


def test_unknown_site_lists_what_exists(world: World) -> None:
    result = world.sync(site=SiteRef(host=HOST, path="/sites/nope"))
    assert not result.ok
    assert isinstance(result.error, ResolutionError)
    assert result.error.kind == "site"
    assert any("Marketing" in choice for choice in result.error.available)
    assert "Marketing" in str(result.error)
    by_name = world.sync(site=SiteRef(display_name="Sales"))
    assert isinstance(by_name.error, ResolutionError)
    assert any("Marketing" in choice for choice in by_name.error.available)
    assert not world.root.joinpath("data").exists()


def test_unknown_library_lists_the_libraries(world: World) -> None:
    result = world.sync(library="Reports")
    assert isinstance(result.error, ResolutionError)
    assert result.error.kind == "library"
    assert set(result.error.available) == {"Archive", "Documents"}
    assert "'Archive'" in str(result.error) and "'Documents'" in str(result.error)
    assert not world.root.joinpath("data").exists()


def test_renamed_library_keeps_syncing_into_the_same_folder(world: World) -> None:
    world.ok()
    world.tenant.rename_library(world.drive, "Team Documents")
    world.tenant.add_file(world.drive, "after-rename.txt", BytesContent(b"x"))
    world.recorder.reset()
    same_spec = world.ok()
    assert same_spec.log is not None
    assert set(same_spec.log.changes.added) == {"after-rename.txt"}
    assert not same_spec.log.changes.deleted
    assert same_spec.log.target.library == "Team Documents"
    assert len(world.recorder.downloads()) == 1
    # The configuration may follow the rename: the remembered drive keeps its delta link.
    world.tenant.add_file(world.drive, "renamed-config.txt", BytesContent(b"y"))
    world.recorder.reset()
    new_name = world.ok(library="Team Documents")
    assert new_name.log is not None
    assert set(new_name.log.changes.added) == {"renamed-config.txt"}
    assert not new_name.log.full_resync
    assert len(world.recorder.downloads()) == 1
    assert world.data() == {
        **FIRST_FILES,
        "after-rename.txt": b"x",
        "renamed-config.txt": b"y",
    }


def test_state_lives_under_the_local_root(world: World, tmp_path: Path) -> None:
    world.ok()
    # Nothing is written outside the local root.
    outside = sorted(p.name for p in tmp_path.iterdir())
    assert outside == ["target"]
