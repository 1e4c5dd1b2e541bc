"""The grants file `.permissions.grants.json`: id-keyed permissions beside .permissions.json,
written before the log, completed after a crash, rewritten only when it changes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from ms365sync.emulator import Role
from ms365sync.errors import LocalStorageError
from ms365sync.graph.convert import level
from ms365sync.outputs.grants import GrantsFile
from ms365sync.sync import publish
from ms365sync.target import GRANTS_FILE
from support.demo import BEN, CHLOE, MARKETING, PRODUCT, Demo

DANIEL = "daniel.okafor@contoso.onmicrosoft.com"


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    return Demo.create(tmp_path)


def _grants(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = document["files"][path]["grants"]
    return result


def test_every_grant_is_keyed_by_a_stable_id_and_marked_own_or_inherited(demo: Demo) -> None:
    demo.sync("marketing")
    document = demo.grants_file()
    GrantsFile.model_validate(document)
    tenant, drive = demo.emulator.tenant, demo.drive()
    site_id = drive.site.id
    assert document["target"] == {
        "name": MARKETING,
        "site_id": site_id,
        "drive_id": drive.id,
    }
    # The same files as .permissions.json, and the same permissions, label for label.
    labels = json.loads((demo.root() / ".permissions.json").read_text("utf-8"))
    assert set(document["files"]) == set(labels)
    for path, entry in document["files"].items():
        assert entry["item_id"] == tenant.item(drive, path).id
        named = {f"{g['display_name']}:::{level(g['role'])}" for g in entry["grants"]}
        assert sorted(named) == labels[path]

    # A file with a grant of its own: every grant is its own, the user by Entra object id.
    contract = document["files"]["Agency/contract-summary.txt"]
    assert "inherited_from" not in contract
    assert all(g["inherited"] is False for g in contract["grants"])
    (ben,) = [g for g in contract["grants"] if g["kind"] == "user"]
    assert ben == {
        "kind": "user",
        "id": demo.user_id(BEN),
        "display_name": "Ben Carter",
        "role": "read",
        "inherited": False,
        "email": BEN,
        "login_name": f"i:0#.f|membership|{BEN}",
    }
    # Site groups: their site-local number qualified by the site id.
    site_groups = {
        g["display_name"]: g["id"] for g in contract["grants"] if g["kind"] == "site_group"
    }
    numbers = {g.title: g.id for g in drive.site.groups.values()}
    assert site_groups == {title: f"{site_id}/sitegroups/{n}" for title, n in numbers.items()}

    # Files below a shared folder inherit its grants (the folder's item id says from where).
    calendar = document["files"]["Campaigns/2025 Spring Launch/social-calendar.csv"]
    assert calendar["inherited_from"] == tenant.item(drive, "Campaigns").id
    assert all(g["inherited"] is True for g in calendar["grants"])
    (team,) = [g for g in calendar["grants"] if g["kind"] == "group"]
    assert (team["id"], team["role"]) == (demo.group_id("Marketing Team"), "write")
    # ... and files of the library root inherit from the root.
    assert document["files"]["README.md"]["inherited_from"] == drive.root.id

    # A sharing link: its permission id, type and scope.
    (link,) = [
        g for g in _grants(document, "Reports/Q4 2024 marketing report.pdf") if g["kind"] == "link"
    ]
    (emulated,) = [lk for lk in drive.links.values() if lk.scope == "organization"]
    assert link["id"] == emulated.id
    assert (link["link_type"], link["link_scope"], link["recipients"]) == (
        "view",
        "organization",
        [],
    )


def test_a_users_link_lists_its_recipients_by_user_id(demo: Demo) -> None:
    demo.sync("product")
    grants = _grants(demo.grants_file(PRODUCT), "Specs/atlas-2.0-requirements.docx")
    (link,) = [g for g in grants if g["kind"] == "link"]
    assert link["link_scope"] == "users" and link["role"] == "write"
    assert link["recipients"] == sorted([demo.user_id(CHLOE), demo.user_id(DANIEL)])


def test_the_demos_guest_organization_link_and_all_members_grant(demo: Demo) -> None:
    demo.sync("marketing", "hr/Policies")
    contacts = _grants(demo.grants_file(), "Agency/agency-contacts.json")
    (guest,) = [g for g in contacts if g["kind"] == "guest"]
    jordan = "jordan.blake@brightline.example"
    assert (guest["id"], guest["email"]) == (demo.user_id(jordan), jordan)
    assert "#ext#@contoso.onmicrosoft.com" in guest["login_name"]
    report = _grants(demo.grants_file(), "Reports/Q4 2024 marketing report.pdf")
    (link,) = [g for g in report if g["kind"] == "link"]
    assert (link["link_scope"], link["audience"]) == ("organization", "organization")
    policies = demo.grants_file("hr/Policies")
    for path, entry in policies["files"].items():
        (everyone,) = [g for g in entry["grants"] if g["kind"] == "all_members"]
        assert everyone["display_name"] == "Everyone except external users", path
        assert everyone["id"].startswith("c:0-.f|rolemanager|spo-grid-all-users/")
    labels = json.loads((demo.root("hr/Policies") / ".permissions.json").read_text("utf-8"))
    assert all("Everyone except external users:::View" in found for found in labels.values())


def test_a_revoked_grant_leaves_the_grants_file_and_permissions_json_keeps_its_format(
    demo: Demo,
) -> None:
    demo.sync("marketing")
    tenant, drive = demo.emulator.tenant, demo.drive()
    tenant.revoke(drive, "Agency/contract-summary.txt", f"user:{BEN}")
    tenant.grant(drive, "Reports/web-analytics-2024.csv", f"user:{CHLOE}", Role.READ)
    demo.sync("marketing")
    document = demo.grants_file()
    assert demo.user_id(BEN) not in {
        g["id"] for g in _grants(document, "Agency/contract-summary.txt")
    }
    chloe = [g for g in _grants(document, "Reports/web-analytics-2024.csv") if g["kind"] == "user"]
    assert [(g["id"], g["role"], g["inherited"]) for g in chloe] == [
        (demo.user_id(CHLOE), "read", False)
    ]
    labels = json.loads((demo.root() / ".permissions.json").read_text("utf-8"))
    assert all(isinstance(v, list) and all(":::" in x for x in v) for v in labels.values())
    assert "Ben Carter:::View" not in labels["Agency/contract-summary.txt"]
    assert "Chloé Martin:::View" in labels["Reports/web-analytics-2024.csv"]


def test_a_grant_that_changes_no_label_still_reaches_the_grants_file(tmp_path: Path) -> None:
    # Adding a person to a "users" link changes no "Name:::Level" label and, in SharePoint,
    # produces no delta entry (graph-facts §5.8): the permission sweep finds it.
    demo = Demo.create(tmp_path, permission_sweep="always")
    demo.sync("product")
    labels_before = (demo.root(PRODUCT) / ".permissions.json").read_bytes()
    drive = demo.drive("product")
    demo.emulator.tenant.add_link_recipient(
        drive, "Specs/atlas-2.0-requirements.docx", "edit/users", BEN
    )
    demo.sync("product")
    (link,) = [
        g
        for g in _grants(demo.grants_file(PRODUCT), "Specs/atlas-2.0-requirements.docx")
        if g["kind"] == "link"
    ]
    assert demo.user_id(BEN) in link["recipients"]
    assert (demo.root(PRODUCT) / ".permissions.json").read_bytes() == labels_before


def test_the_streamed_exports_are_the_text_of_their_published_models(demo: Demo) -> None:
    demo.sync(MARKETING)
    raw = (demo.root() / GRANTS_FILE).read_bytes()
    model = GrantsFile.model_validate_json(raw)
    dumped = json.dumps(model.model_dump(exclude_none=True), indent=2, ensure_ascii=False)
    assert raw.decode("utf-8") == dumped + "\n"
    labels = (demo.root() / ".permissions.json").read_bytes()
    ordered = json.dumps(json.loads(labels), indent=2, ensure_ascii=False, sort_keys=True)
    assert labels.decode("utf-8") == ordered + "\n"


def test_the_grants_file_is_written_before_the_log(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    real = publish.write_atomic

    def noting(path: Path, data: bytes | Iterable[bytes], **options: Any) -> None:
        name = Path(path).name
        order.append(name if name.startswith(".") else name.split("_")[0])
        real(path, data, **options)

    monkeypatch.setattr(publish, "write_atomic", noting)
    demo.sync(MARKETING)
    # The marketing library reads metadata: its sidecar comes before the log too.
    assert order == [".permissions.grants.json", ".metadata.json", "sync", ".permissions.json"]


def test_an_export_that_crashed_after_the_commit_is_completed_next_start(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = publish.write_atomic
    calls: list[Path] = []

    def crash_once(path: Path, data: bytes | Iterable[bytes], **options: Any) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise LocalStorageError("simulated crash while exporting", path=str(path))
        real(path, data, **options)

    monkeypatch.setattr(publish, "write_atomic", crash_once)
    target = next(t for t in demo.config.targets() if t.name == MARKETING)
    coordinator_report = _sync_allowing_failure(demo, target.name)
    assert not coordinator_report
    root = demo.root()
    assert not (root / ".permissions.grants.json").exists() and demo.logs() == []
    demo.sync("marketing")  # nothing changed remotely: the committed run's exports are written
    (log,) = demo.logs()
    added = json.loads(log.read_text("utf-8"))["changes"]["added"]
    assert set(added) == set(demo.grants_file()["files"])


def _sync_allowing_failure(demo: Demo, target: str) -> bool:
    from ms365sync.coordinator import Coordinator

    coordinator = Coordinator(demo.config, session_factory=demo.emulator.session)
    try:
        return coordinator.run(demo.config.select([target])).ok
    finally:
        coordinator.close()


def test_an_unchanged_file_is_not_rewritten_and_a_damaged_one_is(demo: Demo) -> None:
    demo.sync("marketing")
    path = demo.root() / ".permissions.grants.json"
    before = path.stat().st_mtime_ns, path.read_bytes()
    demo.sync("marketing")
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    path.write_text("{", encoding="utf-8")
    demo.sync("marketing")
    assert path.read_bytes() == before[1]
    path.unlink()
    demo.sync("marketing")
    assert path.read_bytes() == before[1]
