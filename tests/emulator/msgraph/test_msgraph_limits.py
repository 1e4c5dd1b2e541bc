"""SharePoint's limits as a sync meets them (graph-facts §17.8-17.10): a folder of more than
5,000 items listed completely by `children` and delta, a file over 4 GiB served by range, and
the 400-character path limit."""

from __future__ import annotations

import pytest

from ms365sync.emulator.tenant.base import MutationError
from ms365sync.emulator.tenant.content import BytesContent, GeneratedContent
from support.emulator_graph_world import World, make_world

BIG = 5 * 1024**3  # 5 GiB


@pytest.fixture
def world() -> World:
    return make_world()


def test_a_folder_of_6000_files_is_listed_completely_by_children(world: World) -> None:
    world.tenant.strict_names = False  # skip the sibling scan while building (names are unique)
    names = {f"file-{number:05d}.bin" for number in range(6000)}
    for name in names:
        world.tenant.add_file(world.drive, ["Big Folder", name], GeneratedContent(1, 1))
    url = world.item_path("Big Folder", "/children?$select=id,name&$top=999")
    listed: list[str] = []
    pages = 0
    while url:
        page = world.json(url)
        listed.extend(entry["name"] for entry in page["value"])
        url = page.get("@odata.nextLink", "")
        pages += 1
    assert pages == 7
    assert len(listed) == 6000
    assert set(listed) == names


def test_a_folder_of_6000_files_is_listed_completely_by_delta(world: World) -> None:
    world.tenant.strict_names = False
    for number in range(6000):
        name = f"file-{number:05d}.bin"
        world.tenant.add_file(world.drive, ["Big Folder", name], GeneratedContent(number, 1))
    entries = world.delta(f"/drives/{world.drive.id}/root/delta?$select=id,name,file").values
    files = {entry["name"] for entry in entries if entry["name"].startswith("file-")}
    assert len(files) == 6000


def test_a_5_gib_file_is_listed_and_served_by_range(world: World) -> None:
    content = GeneratedContent(42, BIG)
    world.tenant.add_file(world.drive, "Video/huge.bin", content)
    # Without `file` in $select the 5 GiB are never hashed (that takes ~25 s the first time).
    listed = world.json(world.item_path("Video/huge.bin") + "?$select=id,name,size")
    assert listed["size"] == BIG == 5368709120
    children = world.json(world.item_path("Video", "/children?$select=name,size"))["value"]
    assert [(child["name"], child["size"]) for child in children] == [("huge.bin", BIG)]
    location = world.get(world.item_path("Video/huge.bin", "/content")).headers["Location"]
    response = world.emulator.session().get(
        location, headers={"Range": "bytes=4294967396-4294967495"}
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 4294967396-4294967495/5368709120"
    assert response.content == b"".join(content.iter_range(4294967396, 4294967496))
    assert len(response.content) == 100


def test_a_path_over_400_characters_is_refused(world: World) -> None:
    folder = "a" * 200
    world.tenant.add_file(world.drive, [folder, "b" * 199], BytesContent(b"x"))  # 400: allowed
    with pytest.raises(MutationError, match="at most 400"):
        world.tenant.add_file(world.drive, [folder, "c" * 200], BytesContent(b"x"))
    with pytest.raises(MutationError, match="at most 400"):
        world.tenant.add_folder(world.drive, [folder, "d" * 150, "e" * 50])
    world.tenant.strict_names = False
    world.tenant.add_file(world.drive, [folder, "c" * 200], BytesContent(b"x"))
