"""Finding a target's site and library in whole syncs: by path, display name, title or URL
segment, team sites too; an unknown site or library is refused with what exists; once found,
a renamed library keeps syncing into the same folder."""

from __future__ import annotations

import pytest

from ms365sync.emulator import BytesContent
from ms365sync.errors import ResolutionError
from ms365sync.target import SiteRef
from support.harness import FIRST_FILES, HOST, World


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
