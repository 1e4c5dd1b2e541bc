"""Tenant files: what each key builds, JSON twins, determinism and the one-line errors."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.scenarios.inputfile import parse_document
from ms365sync.emulator.scenarios.tenantfile import load_tenant, parse_tenant
from ms365sync.emulator.tenant.model import Drive, PrincipalKind
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.emulator.tenant.tenant import Tenant

NOW = 1_700_000_000.0
CLIENT_ID = "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31"

TENANT = f"""
seed = 42
[tenant]
id = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"
domain = "fabrikam.onmicrosoft.com"
[settings]
realistic_gaps = false
delete_reports_descendants = false
strict_names = false
delta_token_lifetime_s = 3600

[[apps]]
name = "sync"
client_id = "{CLIENT_ID.upper()}"
secret = "fixed-secret"
roles = ["Sites.Selected"]
sites = ["hr"]

[[apps]]
name = "generated"

[[users]]
name = "Bob"
email = "bob@fabrikam.onmicrosoft.com"

[[users]]
name = "Zoë"
email = "zoe@fabrikam.onmicrosoft.com"

[[groups]]
name = "HR Team"
email = "hr@fabrikam.onmicrosoft.com"

[[sites]]
path = "/sites/hr"
title = "Human Resources"
description = "People matters"

[[sites.libraries]]
title = "Documents"
url = "Shared Documents"
description = "HR documents"

[[sites.libraries.folders]]
path = "Empty/Nested"

[[sites.libraries.folders]]
segments = ["odd:name"]

[[sites.libraries.files]]
path = "Policies/leave.md"
text = "# Leave"

[[sites.libraries.files]]
path = "Policies/raw.bin"
base64 = "AAEC"
mime_type = "application/x-raw"

[[sites.libraries.files]]
path = "Data/big.dat"
size = 5000
seed = 9

[[sites.libraries.files]]
path = "Data/words.txt"
size = 100
text_like = true

[[sites.libraries.files]]
path = "Docs/report.pdf"
pdf = "Report\\nAll good."

[[sites.libraries.files]]
path = "Docs/letter.docx"
docx = ["Dear Bob", "Welcome."]

[[sites.libraries.files]]
path = "Docs/bands.xlsx"
xlsx = [["Level", "Min"], ["L1", 50000]]

[[sites.libraries.permissions]]
path = "Policies"
inherit = false
copy = false
grants = [
    {{ principal = "sitegroup:Owners", role = "owner" }},
    {{ principal = "group:HR Team", role = "write" }},
]

[[sites.libraries.permissions]]
path = "Docs"
inherit = false
revoke = ["sitegroup:Visitors"]
links = [{{ type = "edit", scope = "users", recipients = ["zoe@fabrikam.onmicrosoft.com"] }}]

[[sites.libraries.permissions]]
path = "Docs/letter.docx"
grants = [{{ principal = "user:Bob", role = "read" }}]
links = [{{ type = "view", scope = "anonymous" }}]

[[sites.libraries]]
title = "Hidden"
system = true

[[sites]]
hostname = "other.sharepoint.com"
path = "/teams/x"
title = "X"
"""


@pytest.fixture(scope="module")
def built() -> Tenant:
    return parse_tenant(TENANT, name="tenant.toml", clock=lambda: NOW)


def hr(tenant: Tenant) -> Drive:
    return tenant.library("hr", "Documents")


def data(tenant: Tenant, drive: Drive, path: str) -> bytes:
    content = tenant.item(drive, path).content
    assert content is not None
    return content.read_all()


def test_tenant_and_settings(built: Tenant) -> None:
    assert built.tenant_id == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    assert built.domain == "fabrikam.onmicrosoft.com"
    assert built.seed == 42
    assert (built.realistic_gaps, built.delete_reports_descendants) == (False, False)
    assert built.strict_names is False
    assert built.delta_token_lifetime_s == 3600.0


def test_apps(built: Tenant) -> None:
    sync = built.directory.apps[CLIENT_ID]
    assert (sync.display_name, sync.secrets, sync.roles) == (
        "sync",
        ["fixed-secret"],
        ["Sites.Selected"],
    )
    assert sync.selected_sites == {built.library("hr", "Documents").site.id}
    generated = next(a for a in built.directory.apps.values() if a.display_name == "generated")
    assert generated.roles == ["Sites.FullControl.All"]
    assert generated.secrets and generated.secrets[0]


def test_people(built: Tenant) -> None:
    assert sorted(u.display_name for u in built.users.values()) == ["Bob", "Zoë"]
    assert [g.email for g in built.groups.values()] == ["hr@fabrikam.onmicrosoft.com"]


def test_sites_and_libraries(built: Tenant) -> None:
    drive = hr(built)
    assert drive.site.hostname == "fabrikam.sharepoint.com"  # derived from the domain
    assert (drive.site.display_name, drive.site.description) == (
        "Human Resources",
        "People matters",
    )
    assert (drive.title, drive.url_segment, drive.description) == (
        "Documents",
        "Shared Documents",
        "HR documents",
    )
    hidden = built.library("hr", "Hidden")
    assert hidden.system and not drive.system
    sites = {site.path: site for site in built.sites.values()}
    assert sites["/teams/x"].hostname == "other.sharepoint.com"
    assert sites["/teams/x"].drives == {}


def test_folders_and_files(built: Tenant) -> None:
    drive = hr(built)
    assert built.item(drive, "Empty/Nested").is_folder
    assert built.item(drive, ["odd:name"]).is_folder
    assert data(built, drive, "Policies/leave.md") == b"# Leave"
    assert data(built, drive, "Policies/raw.bin") == b"\x00\x01\x02"
    assert built.item(drive, "Policies/raw.bin").mime_type == "application/x-raw"
    assert len(data(built, drive, "Data/big.dat")) == 5000
    assert data(built, drive, "Data/words.txt").isascii()
    assert data(built, drive, "Docs/report.pdf").startswith(b"%PDF-1.4")
    with zipfile.ZipFile(BytesIO(data(built, drive, "Docs/letter.docx"))) as archive:
        assert b"Dear Bob" in archive.read("word/document.xml")
    with zipfile.ZipFile(BytesIO(data(built, drive, "Docs/bands.xlsx"))) as archive:
        assert b"50000" in archive.read("xl/worksheets/sheet1.xml")
    assert built.item(drive, "Policies/leave.md").created == NOW


def test_permissions(built: Tenant) -> None:
    drive = hr(built)

    def labels(path: str) -> list[str]:
        return expected_labels(built, drive, built.item(drive, path))

    assert labels("Policies/leave.md") == [
        "HR Team:::Edit",
        "Human Resources Owners:::Full Control",
    ]
    assert labels("Docs/report.pdf") == [
        "Human Resources Members:::Edit",
        "Human Resources Owners:::Full Control",
        "Sharing Link (edit, users):::Edit",
    ]
    assert labels("Docs/letter.docx") == [
        "Bob:::View",
        "Human Resources Members:::Edit",
        "Human Resources Owners:::Full Control",
        "Sharing Link (edit, users):::Edit",
        "Sharing Link (view, anonymous):::View",
    ]
    assert labels("Data/big.dat") == [
        "Human Resources Members:::Edit",
        "Human Resources Owners:::Full Control",
        "Human Resources Visitors:::View",
    ]
    link = next(link for link in drive.links.values() if link.scope == "users")
    assert link.recipients == [built.user("Zoë").id]
    grants = built.item(drive, "Docs/letter.docx").grants
    assert grants is not None
    assert (PrincipalKind.USER, built.user("Bob").id) in grants


SPECIAL = """
seed = 5
[[users]]
name = "Jordan Blake"
email = "jordan@brightline.example"
guest = true
[[groups]]
name = "Product Team"
email = "product@contoso.onmicrosoft.com"
[[sites]]
path = "/teams/product"
title = "Product"
[[sites.users]]
name = "Former Employee"
login = "i:0#.f|membership|former@contoso.onmicrosoft.com"
[[sites.libraries]]
title = "Documents"
[[sites.libraries.files]]
path = "Specs/api.md"
text = "# API"
[[sites.libraries.permissions]]
path = "Specs"
grants = [
    { principal = "everyone_except_external", role = "read" },
    { principal = "everyone", role = "read" },
    { principal = "groupowners:Product Team", role = "owner" },
    { principal = "user:jordan@brightline.example", role = "read" },
    { principal = "siteuser:Former Employee", role = "write" },
]
"""


def test_guests_site_users_and_the_special_principals(tmp_path: Path) -> None:
    built = parse_tenant(SPECIAL, name="special.toml", clock=lambda: NOW)
    jordan = built.user("Jordan Blake")
    assert jordan.is_guest and jordan.user_principal_name.endswith("#EXT#@contoso.onmicrosoft.com")
    drive = built.library("product", "Documents")
    assert expected_labels(built, drive, built.item(drive, "Specs/api.md")) == [
        "Everyone except external users:::View",
        "Everyone:::View",
        "Former Employee:::Edit",
        "Jordan Blake:::View",
        "Product Members:::Edit",
        "Product Owners:::Full Control",
        "Product Team Owners:::Full Control",
        "Product Visitors:::View",
    ]
    with pytest.raises(InputError) as error:
        parse_tenant(SPECIAL.replace("siteuser:Former", "siteuser:Latter"), name="s.toml")
    assert str(error.value) == (
        "s.toml: sites[0].libraries[0].permissions[0].grants[4].principal: "
        "site /teams/product has no site user 'Latter Employee'"
    )


def test_same_file_same_tenant() -> None:
    first = parse_tenant(TENANT, name="t.toml", clock=lambda: NOW)
    second = parse_tenant(TENANT, name="t.toml", clock=lambda: NOW)

    def shape(tenant: Tenant) -> list[tuple[str, str, str]]:
        return [
            (drive.id, item.id, item.content.sha1 if item.content else "")
            for drive in tenant.drives()
            for item in drive.root.walk()
        ]

    assert shape(first) == shape(second)
    assert [a.secrets for a in first.directory.apps.values()] == [
        a.secrets for a in second.directory.apps.values()
    ]
    other_seed = parse_tenant(TENANT.replace("seed = 42", "seed = 43"), name="t.toml")
    assert shape(other_seed) != shape(first)


def test_load_tenant_from_toml_and_json(tmp_path: Path) -> None:
    toml_path = tmp_path / "tenant.toml"
    toml_path.write_text(TENANT, encoding="utf-8")
    json_path = tmp_path / "tenant.json"
    as_json = json.dumps(parse_document(TENANT, name="tenant.toml", fmt="toml"))
    json_path.write_text(as_json, encoding="utf-8")
    from_toml = load_tenant(toml_path, clock=lambda: NOW)
    from_json = load_tenant(json_path, clock=lambda: NOW)
    assert [d.id for d in from_toml.drives()] == [d.id for d in from_json.drives()]
    assert expected_labels(
        from_json, hr(from_json), from_json.item(hr(from_json), "Docs/letter.docx")
    ) == expected_labels(
        from_toml, hr(from_toml), from_toml.item(hr(from_toml), "Docs/letter.docx")
    )


def test_an_empty_file_is_an_empty_tenant() -> None:
    tenant = parse_tenant("", name="empty.toml")
    assert (tenant.sites, tenant.users, tenant.directory.apps) == ({}, {}, {})


# ----------------------------------------------------------------------------- error catalogue

MINI = """
[[users]]
name = "Bob"
email = "bob@contoso.onmicrosoft.com"
[[groups]]
name = "HR Team"
email = "hr@contoso.onmicrosoft.com"
[[sites]]
path = "/sites/hr"
title = "HR"
[[sites.libraries]]
title = "Documents"
url = "Shared Documents"
[[sites.libraries.files]]
path = "a/b.txt"
text = "x"
"""
PERMISSION = '\n[[sites.libraries.permissions]]\npath = "a"\n'
LIBS = "sites[0].libraries[0]"

CATALOGUE = [
    ("seed = \n", "line 1, column 8: invalid TOML: "),
    ("seed = 1.5\n", "seed: expected an integer, got 1.5"),
    (
        "colour = 1\n",
        "colour: unknown key; allowed: seed, tenant, settings, apps, users, guests, groups, sites",
    ),
    ('[tenant]\nid = "abc"\n', "tenant.id: expected a GUID (8-4-4-4-12 hex digits), got 'abc'"),
    ("[settings]\nstrict_names = 1\n", "settings.strict_names: expected true or false, got 1"),
    (
        "[settings]\ndelta_token_lifetime_s = 0\n",
        "settings.delta_token_lifetime_s: expected a number > 0, got 0",
    ),
    (
        '[[apps]]\nname = "a"\nroles = ["Sites.Everything"]\n',
        "apps[0].roles[0]: expected one of Sites.Read.All, Sites.ReadWrite.All, "
        "Sites.FullControl.All, Sites.Selected, Files.Read.All, Files.ReadWrite.All, "
        "GroupMember.Read.All, GroupMember.ReadWrite.All, Group.Read.All, Group.ReadWrite.All, "
        "Directory.Read.All, Directory.ReadWrite.All, User.ReadBasic.All, User.Read.All, "
        "User.ReadWrite.All, got 'Sites.Everything'",
    ),
    ('[[apps]]\nname = "a"\nclient_id = "nope"\n', "apps[0].client_id: expected a GUID"),
    (
        '[[apps]]\nname = "a"\nsites = ["nowhere"]\n',
        "apps[0].sites[0]: unknown site 'nowhere'; known: none",
    ),
    (
        f'[[apps]]\nname = "a"\nclient_id = "{CLIENT_ID}"\n'
        f'[[apps]]\nname = "b"\nclient_id = "{CLIENT_ID.upper()}"\n',
        "apps[1].client_id: client id 5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31 is registered twice",
    ),
    ('[[apps]]\nsecret = "x"\n', "apps[0].name: missing required key"),
    (
        '[[users]]\nname = "B"\nemail = "b@"\n',
        "users[0].email: expected an email address like name@domain, got 'b@'",
    ),
    ('[[users]]\nname = ""\nemail = "b@x.com"\n', "users[0].name: "),
    (
        MINI + '[[users]]\nname = "B2"\nemail = "BOB@contoso.onmicrosoft.com"\n',
        "users[1].email: 'BOB@contoso.onmicrosoft.com' is listed twice",
    ),
    (
        '[[sites]]\npath = "/site/x"\ntitle = "X"\n',
        "sites[0].path: site path '/site/x': expected /sites/NAME or /teams/NAME",
    ),
    (
        '[[sites]]\npath = "/sites/x"\ntitle = "X"\n[[sites]]\npath = "/sites/X"\ntitle = "Y"\n',
        "sites[1].path: site contoso.sharepoint.com/sites/X already exists",
    ),
    ('[[sites]]\npath = "/sites/x"\n', "sites[0].title: missing required key"),
    (
        MINI + '[[sites.libraries]]\ntitle = "shared documents"\n',
        f"{LIBS[:-3]}[1].title: library 'shared documents' already exists in /sites/hr",
    ),
    (
        MINI + '[[sites.libraries.files]]\npath = "a/b.txt"\ntext = "y"\n',
        f"{LIBS}.files[1].path: a already has an item named 'b.txt'",
    ),
    (
        MINI + '[[sites.libraries.files]]\npath = "a/c.txt"\n',
        f"{LIBS}.files[1]: missing content: give one of text, base64, size, pdf, docx, xlsx",
    ),
    (
        MINI + '[[sites.libraries.files]]\npath = "a/c?.txt"\ntext = "y"\n',
        f"{LIBS}.files[1].path: name 'c?.txt' is not valid in SharePoint",
    ),
    (
        MINI + '[[sites.libraries.files]]\npath = "a/c.txt"\nsize = 1\ncolour = 2\n',
        f"{LIBS}.files[1].colour: unknown key; allowed: ",
    ),
    (
        MINI + '[[sites.libraries.folders]]\npath = "a/c|d"\n',
        f"{LIBS}.folders[0].path: name 'c|d' is not valid in SharePoint",
    ),
    (
        MINI + PERMISSION + "copy = false\n",
        f"{LIBS}.permissions[0]: copy only applies with inherit = false",
    ),
    (
        MINI + PERMISSION.replace('"a"', '"zz"') + "inherit = false\n",
        f"{LIBS}.permissions[0].path: Documents: no item at 'zz'",
    ),
    (
        MINI + PERMISSION + 'grants = [{ principal = "group:HR", role = "write" }]\n',
        f"{LIBS}.permissions[0].grants[0].principal: unknown group 'HR'; known: HR Team",
    ),
    (
        MINI + PERMISSION + 'grants = [{ principal = "user:Bob", role = "admin" }]\n',
        f"{LIBS}.permissions[0].grants[0].role: expected one of owner, write, read, got 'admin'",
    ),
    (
        MINI + PERMISSION + 'grants = [{ principal = "user:Bob" }]\n',
        f"{LIBS}.permissions[0].grants[0].role: missing required key",
    ),
    (
        MINI + PERMISSION + 'revoke = ["user:Bob"]\n',
        f"{LIBS}.permissions[0].revoke[0]: 'a' grants nothing to 'user:Bob'",
    ),
    (
        MINI + PERMISSION + 'revoke = ["sitegroup:Guests"]\n',
        f"{LIBS}.permissions[0].revoke[0]: site /sites/hr has no group 'Guests'",
    ),
    (
        MINI + PERMISSION + 'links = [{ type = "view", scope = "users", recipients = ["zed"] }]\n',
        f"{LIBS}.permissions[0].links[0].recipients[0]: unknown user 'zed'; known: Bob",
    ),
    (
        MINI + PERMISSION + 'links = [{ type = "view", scope = "galaxy" }]\n',
        f"{LIBS}.permissions[0].links[0].scope: "
        "expected one of anonymous, organization, users, got 'galaxy'",
    ),
]


@pytest.mark.parametrize(("text", "message"), CATALOGUE)
def test_errors_name_the_file_and_key(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_tenant(text, name="tenant.toml")
    assert str(raised.value).startswith("tenant.toml: " + message)
    assert "\n" not in str(raised.value)


def test_load_tenant_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[[sites]]\npath = "/x"\ntitle = "X"\n', encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_tenant(path)
    assert str(raised.value).startswith(f"{path}: sites[0].path: site path '/x'")
    with pytest.raises(InputError, match="not UTF-8"):
        path.write_bytes(b"title = '\xff'")
        load_tenant(path)
