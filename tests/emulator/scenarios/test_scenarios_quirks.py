"""The troublesome items of graph-facts §17 in tenant files (per-file keys, packages) and
scenario ops, with their one-line errors."""

from __future__ import annotations

import pytest

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.scenarios.scenario import apply_scenario, parse_scenario
from ms365sync.emulator.scenarios.tenantfile import parse_tenant
from ms365sync.emulator.tenant.model import Drive, Hashes, Served
from ms365sync.emulator.tenant.tenant import Tenant

NOW = 1_700_000_000.0
BOB = "bob@contoso.onmicrosoft.com"
LIBS = "sites[0].libraries[0]"
MINI = f"""
[[users]]
name = "Bob"
email = "{BOB}"
[[sites]]
path = "/sites/hr"
title = "HR"
[[sites.libraries]]
title = "Documents"
url = "Shared Documents"
[[sites.libraries.files]]
path = "a/plain.txt"
text = "x"
"""
QUIRKY = (
    MINI
    + f"""
[[sites.libraries.files]]
path = "a/protected.docx"
docx = ["Confidential"]
served = "rewritten"
[[sites.libraries.files]]
path = "a/flaky.xlsx"
size = 100
served = "unstable"
[[sites.libraries.files]]
path = "a/no-hash.txt"
text = "no hash"
hashes = "missing"
[[sites.libraries.files]]
path = "a/empty-hash.txt"
text = ""
hashes = "empty"
[[sites.libraries.files]]
path = "a/virus.exe"
text = "X5O!P%@AP"
malware = "EICAR test file"
[[sites.libraries.files]]
path = "a/budget.xlsx"
size = 10
checked_out_by = "{BOB}"
[[sites.libraries.files]]
path = "a/locked.pptx"
size = 10
locked = true
[[sites.libraries.files]]
path = "a/gone.txt"
text = "soon gone"
vanishes = true
[[sites.libraries.packages]]
path = "Notebooks/Team"
sections = ["Plans.one", "Notes.one"]
[[sites.libraries.packages]]
segments = ["Solo"]
"""
)


def _drive(tenant: Tenant) -> Drive:
    return tenant.library("hr", "Documents")


def test_tenant_file_keys_build_each_quirk() -> None:
    tenant = parse_tenant(QUIRKY, name="tenant.toml", clock=lambda: NOW)
    drive = _drive(tenant)

    plain = tenant.item(drive, "a/plain.txt")
    assert (plain.served, plain.hashes, plain.malware, plain.locked) == (
        Served.AS_LISTED,
        Hashes.LISTED,
        None,
        False,
    )
    assert tenant.item(drive, "a/protected.docx").served is Served.REWRITTEN
    assert tenant.item(drive, "a/flaky.xlsx").served is Served.UNSTABLE
    assert tenant.item(drive, "a/no-hash.txt").hashes is Hashes.MISSING
    assert tenant.item(drive, "a/empty-hash.txt").hashes is Hashes.EMPTY
    assert tenant.item(drive, "a/virus.exe").malware == "EICAR test file"
    assert tenant.item(drive, "a/budget.xlsx").checked_out_by == tenant.user(BOB).id
    assert tenant.item(drive, "a/locked.pptx").locked
    assert tenant.item(drive, "a/gone.txt").vanishes
    team = tenant.item(drive, "Notebooks/Team")
    assert team.package_type == "oneNote"
    assert sorted(team.children) == ["Notes.one", "Open Notebook.onetoc2", "Plans.one"]
    assert sorted(tenant.item(drive, "Solo").children) == ["Open Notebook.onetoc2", "Section 1.one"]


def test_packages_leave_the_files_ids_as_they_were() -> None:
    plain = parse_tenant(MINI, name="t.toml", clock=lambda: NOW)
    with_package = parse_tenant(
        MINI + '[[sites.libraries.packages]]\npath = "N"\n', name="t.toml", clock=lambda: NOW
    )
    assert tenant_ids(plain) == tenant_ids(with_package, skip="N")


def tenant_ids(tenant: Tenant, skip: str = "") -> list[str]:
    drive = _drive(tenant)
    return [item.id for item in drive.root.walk() if not skip or not item.path.startswith(skip)]


FILE = '\n[[sites.libraries.files]]\npath = "a/c.txt"\ntext = "y"\n'
CATALOGUE = [
    (
        FILE + 'served = "sometimes"\n',
        f"{LIBS}.files[1].served: expected one of as-listed, rewritten, unstable, got 'sometimes'",
    ),
    (
        FILE + 'hashes = "none"\n',
        f"{LIBS}.files[1].hashes: expected one of listed, missing, empty, got 'none'",
    ),
    (FILE + "locked = 1\n", f"{LIBS}.files[1].locked: expected true or false, got 1"),
    (FILE + 'malware = ""\n', f"{LIBS}.files[1].malware: "),
    (
        FILE + 'checked_out_by = "zed@contoso.onmicrosoft.com"\n',
        f"{LIBS}.files[1].checked_out_by: unknown user 'zed@contoso.onmicrosoft.com'",
    ),
    (
        '\n[[sites.libraries.packages]]\npath = "a/plain.txt/N"\n',
        f"{LIBS}.packages[0].path: 'a/plain.txt' is a file, not a folder",
    ),
    (
        '\n[[sites.libraries.packages]]\npath = "N"\nkind = "x"\n',
        f"{LIBS}.packages[0].kind: unknown key; allowed: ",
    ),
]


@pytest.mark.parametrize(("text", "message"), CATALOGUE)
def test_tenant_file_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_tenant(MINI + text, name="tenant.toml")
    assert str(raised.value).startswith("tenant.toml: " + message), str(raised.value)
    assert "\n" not in str(raised.value)


# ----------------------------------------------------------------------------- scenario ops

HEADER = 'site = "hr"\nlibrary = "Documents"\n'


def run(tenant: Tenant, body: str) -> list[str]:
    return apply_scenario(tenant, parse_scenario(HEADER + body, name="scenario.toml"))


@pytest.fixture
def tenant() -> Tenant:
    return parse_tenant(MINI, name="tenant.toml", clock=lambda: NOW)


def test_scenario_ops_set_and_clear_each_quirk(tenant: Tenant) -> None:
    drive = _drive(tenant)
    item = tenant.item(drive, "a/plain.txt")
    lines = run(
        tenant,
        f"""
[[change]]
op = "flag_malware"
path = "a/plain.txt"
description = "Worm"
[[change]]
op = "check_out"
path = "a/plain.txt"
user = "{BOB}"
[[change]]
op = "lock"
path = "a/plain.txt"
[[change]]
op = "set_served"
path = "a/plain.txt"
served = "unstable"
[[change]]
op = "set_hashes"
path = "a/plain.txt"
hashes = "empty"
[[change]]
op = "set_vanishes"
path = "a/plain.txt"
[[change]]
op = "add_package"
path = "Books/Ops"
type = "oneNote"
sections = ["Runbook.one"]
""",
    )
    assert len(lines) == 7
    assert lines[0] == "hr/Shared Documents: flagged 'a/plain.txt' as malware (Worm)"
    assert (item.malware, item.checked_out_by, item.locked, item.vanishes) == (
        "Worm",
        tenant.user(BOB).id,
        True,
        True,
    )
    assert (item.served, item.hashes) == (Served.UNSTABLE, Hashes.EMPTY)
    assert tenant.item(drive, "Books/Ops").package_type == "oneNote"
    run(
        tenant,
        """
[[change]]
op = "clear_malware"
path = "a/plain.txt"
[[change]]
op = "check_in"
path = "a/plain.txt"
[[change]]
op = "unlock"
path = "a/plain.txt"
[[change]]
op = "set_vanishes"
path = "a/plain.txt"
vanishes = false
[[change]]
op = "set_served"
path = "a/plain.txt"
served = "as-listed"
[[change]]
op = "set_hashes"
path = "a/plain.txt"
hashes = "listed"
""",
    )
    assert (item.malware, item.checked_out_by, item.locked, item.vanishes) == (
        None,
        None,
        False,
        False,
    )
    assert (item.served, item.hashes) == (Served.AS_LISTED, Hashes.LISTED)


def test_add_file_takes_the_quirk_keys_too(tenant: Tenant) -> None:
    run(tenant, '[[change]]\nop = "add_file"\npath = "x.pdf"\npdf = "X"\nserved = "rewritten"\n')
    assert tenant.item(_drive(tenant), "x.pdf").served is Served.REWRITTEN


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'op = "check_out"\npath = "a/plain.txt"\nuser = "zed@x.com"\n',
            "change[0].user: unknown user 'zed@x.com'",
        ),
        ('op = "lock"\npath = "a"\n', "change[0].path: 'a' is a folder, not a file"),
        ('op = "flag_malware"\npath = "nope.txt"\n', "change[0].path: Documents: no item at"),
        (
            'op = "set_served"\npath = "a/plain.txt"\nserved = "x"\n',
            "change[0].served: expected one of as-listed, rewritten, unstable, got 'x'",
        ),
    ],
)
def test_scenario_op_errors_name_the_key(tenant: Tenant, body: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        run(tenant, "[[change]]\n" + body)
    assert message in str(raised.value), str(raised.value)


def test_scenario_sets_and_clears_columns_as_metadata_edits(tenant: Tenant) -> None:
    item = tenant.item(_drive(tenant), "a/plain.txt")
    etag, ctag = item.etag_v, item.ctag_v
    lines = run(
        tenant,
        """
[[change]]
op = "set_columns"
path = "a/plain.txt"
columns = { Department = "Finance", Tags = ["q1", "budget"], Reviewed = true, Score = 4 }
""",
    )
    assert lines == ["hr/Shared Documents: set Department, Tags, Reviewed, Score of 'a/plain.txt'"]
    assert item.columns == {"Department": "Finance", "Tags": ["q1", "budget"], "Reviewed": True,
                            "Score": 4}  # fmt: skip
    assert (item.etag_v, item.ctag_v) == (etag + 1, ctag)
    run(tenant, '[[change]]\nop = "set_columns"\npath = "a/plain.txt"\nclear = ["Tags"]\n')
    assert "Tags" not in item.columns and item.columns["Department"] == "Finance"
    with pytest.raises(InputError) as raised:
        run(tenant, '[[change]]\nop = "set_columns"\npath = "a/plain.txt"\n')
    assert "give columns to set or names to clear" in str(raised.value)
