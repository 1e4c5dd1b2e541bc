"""Items that trip sync tools (graph-facts §17) as Graph lists and serves them: files served
other than listed, listings without hashes, OneNote packages, malware, check-outs, locks,
files that vanish before their download, and empty files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ms365sync.emulator.tenant.base import MutationError
from ms365sync.emulator.tenant.content import BytesContent
from ms365sync.emulator.tenant.model import Hashes, Served
from ms365sync.emulator.tenant.qxh import QuickXor
from support.emulator_graph_world import ZERO_HASH, World, make_world

PATH = "Reports/Q1 summary.txt"
DATA = b"Revenue grew in the first quarter."
LOCKED_MESSAGE = "The file is currently checked out or locked for editing by another user."


@pytest.fixture
def world() -> World:
    return make_world()


def _qxh(data: bytes) -> str:
    hasher = QuickXor()
    hasher.update(data)
    return hasher.b64()


def _listed(world: World, path: str, select: str | None = None) -> Any:
    suffix = f"?$select={select}" if select else ""
    return world.json(world.item_path(path) + suffix)


def _location(world: World, path: str = PATH) -> str:
    response = world.get(world.item_path(path, "/content"))
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def _download(world: World, url: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    response = world.emulator.session().get(url, headers=headers)
    return response.status_code, response.content, dict(response.headers)


def _error(body: bytes) -> Any:
    return json.loads(body)["error"]


# ----------------------------------------------------------------- served other than listed


def test_a_rewritten_file_serves_the_same_other_bytes_on_every_download(world: World) -> None:
    world.tenant.set_served(world.drive, PATH, "rewritten")
    listed = _listed(world, PATH)
    assert listed["size"] == len(DATA)
    assert listed["file"]["hashes"]["quickXorHash"] == _qxh(DATA)
    status, first, _ = _download(world, _location(world))
    _, second, _ = _download(world, _location(world))
    assert status == 200
    assert first == second
    assert first.startswith(DATA)
    assert len(first) == len(DATA) + 12
    assert _qxh(first) != listed["file"]["hashes"]["quickXorHash"]


def test_a_rewritten_file_serves_ranges_of_the_served_bytes(world: World) -> None:
    world.tenant.set_served(world.drive, PATH, "rewritten")
    url = _location(world)
    _, whole, _ = _download(world, url)
    status, tail, headers = _download(world, url, Range=f"bytes={len(DATA) - 4}-")
    assert status == 206
    assert tail == whole[len(DATA) - 4 :]
    assert headers["Content-Range"] == f"bytes {len(DATA) - 4}-{len(whole) - 1}/{len(whole)}"


def test_a_rewritten_file_changes_its_served_bytes_with_its_content(world: World) -> None:
    world.tenant.set_served(world.drive, PATH, Served.REWRITTEN)
    _, before, _ = _download(world, _location(world))
    world.tenant.edit_file(world.drive, PATH, BytesContent(DATA))  # same bytes, new version
    _, after, _ = _download(world, _location(world))
    assert before[: len(DATA)] == after[: len(DATA)]
    assert before != after


def test_an_unstable_file_serves_different_bytes_on_each_download(world: World) -> None:
    world.tenant.set_served(world.drive, PATH, "unstable")
    url = _location(world)
    _, first, _ = _download(world, url)
    _, second, _ = _download(world, url)
    assert first != second
    assert first.startswith(DATA) and second.startswith(DATA)
    # A resumed range continues the last full download.
    _, tail, _ = _download(world, url, Range=f"bytes={len(DATA)}-")
    assert tail == second[len(DATA) :]


def test_an_unknown_served_value_is_refused(world: World) -> None:
    with pytest.raises(MutationError, match="served must be one of"):
        world.tenant.set_served(world.drive, PATH, "sometimes")


# ----------------------------------------------------------------- hashes


def test_a_file_can_be_listed_without_hashes_or_with_empty_hashes(world: World) -> None:
    world.tenant.set_hashes(world.drive, PATH, "missing")
    world.tenant.set_hashes(world.drive, "Notes/todo.md", Hashes.EMPTY)
    missing = _listed(world, PATH)["file"]
    empty = _listed(world, "Notes/todo.md")["file"]
    assert "hashes" not in missing
    assert missing["mimeType"] == "text/plain"
    assert empty["hashes"] == {}
    status, body, _ = _download(world, _location(world))
    assert (status, body) == (200, DATA)


def test_hash_settings_are_not_changes(world: World) -> None:
    link = world.delta().delta_link
    world.tenant.set_hashes(world.drive, PATH, "missing")
    world.tenant.set_served(world.drive, PATH, "rewritten")
    world.tenant.lock_file(world.drive, PATH)
    world.tenant.set_vanishes(world.drive, "Notes/todo.md", True)
    assert world.delta(link).values == []


# ----------------------------------------------------------------- packages


def test_a_onenote_notebook_is_a_package_with_listed_children(world: World) -> None:
    package = world.tenant.add_package(
        world.drive, "Notebooks/Team", sections=("Plans.one", "Notes.one")
    )
    listed = _listed(world, "Notebooks/Team")
    assert listed["package"] == {"type": "oneNote"}
    assert "folder" not in listed and "file" not in listed and "cTag" not in listed
    assert listed["size"] == sum(child.size for child in package.children.values())
    children = world.json(world.item_path("Notebooks/Team", "/children"))["value"]
    assert sorted(child["name"] for child in children) == [
        "Notes.one",
        "Open Notebook.onetoc2",
        "Plans.one",
    ]
    assert all("file" in child for child in children)
    delta_names = world.delta().names()
    assert {"Team", "Plans.one", "Notes.one", "Open Notebook.onetoc2"} <= set(delta_names)


def test_a_package_has_no_content_and_its_sections_are_rewritten(world: World) -> None:
    world.tenant.add_package(world.drive, "Team Notebook")
    response = world.get(world.item_path("Team Notebook", "/content"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "itemNotFound"
    section = "Team Notebook/Section 1.one"
    listed = _listed(world, section)
    _, body, _ = _download(world, _location(world, section))
    assert len(body) == listed["size"] + 12
    assert _qxh(body) != listed["file"]["hashes"]["quickXorHash"]


def test_package_is_kept_by_select(world: World) -> None:
    world.tenant.add_package(world.drive, "Team Notebook")
    listed = _listed(world, "Team Notebook", "id,name,package")
    assert listed["package"] == {"type": "oneNote"}
    assert "package" not in _listed(world, "Team Notebook", "id,name")


# ----------------------------------------------------------------- malware


def test_a_malware_flag_is_listed_and_refuses_downloads(world: World) -> None:
    url = _location(world)  # issued before the flag arrived
    link = world.delta().delta_link
    before = world.item(PATH)
    etag_v, ctag_v = before.etag_v, before.ctag_v
    world.tenant.flag_malware(world.drive, PATH, "Trojan:Win32/Example")
    listed = _listed(world, PATH)
    assert listed["malware"] == {"description": "Trojan:Win32/Example"}
    assert (world.item(PATH).etag_v, world.item(PATH).ctag_v) == (etag_v + 1, ctag_v)
    assert [entry["name"] for entry in world.delta(link).values if "file" in entry] == [
        "Q1 summary.txt"
    ]
    content = world.get(world.item_path(PATH, "/content"))
    assert content.status_code == 403
    assert content.json()["error"]["code"] == "malwareDetected"
    assert content.json()["error"]["message"] == "Malware detected"
    status, body, _ = _download(world, url)
    assert status == 403
    assert _error(body) == {"code": "malwareDetected", "message": "Malware detected"}


def test_clearing_malware_restores_downloads(world: World) -> None:
    world.tenant.flag_malware(world.drive, PATH)
    link = world.delta().delta_link
    world.tenant.clear_malware(world.drive, PATH)
    assert "malware" not in _listed(world, PATH)
    assert len(world.delta(link).values) >= 1
    assert _download(world, _location(world))[:2] == (200, DATA)


def test_malware_is_kept_by_select_only_when_named(world: World) -> None:
    world.tenant.flag_malware(world.drive, PATH)
    assert "malware" in _listed(world, PATH, "id,malware")
    assert "malware" not in _listed(world, PATH, "id,name")


# ----------------------------------------------------------------- check-out and locks


def test_a_checked_out_file_shows_publication_and_downloads_as_listed(world: World) -> None:
    link = world.delta().delta_link
    user = world.tenant.user("amy@contoso.onmicrosoft.com")
    world.tenant.check_out(world.drive, PATH, user.email)
    listed = _listed(world, PATH)
    assert listed["publication"] == {
        "level": "checkout",
        "versionId": "1.0",
        "checkedOutBy": {
            "user": {"email": user.email, "id": user.id, "displayName": user.display_name}
        },
    }
    assert listed["cTag"].endswith(',1"')
    assert any(entry["id"] == listed["id"] for entry in world.delta(link).values)
    assert _download(world, _location(world))[:2] == (200, DATA)


def test_publication_is_rendered_unasked_only_for_a_checked_out_file(world: World) -> None:
    assert "publication" not in _listed(world, PATH)
    assert _listed(world, PATH, "id,publication")["publication"] == {
        "level": "published",
        "versionId": "1.0",
    }
    world.tenant.check_out(world.drive, PATH, "amy@contoso.onmicrosoft.com")
    world.tenant.check_in(world.drive, PATH)
    assert "publication" not in _listed(world, PATH)


def test_a_locked_file_answers_423_on_content_and_on_its_url(world: World) -> None:
    url = _location(world)
    world.tenant.lock_file(world.drive, PATH)
    content = world.get(world.item_path(PATH, "/content"))
    assert content.status_code == 423
    error = content.json()["error"]
    assert (error["code"], error["message"]) == ("accessDenied", LOCKED_MESSAGE)
    assert error["innerError"]["code"] == "resourceLocked"
    status, body, _ = _download(world, url)
    assert status == 423
    assert _error(body)["innerError"] == {"code": "resourceLocked"}
    world.tenant.unlock_file(world.drive, PATH)
    assert _download(world, url)[:2] == (200, DATA)


# ----------------------------------------------------------------- vanishing items


def test_a_vanishing_file_is_deleted_by_its_first_download(world: World) -> None:
    listed = _listed(world, PATH)
    link = world.delta().delta_link
    world.tenant.set_vanishes(world.drive, PATH, True)
    status, body, _ = _download(world, listed["@microsoft.graph.downloadUrl"])
    assert status == 404
    assert _error(body)["code"] == "itemNotFound"
    assert world.get(f"/drives/{world.drive.id}/items/{listed['id']}").status_code == 404
    gone = world.delta(link).by_id()[listed["id"]]
    assert gone["deleted"] == {"state": "deleted"}


def test_a_vanishing_file_answers_404_at_content(world: World) -> None:
    item_id = world.item(PATH).id
    world.tenant.set_vanishes(world.drive, PATH)
    response = world.get(f"/drives/{world.drive.id}/items/{item_id}/content")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "itemNotFound"
    assert world.drive.find(PATH) is None


# ----------------------------------------------------------------- empty files


def test_an_empty_file_redirects_and_downloads_an_empty_body(world: World) -> None:
    listed = _listed(world, "empty.txt")
    assert listed["size"] == 0
    assert listed["file"]["hashes"]["quickXorHash"] == ZERO_HASH
    status, body, headers = _download(world, _location(world, "empty.txt"))
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == "0"
