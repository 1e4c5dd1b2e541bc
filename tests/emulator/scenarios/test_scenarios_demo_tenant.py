"""The bundled demo tenant has the shape the demo relies on, and its second round applies."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath

import pytest

from ms365sync.emulator.login.directory import SITES_FULLCONTROL_ALL
from ms365sync.emulator.scenarios.demo import (
    DEMO_APP,
    demo_scenario_path,
    demo_tenant_path,
    load_demo_tenant,
)
from ms365sync.emulator.scenarios.scenario import apply_scenario, load_scenario
from ms365sync.emulator.tenant.membership import site_group_user_ids
from ms365sync.emulator.tenant.model import Drive, GroupKind, Item, PrincipalKind, Role
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.emulator.tenant.quirks import item_quirks
from ms365sync.emulator.tenant.tenant import Tenant

NOW = 1_740_000_000.0
CLIENT_ID = "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31"


@pytest.fixture(scope="module")
def demo() -> Tenant:
    return load_demo_tenant(clock=lambda: NOW)


def libraries(tenant: Tenant) -> list[Drive]:
    return [drive for drive in tenant.drives() if not drive.system]


def files(tenant: Tenant) -> Iterator[tuple[Drive, Item]]:
    for drive in libraries(tenant):
        for item in drive.files():
            yield drive, item


def data(item: Item) -> bytes:
    assert item.content is not None
    return item.content.read_all()


def test_the_files_ship_inside_the_package() -> None:
    assert demo_tenant_path().is_file()
    assert demo_scenario_path().is_file()
    assert demo_tenant_path().parent.parent.name == "scenarios"
    assert demo_tenant_path().parent.parent.parent.name == "emulator"


def test_it_is_reproducible() -> None:
    first, second = load_demo_tenant(clock=lambda: NOW), load_demo_tenant(clock=lambda: NOW)

    def shape(tenant: Tenant) -> list[tuple[str, str, str]]:
        return [(d.id, i.id, i.content.sha1 if i.content else "") for d, i in files(tenant)]

    assert shape(first) == shape(second)
    assert first.tenant_id == second.tenant_id


def test_app_registration(demo: Tenant) -> None:
    app = demo.directory.apps[CLIENT_ID]
    assert app.display_name == DEMO_APP
    assert app.roles == [SITES_FULLCONTROL_ALL, "GroupMember.Read.All", "User.Read.All"]
    assert len(app.secrets) == 1
    assert app.secrets == load_demo_tenant().directory.apps[CLIENT_ID].secrets


def test_sites(demo: Tenant) -> None:
    paths = sorted(site.path for site in demo.sites.values())
    assert 2 <= len(paths) <= 3
    assert any(path.startswith("/sites/") for path in paths)
    assert any(path.startswith("/teams/") for path in paths)


def test_libraries(demo: Tenant) -> None:
    visible = libraries(demo)
    assert len(visible) >= 3
    assert any(drive.title != drive.url_segment for drive in visible)
    assert any(
        " " in name or not name.isascii()
        for drive in visible
        for name in (drive.title, drive.url_segment)
    )
    assert any(drive.system for drive in demo.drives())


def in_package(item: Item) -> bool:
    return any(node.package_type is not None for node in item.ancestors())


def test_about_fifty_realistic_files(demo: Tenant) -> None:
    found = [(d, i) for d, i in files(demo) if not in_package(i) and i.size > 0]
    assert 45 <= len(found) <= 60
    kinds = {PurePosixPath(item.name).suffix for _, item in found}
    assert {".md", ".txt", ".csv", ".json", ".html", ".pdf", ".docx", ".xlsx"} <= kinds
    assert all(200 <= item.size <= 8192 for _, item in found)
    assert max(item.path.count("/") for _, item in found) >= 2  # nested folders
    assert any(not item.path.isascii() for _, item in found)


def test_file_contents_match_their_types(demo: Tenant) -> None:
    for _, item in files(demo):
        raw = data(item)
        suffix = PurePosixPath(item.name).suffix
        if in_package(item) or not raw:
            continue  # a notebook's sections are opaque; the empty file is empty
        if suffix in (".md", ".txt", ".csv", ".json", ".html"):
            text = raw.decode("utf-8")
            if suffix == ".json":
                json.loads(text)
            if suffix == ".csv":
                rows = list(csv.reader(io.StringIO(text)))
                assert len({len(row) for row in rows}) == 1, item.path
        elif suffix == ".pdf":
            assert raw.startswith(b"%PDF-1.4") and raw.endswith(b"%%EOF\n")
        else:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                assert "[Content_Types].xml" in archive.namelist()


def test_people(demo: Tenant) -> None:
    assert len(demo.users) >= 5
    assert len(demo.groups) == 2


def grant_kinds(item: Item) -> set[PrincipalKind]:
    return {kind for kind, _ in (item.grants or {})}


def test_unique_permissions(demo: Tenant) -> None:
    own = [(drive, item) for drive in libraries(demo) for item in drive.root.walk()]
    own = [(drive, item) for drive, item in own if item.grants is not None and not item.is_root]
    assert any(i.is_folder and PrincipalKind.GROUP in grant_kinds(i) for _, i in own)
    assert any(not i.is_folder and PrincipalKind.USER in grant_kinds(i) for _, i in own)

    def drops_visitors(drive: Drive, item: Item) -> bool:
        visitors = demo.principal(drive.site, "sitegroup:Visitors")
        parent = item.parent
        assert parent is not None
        return visitors not in (item.grants or {}) and visitors in (
            parent.permission_root().grants or {}
        )

    assert any(drops_visitors(drive, item) for drive, item in own)


def test_a_guest_and_a_library_every_employee_may_read(demo: Tenant) -> None:
    jordan = demo.user("jordan.blake@brightline.example")
    assert jordan.is_guest
    contacts = demo.item(demo.library("marketing", "Documents"), "Agency/agency-contacts.json")
    assert (PrincipalKind.USER, jordan.id) in (contacts.grants or {})
    policies = demo.library("hr", "Policies")
    assert (PrincipalKind.ALL_MEMBERS, "") in (policies.root.grants or {})
    for item in policies.files():
        labels = expected_labels(demo, policies, item)
        assert "Everyone except external users:::View" in labels


def test_sharing_links(demo: Tenant) -> None:
    links = [link for drive in libraries(demo) for link in drive.links.values()]
    kinds = {(link.type, link.scope) for link in links}
    assert {("view", "organization"), ("view", "anonymous"), ("edit", "users")} <= kinds
    assert all(link.recipients for link in links if link.scope == "users")


def test_labels_follow_the_original_format(demo: Tenant) -> None:
    drive = demo.library("marketing", "Documents")
    item = demo.item(drive, "Agency/contract-summary.txt")
    assert expected_labels(demo, drive, item) == [
        "Ben Carter:::View",
        "Marketing Members:::Edit",
        "Marketing Owners:::Full Control",
        "Marketing Visitors:::View",
    ]


def test_the_second_round(demo: Tenant) -> None:
    tenant = load_demo_tenant(clock=lambda: NOW)
    scenario = load_scenario(demo_scenario_path())
    ops = [change.op for change in scenario.changes]
    for op in ("add_file", "edit_file", "rename", "move", "delete", "grant", "revoke", "add_link"):
        assert op in ops
    drive = tenant.library("marketing", "Shared Documents")
    before = {item.path: item.id for item in drive.files()}
    links_before = sum(len(d.links) for d in tenant.drives())

    lines = apply_scenario(tenant, scenario)

    assert len(lines) == len(scenario.changes)
    after = {item.path: item.id for item in drive.files()}
    added = set(after) - set(before)
    assert "Meeting Notes/2025-02-11 weekly sync.md" in added
    renamed = "Campaigns/2025 Spring Launch/press-release-final.docx"
    assert after[renamed] == before["Campaigns/2025 Spring Launch/press-release-draft.docx"]
    assert (
        after["Reports/survey-results-2024.csv"]
        == before["Market Research/survey-results-2024.csv"]
    )
    assert "Meeting Notes/2025-01-14 weekly sync.md" not in after
    brief = data(tenant.item(drive, "Campaigns/2025 Spring Launch/brief.md"))
    assert brief.endswith(b"creative review moved forward to 28 February.\n")
    contract = tenant.item(drive, "Agency/contract-summary.txt")
    assert "Ben Carter:::View" not in expected_labels(tenant, drive, contract)
    analytics = tenant.item(drive, "Reports/web-analytics-2024.csv")
    grants = analytics.grants or {}
    assert grants.get((PrincipalKind.USER, tenant.user("Farid Rahimi").id)) is Role.READ
    assert sum(len(d.links) for d in tenant.drives()) == links_before + 1


def test_who_belongs_to_what(demo: Tenant) -> None:
    """A Microsoft 365 group owns the Marketing site and has a guest from the agency; the
    other sites' groups hold people, a security group and Everyone except external users."""
    team = demo.group("Marketing Team")
    assert team.kind is GroupKind.MICROSOFT_365 and len(team.owners) == 1
    jordan = demo.user("jordan.blake@brightline.example")
    assert jordan.is_guest and jordan.id in team.members
    marketing = demo.site_by_path("contoso.sharepoint.com", "/sites/marketing")
    hr = demo.site_by_path("contoso.sharepoint.com", "/sites/hr")
    assert marketing is not None and hr is not None
    assert marketing.group_id == team.id
    visitors = site_group_user_ids(demo, marketing.groups[Role.READ])
    assert jordan.id not in visitors and len(visitors) == 6  # every member, no guest
    hr_members = site_group_user_ids(demo, hr.groups[Role.WRITE])
    assert {demo.users[i].display_name for i in hr_members} == {"Eva Lindqvist", "Farid Rahimi"}


def test_one_of_each_troublesome_item_a_download_mirror_meets(demo: Tenant) -> None:
    """graph-facts §17: rewritten, listed without hashes, empty, a notebook, malware, checked
    out, all in HR's Policies; nothing locked or vanishing (they would fail every demo run)."""
    policies = demo.library("hr", "Policies")
    kinds = [quirk for item in policies.root.walk() for quirk in item_quirks(item)]
    expected = ["rewritten", "missing-hash", "zero-byte", "package", "malware", "checked-out"]
    expected += ["rewritten", "rewritten"]  # the notebook's section and table of contents
    assert sorted(kinds) == sorted(expected)
    notebook = demo.item(policies, "HR Notebook")
    assert sorted(notebook.children) == ["Open Notebook.onetoc2", "Policy questions.one"]
    every = [
        quirk for drive in demo.drives() for i in drive.root.walk() for quirk in item_quirks(i)
    ]
    assert "locked" not in every and "vanishes" not in every
    assert every.count("malware") == 1
