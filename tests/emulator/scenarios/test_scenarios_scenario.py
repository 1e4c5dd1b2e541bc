"""Scenario files: every op's effect, the dry run, atomicity and the one-line errors."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
import tomli_w

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.scenarios.scenario import apply_scenario, load_scenario, parse_scenario
from ms365sync.emulator.tenant.content import BytesContent
from ms365sync.emulator.tenant.model import Drive, PrincipalKind, Role
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.emulator.tenant.tenant import MutationError, PathLike, Tenant

NOW = 1_700_000_000.0
ALICE = "alice@contoso.onmicrosoft.com"
BOB = "bob@contoso.onmicrosoft.com"
HEADER = 'site = "marketing"\nlibrary = "Documents"\n'


def make_tenant(*, strict_names: bool = True) -> Tenant:
    """Two sites; marketing's Documents holds Reports/q1.md (with an org link), old.txt, Archive."""
    tenant = Tenant(seed=11, clock=lambda: NOW, strict_names=strict_names)
    tenant.add_app("sync", client_id="11111111-2222-3333-4444-555555555555", secret="s")
    tenant.add_user("Alice", ALICE)
    tenant.add_user("Bob", BOB)
    tenant.add_group("Sales", "sales@contoso.onmicrosoft.com")
    marketing = tenant.add_site("contoso.sharepoint.com", "/sites/marketing", "Marketing")
    product = tenant.add_site("contoso.sharepoint.com", "/teams/product", "Product")
    docs = tenant.add_library(marketing, "Documents", "Shared Documents")
    tenant.add_library(product, "Documents", "Shared Documents")
    tenant.add_file(docs, "Reports/q1.md", BytesContent(b"# Q1\n"))
    tenant.add_file(docs, "Reports/old.txt", BytesContent(b"old"))
    tenant.add_folder(docs, "Archive")
    tenant.add_link(docs, "Reports/q1.md", "view", "organization")
    return tenant


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant()


def docs_of(tenant: Tenant) -> Drive:
    return tenant.library("marketing", "Documents")


def run(tenant: Tenant, body: str, *, header: str = HEADER) -> list[str]:
    return apply_scenario(tenant, parse_scenario(header + body, name="scenario.toml"))


def labels(tenant: Tenant, path: str) -> list[str]:
    drive = docs_of(tenant)
    return expected_labels(tenant, drive, tenant.item(drive, path))


def fingerprint(tenant: Tenant) -> object:
    """Everything a scenario could change, to prove a refused one changed nothing."""
    return (
        sorted(tenant.users),
        sorted(tenant.groups),
        [(d.id, d.title, d.journal.seq, d.resync_pending) for d in tenant.drives()],
        [sorted(item.path for item in d.root.walk()) for d in tenant.drives()],
        [sorted(app.blocked_sites) for app in tenant.directory.apps.values()],
    )


# ----------------------------------------------------------------------------- content ops


def test_add_file_with_every_content_kind(tenant: Tenant) -> None:
    encoded = base64.b64encode(b"\x00\x01binary").decode()
    lines = run(
        tenant,
        f"""
[[change]]
op = "add_file"
path = "New/notes.txt"
text = "héllo"
[[change]]
op = "add_file"
path = "New/blob.bin"
base64 = "{encoded}"
[[change]]
op = "add_file"
path = "New/gen.dat"
size = 70000
seed = 5
[[change]]
op = "add_file"
path = "New/words.log"
size = 300
text_like = true
[[change]]
op = "add_file"
path = "New/report.pdf"
pdf = "Title\\nBody"
[[change]]
op = "add_file"
path = "New/memo.docx"
docx = ["Heading", "Body"]
[[change]]
op = "add_file"
path = "New/sheet.xlsx"
xlsx = [["a", 1], ["b", 2.5]]
[[change]]
op = "add_file"
path = "New/custom"
text = "x"
mime_type = "text/x-custom"
""",
    )
    drive = docs_of(tenant)

    def data(path: str) -> bytes:
        content = tenant.item(drive, path).content
        assert content is not None
        return content.read_all()

    assert data("New/notes.txt") == "héllo".encode()
    assert data("New/blob.bin") == b"\x00\x01binary"
    assert len(data("New/gen.dat")) == 70000
    assert data("New/words.log").isascii()
    assert data("New/report.pdf").startswith(b"%PDF-1.4")
    assert data("New/memo.docx").startswith(b"PK")
    assert data("New/sheet.xlsx").startswith(b"PK")
    assert tenant.item(drive, "New/custom").mime_type == "text/x-custom"
    assert tenant.item(drive, "New/memo.docx").mime_type.endswith("wordprocessingml.document")
    assert len(lines) == 8
    assert lines[0] == "marketing/Shared Documents: added file 'New/notes.txt' (6 bytes)"


def test_generated_content_defaults_its_seed_to_the_path(tenant: Tenant) -> None:
    body = '[[change]]\nop = "add_file"\npath = "{}"\nsize = 4096\n'
    run(tenant, body.format("a.bin") + body.format("b.bin"))
    other = make_tenant()
    run(other, body.format("a.bin"))
    drive, other_drive = docs_of(tenant), docs_of(other)

    def sha(t: Tenant, d: Drive, path: str) -> str:
        content = t.item(d, path).content
        assert content is not None
        return content.sha1

    assert sha(tenant, drive, "a.bin") == sha(other, other_drive, "a.bin")
    assert sha(tenant, drive, "a.bin") != sha(tenant, drive, "b.bin")


def test_segments_address_hostile_names() -> None:
    tenant = make_tenant(strict_names=False)
    run(tenant, '[[change]]\nop = "add_file"\nsegments = ["odd", "a/b: c?.txt"]\ntext = "x"\n')
    assert "a/b: c?.txt" in tenant.item(docs_of(tenant), "odd").children
    run(tenant, '[[change]]\nop = "delete"\nsegments = ["odd", "a/b: c?.txt"]\n')
    assert tenant.item(docs_of(tenant), "odd").children == {}


def test_edit_file_replaces_content_and_changes_both_tags(tenant: Tenant) -> None:
    item = tenant.item(docs_of(tenant), "Reports/q1.md")
    etag, ctag = item.etag_v, item.ctag_v
    run(tenant, '[[change]]\nop = "edit_file"\npath = "Reports/q1.md"\ntext = "new"\n')
    assert item.content is not None
    assert item.content.read_all() == b"new"
    assert (item.etag_v, item.ctag_v) == (etag + 1, ctag + 1)


def test_edit_file_append_adds_to_the_current_bytes(tenant: Tenant) -> None:
    lines = run(
        tenant,
        '[[change]]\nop = "edit_file"\npath = "Reports/q1.md"\nappend = "more ✓\\n"\n',
    )
    item = tenant.item(docs_of(tenant), "Reports/q1.md")
    assert item.content is not None
    assert item.content.read_all() == "# Q1\nmore ✓\n".encode()
    assert lines == ["marketing/Shared Documents: edited 'Reports/q1.md' (now 14 bytes)"]


def test_touch_changes_the_etag_only(tenant: Tenant) -> None:
    item = tenant.item(docs_of(tenant), "Reports/old.txt")
    etag, ctag = item.etag_v, item.ctag_v
    run(tenant, '[[change]]\nop = "touch"\npath = "Reports/old.txt"\n')
    assert (item.etag_v, item.ctag_v) == (etag + 1, ctag)


def test_add_folder_creates_parents(tenant: Tenant) -> None:
    run(tenant, '[[change]]\nop = "add_folder"\npath = "A/B/C"\n')
    assert tenant.item(docs_of(tenant), "A/B/C").is_folder


def test_rename_keeps_the_item(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    item_id = tenant.item(drive, "Reports/old.txt").id
    run(tenant, '[[change]]\nop = "rename"\npath = "Reports/old.txt"\nname = "older.txt"\n')
    assert tenant.item(drive, "Reports/older.txt").id == item_id
    assert drive.find("Reports/old.txt") is None


def test_move_with_and_without_a_new_name(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    item_id = tenant.item(drive, "Reports/old.txt").id
    run(
        tenant,
        """
[[change]]
op = "move"
path = "Reports/old.txt"
to = "Archive"
[[change]]
op = "move"
path = "Archive/old.txt"
to_segments = []
name = "top.txt"
""",
    )
    assert tenant.item(drive, "top.txt").id == item_id
    assert drive.find("Archive/old.txt") is None


def test_delete_leaves_a_tombstone(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    item_id = tenant.item(drive, "Reports/old.txt").id
    run(tenant, '[[change]]\nop = "delete"\npath = "Reports/old.txt"\n')
    assert drive.find("Reports/old.txt") is None
    assert item_id in drive.tombstones


# ----------------------------------------------------------------------------- permission ops


def test_grant_and_revoke(tenant: Tenant) -> None:
    run(
        tenant,
        f"""
[[change]]
op = "grant"
path = "Reports"
principal = "user:{ALICE}"
role = "write"
[[change]]
op = "grant"
path = "Reports"
principal = "group:Sales"
role = "read"
[[change]]
op = "revoke"
path = "Reports"
principal = "sitegroup:Visitors"
""",
    )
    assert labels(tenant, "Reports/old.txt") == [
        "Alice:::Edit",
        "Marketing Members:::Edit",
        "Marketing Owners:::Full Control",
        "Sales:::View",
    ]


def test_break_inheritance_copies_unless_told_not_to(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    run(
        tenant,
        """
[[change]]
op = "break_inheritance"
path = "Reports"
[[change]]
op = "break_inheritance"
path = "Archive"
copy = false
""",
    )
    assert tenant.item(drive, "Reports").grants == drive.root.grants
    assert tenant.item(drive, "Archive").grants == {}
    run(tenant, '[[change]]\nop = "restore_inheritance"\npath = "Reports"\n')
    assert tenant.item(drive, "Reports").grants is None


def test_links_add_remove_and_recipients(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    run(
        tenant,
        f"""
[[change]]
op = "add_link"
path = "Reports/old.txt"
type = "edit"
scope = "users"
recipients = ["{ALICE}"]
[[change]]
op = "add_link_recipient"
path = "Reports/old.txt"
link = "edit/users"
user = "Bob"
[[change]]
op = "remove_link"
path = "Reports/q1.md"
link = "view/organization"
""",
    )
    link = next(link for link in drive.links.values() if link.scope == "users")
    assert link.recipients == [tenant.user(ALICE).id, tenant.user(BOB).id]
    assert "Sharing Link (edit, users):::Edit" in labels(tenant, "Reports/old.txt")
    assert not any(label.startswith("Sharing Link") for label in labels(tenant, "Reports/q1.md"))


def test_remove_link_by_id(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    (link_id,) = list(drive.links)
    run(tenant, f'[[change]]\nop = "remove_link"\npath = "Reports/q1.md"\nlink = "{link_id}"\n')
    grants = tenant.item(drive, "Reports/q1.md").grants
    assert grants is not None
    assert (PrincipalKind.LINK, link_id) not in grants


# ----------------------------------------------------------------------------- tenant-level ops


def test_directory_changes_are_usable_by_later_changes(tenant: Tenant) -> None:
    run(
        tenant,
        """
[[change]]
op = "add_user"
name = "Carol"
email = "carol@contoso.onmicrosoft.com"
[[change]]
op = "add_group"
name = "Legal"
email = "legal@contoso.onmicrosoft.com"
[[change]]
op = "grant"
path = "Archive"
principal = "user:carol@contoso.onmicrosoft.com"
role = "owner"
[[change]]
op = "grant"
path = "Archive"
principal = "group:Legal"
role = "read"
""",
    )
    grants = tenant.item(docs_of(tenant), "Archive").grants
    assert grants is not None
    assert grants[(PrincipalKind.USER, tenant.user("Carol").id)] is Role.OWNER
    assert grants[(PrincipalKind.GROUP, tenant.group("Legal").id)] is Role.READ


def test_guests_site_users_and_the_tenant_wide_principals(tenant: Tenant) -> None:
    lines = run(
        tenant,
        """
[[change]]
op = "add_user"
name = "Jordan"
email = "jordan@brightline.example"
guest = true
[[change]]
op = "add_site_user"
name = "Old Account"
login = "i:0#.f|membership|old@contoso.onmicrosoft.com"
[[change]]
op = "grant"
path = "Archive"
principal = "user:jordan@brightline.example"
role = "read"
[[change]]
op = "grant"
path = "Archive"
principal = "siteuser:Old Account"
role = "read"
[[change]]
op = "grant"
path = "Archive"
principal = "everyone_except_external"
role = "read"
[[change]]
op = "grant"
path = "Archive"
principal = "groupowners:Sales"
role = "owner"
[[change]]
op = "revoke"
path = "Archive"
principal = "sitegroup:Visitors"
""",
    )
    assert lines[:2] == [
        "added guest Jordan <jordan@brightline.example>",
        "marketing: added site user Old Account (i:0#.f|membership|old@contoso.onmicrosoft.com)",
    ]
    assert tenant.user("Jordan").is_guest
    assert labels(tenant, "Archive") == [
        "Everyone except external users:::View",
        "Jordan:::View",
        "Marketing Members:::Edit",
        "Marketing Owners:::Full Control",
        "Old Account:::View",
        "Sales Owners:::Full Control",
    ]


def test_library_ops(tenant: Tenant) -> None:
    drive = docs_of(tenant)
    epoch = drive.journal.epoch
    run(
        tenant,
        """
[[change]]
op = "expire_delta_tokens"
[[change]]
op = "request_resync"
[[change]]
op = "rename_library"
name = "Team Files"
[[change]]
op = "touch"
library = "Team Files"
path = "Archive"
""",
    )
    assert drive.journal.epoch == epoch + 1
    assert drive.resync_pending
    assert (drive.title, drive.url_segment) == ("Team Files", "Shared Documents")
    run(tenant, '[[change]]\nop = "delete_library"\nlibrary = "Team Files"\n')
    assert tenant.drive(drive.id) is None


def test_site_access_for_every_app_or_one(tenant: Tenant) -> None:
    other = tenant.add_app("other")
    site = docs_of(tenant).site
    lines = run(tenant, '[[change]]\nop = "revoke_site_access"\n')
    assert all(site.id in app.blocked_sites for app in tenant.directory.apps.values())
    assert lines == ["marketing: revoked access of sync, other"]
    run(tenant, '[[change]]\nop = "restore_site_access"\napp = "other"\n')
    assert site.id not in other.blocked_sites
    assert site.id in tenant.directory.apps["11111111-2222-3333-4444-555555555555"].blocked_sites


def test_single_site_and_library_need_no_defaults() -> None:
    tenant = Tenant(seed=1, clock=lambda: NOW)
    site = tenant.add_site("contoso.sharepoint.com", "/sites/only", "Only")
    drive = tenant.add_library(site, "Documents", "Shared Documents")
    run(tenant, '[[change]]\nop = "add_file"\npath = "x.txt"\ntext = "x"\n', header="")
    assert drive.find("x.txt") is not None


def test_json_scenarios_and_files(tmp_path: Path, tenant: Tenant) -> None:
    document = {
        "site": "/sites/marketing",
        "library": "Shared Documents",
        "change": [{"op": "add_file", "path": "j.txt", "text": "from json"}],
    }
    path = tmp_path / "round2.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.name == str(path)
    assert apply_scenario(tenant, scenario) == [
        "marketing/Shared Documents: added file 'j.txt' (9 bytes)"
    ]
    toml_path = tmp_path / "round3.toml"
    toml_path.write_text(HEADER + '[[change]]\nop = "bogus"\n', encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_scenario(toml_path)
    assert str(raised.value).startswith(f"{toml_path}: change[0]: unknown op 'bogus'")


def test_load_scenario_refuses_other_suffixes_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"expected a \.toml or \.json file"):
        load_scenario(tmp_path / "scenario.yaml")
    with pytest.raises(InputError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


# ----------------------------------------------------------------------------- atomicity


def test_a_refused_scenario_changes_nothing(tenant: Tenant) -> None:
    before = fingerprint(tenant)
    with pytest.raises(InputError) as raised:
        run(
            tenant,
            """
[[change]]
op = "add_user"
name = "Carol"
email = "carol@contoso.onmicrosoft.com"
[[change]]
op = "delete"
path = "Reports/old.txt"
[[change]]
op = "rename_library"
name = "Renamed"
[[change]]
op = "touch"
path = "Reports/old.txt"
""",
        )
    assert str(raised.value) == (
        "scenario.toml: change[3].library: site '/sites/marketing' has no library "
        "'Documents'; known: Renamed; nothing was applied"
    )
    assert fingerprint(tenant) == before


def test_the_dry_run_follows_earlier_changes(tenant: Tenant) -> None:
    with pytest.raises(InputError) as raised:
        run(
            tenant,
            """
[[change]]
op = "move"
path = "Reports/old.txt"
to = "Archive"
[[change]]
op = "touch"
path = "Reports/old.txt"
""",
        )
    assert str(raised.value) == (
        "scenario.toml: change[1].path: Documents: no item at 'Reports/old.txt'; "
        "nothing was applied"
    )
    with pytest.raises(InputError, match=r"change\[1\]\.principal: 'Archive' grants nothing"):
        run(
            tenant,
            """
[[change]]
op = "break_inheritance"
path = "Archive"
copy = false
[[change]]
op = "revoke"
path = "Archive"
principal = "sitegroup:Owners"
""",
        )
    with pytest.raises(InputError, match=r"change\[1\]\.link: 'Reports/q1.md' has no sharing"):
        run(
            tenant,
            """
[[change]]
op = "remove_link"
path = "Reports/q1.md"
link = "view/organization"
[[change]]
op = "add_link_recipient"
path = "Reports/q1.md"
link = "view/organization"
user = "Bob"
""",
        )


def test_a_failure_the_dry_run_cannot_foresee_says_what_was_applied(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_touch(*args: object) -> None:
        raise MutationError("the disk is on fire")

    monkeypatch.setattr(tenant, "touch", broken_touch)
    with pytest.raises(InputError) as raised:
        run(
            tenant,
            """
[[change]]
op = "add_folder"
path = "One"
[[change]]
op = "add_folder"
path = "Two"
[[change]]
op = "touch"
path = "One"
[[change]]
op = "add_folder"
path = "Three"
""",
        )
    assert str(raised.value) == (
        "scenario.toml: change[2].path: the disk is on fire; "
        "change[0] to change[1] were applied, change[2] and later were not"
    )
    drive = docs_of(tenant)
    assert drive.find("Two") is not None
    assert drive.find("Three") is None


def test_changes_apply_under_the_tenant_lock(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real_touch = tenant.touch

    def watched_touch(drive: Drive, path: PathLike) -> object:
        def probe() -> None:
            acquired = tenant.lock.acquire(blocking=False)
            seen.append(acquired)
            if acquired:
                tenant.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return real_touch(drive, path)

    monkeypatch.setattr(tenant, "touch", watched_touch)
    run(tenant, '[[change]]\nop = "touch"\npath = "Archive"\n')
    assert seen == [False]


# ----------------------------------------------------------------------------- error catalogue


def change(op: str, **keys: object) -> str:
    """One [[change]] table in TOML."""
    return tomli_w.dumps({"change": [{"op": op, **keys}]})


LINK = {"path": "x", "type": "view", "scope": "users"}
SYNTAX_AND_SCHEMA = [
    ('[[change]\nop = "touch"\n', "line 1, column 9: invalid TOML: "),
    ("chnage = 1\n", "chnage: unknown key; allowed: description, site, library, change"),
    (change("explode"), "change[0]: unknown op 'explode'; expected one of add_file, edit_file,"),
    ('[[change]]\npath = "x"\n', "change[0]: missing key op"),
    (change("touch", path="x", colour="red"), "change[0].colour: unknown key; allowed: op, "),
    (change("add_file", path="x", size="10"), "change[0].size: expected an integer, got '10'"),
    (change("add_file", path="x", size=-1), "change[0].size: expected a number >= 0, got -1"),
    (
        change("add_link", **{**LINK, "type": "share"}),
        "change[0].type: expected one of view, edit, got 'share'",
    ),
    (
        change("add_link", **{**LINK, "scope": "world"}),
        "change[0].scope: expected one of anonymous, organization, users, got 'world'",
    ),
    (
        change("add_link", **LINK, recipients="bob"),
        "change[0].recipients: expected a list, got 'bob'",
    ),
    (
        change("touch", path="x", segments=["x"]),
        "change[0]: give exactly one of path or segments",
    ),
    (change("touch"), "change[0]: give exactly one of path or segments"),
    (change("touch", path=3), "change[0].path: expected a string, got 3"),
    (
        change("add_file", path="x"),
        "change[0]: missing content: give one of text, base64, size, pdf, docx, xlsx",
    ),
    (
        change("add_file", path="x", text="a", size=1),
        "change[0]: give one content kind, not text and size",
    ),
    (change("add_file", path="x", text="a", seed=1), "change[0]: seed and text_like go with size"),
    (change("add_file", path="x", base64="!!"), "change[0].base64: not valid base64"),
    (
        change("add_file", path="x", xlsx=[["a", True]]),
        "change[0].xlsx[0][1]: expected a string or a number, got true",
    ),
    (
        change("add_file", path="x", xlsx=[[float("inf")]]),
        "change[0].xlsx[0][0]: expected a finite number, got inf",
    ),
    (
        change("add_file", path="x", pdf="t\n" + "line\n" * 60),
        "change[0]: text needs 60 lines; one page holds",
    ),
    (
        change("edit_file", path="x", text="a", append="b"),
        "change[0]: give new content or append, not both and not neither",
    ),
    (change("move", path="x"), "change[0]: give exactly one of to or to_segments"),
    (
        change("break_inheritance", path="x", copy="no"),
        "change[0].copy: expected true or false, got 'no'",
    ),
    (change("add_user", name="C"), "change[0].email: missing required key"),
    ("change = 3\n", "change: expected a list, got 3"),
    ('change = ["touch"]\n', "change[0]: expected a table, got 'touch'"),
]


@pytest.mark.parametrize(("body", "message"), SYNTAX_AND_SCHEMA)
def test_syntax_and_schema_errors_are_one_line(body: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_scenario(body, name="scenario.toml")
    text = str(raised.value)
    assert text.startswith("scenario.toml: " + message)
    assert "\n" not in text


def test_the_lead_s_example_message() -> None:
    body = '[[change]]\nop = "touch"\npath = "a"\n' * 3
    body += '[[change]]\nop = "grant"\npath = "a"\nprincipal = "user:x"\nrole = "admin"\n'
    with pytest.raises(InputError) as raised:
        parse_scenario(body, name="scenario.toml")
    assert str(raised.value) == (
        "scenario.toml: change[3].role: expected one of owner, write, read, got 'admin'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"change": [}', "scenario.json: line 1, column 13: invalid JSON: Expecting value"),
        ("[1, 2]", "scenario.json: expected a JSON object at the top level"),
        (
            '{"change": [{"op": "grant", "path": "a", "principal": "user:x", "role": 1}]}',
            "scenario.json: change[0].role: expected one of owner, write, read, got 1",
        ),
    ],
)
def test_json_errors(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_scenario(text, name="scenario.json", fmt="json")
    assert str(raised.value) == message


NOTHING = "; nothing was applied"
GRANT = {"path": "Reports", "role": "read"}
SEMANTIC = [
    (
        change("touch", site="sales", path="x"),
        "change[0].site: unknown site 'sales'; known: marketing, product" + NOTHING,
    ),
    (
        change("touch", library="Docs", path="x"),
        "change[0].library: site '/sites/marketing' has no library 'Docs'; known: Documents"
        + NOTHING,
    ),
    (
        change("touch", path="Nope/x.md"),
        "change[0].path: Documents: no item at 'Nope/x.md'" + NOTHING,
    ),
    (
        change("touch", segments=["Nope"]),
        "change[0].segments: Documents: no item at 'Nope'" + NOTHING,
    ),
    (
        change("grant", **GRANT, principal="user:carol"),
        "change[0].principal: unknown user 'carol'; known: Alice, Bob" + NOTHING,
    ),
    (
        change("grant", **GRANT, principal="bob"),
        "change[0].principal: principal 'bob': expected user:EMAIL, group:NAME, "
        "groupowners:NAME, sitegroup:Owners|Members|Visitors, siteuser:LOGIN, "
        "everyone_except_external or everyone" + NOTHING,
    ),
    (
        change("grant", **GRANT, principal="sitegroup:Guests"),
        "change[0].principal: site /sites/marketing has no group 'Guests'" + NOTHING,
    ),
    (
        change("revoke", path="Reports", principal="user:Bob"),
        "change[0].principal: 'Reports' grants nothing to 'user:Bob'" + NOTHING,
    ),
    (
        change("remove_link", path="Reports/q1.md", link="edit/anonymous"),
        "change[0].link: 'Reports/q1.md' has no sharing link 'edit/anonymous'" + NOTHING,
    ),
    (
        change("add_link_recipient", path="Reports/q1.md", link="view/organization", user="zed"),
        "change[0].user: unknown user 'zed'; known: Alice, Bob" + NOTHING,
    ),
    (
        change("add_link", **{**LINK, "path": "Archive"}, recipients=[ALICE, "zed"]),
        "change[0].recipients[1]: unknown user 'zed'; known: Alice, Bob" + NOTHING,
    ),
    (
        change("rename", path="Reports/q1.md", name="old.txt"),
        "change[0].name: Reports already has an item named 'old.txt'" + NOTHING,
    ),
    (
        change("rename", path="Reports/q1.md", name="OLD.TXT"),
        "change[0].name: Reports already has 'old.txt'" + NOTHING,
    ),
    (
        change("rename", path="Reports/q1.md", name="a:b"),
        "change[0].name: name 'a:b' is not valid in SharePoint",
    ),
    (
        change("move", path="Archive", to="Reports/q1.md"),
        "change[0].to: cannot move 'Archive' into 'Reports/q1.md'" + NOTHING,
    ),
    (
        change("move", path="Archive", to="Nowhere"),
        "change[0].to: Documents: no item at 'Nowhere'" + NOTHING,
    ),
    (
        change("add_file", path="Reports/q1.md", text="x"),
        "change[0].path: Reports already has an item named 'q1.md'" + NOTHING,
    ),
    (
        change("add_file", path="Reports/q1.md/x.txt", text="x"),
        "change[0].path: 'Reports/q1.md' is a file, not a folder" + NOTHING,
    ),
    (
        change("edit_file", path="Reports", text="x"),
        "change[0].path: 'Reports' is a folder, not a file" + NOTHING,
    ),
    (
        change("delete", path=""),
        "change[0].path: the library root cannot be renamed, moved or deleted" + NOTHING,
    ),
    (
        change("revoke_site_access", app="nope"),
        "change[0].app: unknown app 'nope'; known: sync" + NOTHING,
    ),
    (
        change("add_user", name="Alice 2", email=ALICE.upper()),
        f"change[0].email: a user with email '{ALICE.upper()}' already exists" + NOTHING,
    ),
    (
        change("add_group", name="S", email="sales@contoso.onmicrosoft.com"),
        "change[0].email: a group with email 'sales@contoso.onmicrosoft.com' already exists"
        + NOTHING,
    ),
]


@pytest.mark.parametrize(("body", "message"), SEMANTIC)
def test_semantic_errors_name_the_change_and_key(tenant: Tenant, body: str, message: str) -> None:
    before = fingerprint(tenant)
    with pytest.raises(InputError) as raised:
        run(tenant, body)
    assert str(raised.value).startswith("scenario.toml: " + message)
    assert "\n" not in str(raised.value)
    assert fingerprint(tenant) == before


def test_missing_defaults_with_several_sites(tenant: Tenant) -> None:
    with pytest.raises(InputError) as raised:
        run(tenant, '[[change]]\nop = "touch"\npath = "x"\n', header="")
    assert str(raised.value) == (
        "scenario.toml: change[0].site: no site given: set site here or at the top of the "
        "file; nothing was applied"
    )
