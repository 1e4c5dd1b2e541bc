"""Document metadata (graph-facts §18) in tenant files (a library's `columns`, a file's
`columns` and `label`) and scenario ops (`define_column`, `set_columns`, `set_label`), with
their one-line errors."""

from __future__ import annotations

import pytest

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.scenarios.scenario import apply_scenario, parse_scenario
from ms365sync.emulator.scenarios.tenantfile import parse_tenant
from ms365sync.emulator.tenant.columns import SensitivityLabel
from ms365sync.emulator.tenant.model import Drive
from ms365sync.emulator.tenant.tenant import Tenant

NOW = 1_700_000_000.0
BOB = "bob@contoso.onmicrosoft.com"
SECRET = "9fbde396-1a24-4c79-8edf-9254a0f35055"
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
[[sites.libraries.columns]]
name = "Status"
kind = "choice"
choices = ["Draft", "Final"]
[[sites.libraries.columns]]
name = "Owners"
kind = "personOrGroup"
multiple = true
display_name = "Document owners"
[[sites.libraries.files]]
path = "a/plain.txt"
text = "x"
[[sites.libraries.files]]
path = "a/secret.docx"
text = "y"
columns = {{ Status = "Final", Owners = ["{BOB}"], Note = "free text" }}
label = {{ id = "{SECRET}", name = "Highly Confidential", encrypted = true }}
"""
HEADER = 'site = "/sites/hr"\nlibrary = "Documents"\n'


@pytest.fixture
def tenant() -> Tenant:
    return parse_tenant(MINI, name="tenant.toml", clock=lambda: NOW)


def _drive(tenant: Tenant) -> Drive:
    return tenant.library("hr", "Documents")


def run(tenant: Tenant, body: str) -> list[str]:
    return apply_scenario(tenant, parse_scenario(HEADER + body, name="scenario.toml"))


def test_a_tenant_file_defines_columns_and_gives_files_values_and_labels(tenant: Tenant) -> None:
    drive = _drive(tenant)
    assert list(drive.columns) == ["Status", "Owners"]
    assert drive.columns["Owners"].display_name == "Document owners"
    secret = tenant.item(drive, "a/secret.docx")
    bob = tenant.user(BOB)
    assert secret.columns == {"Status": "Final", "Owners": [bob.id], "Note": "free text"}
    assert secret.label == SensitivityLabel(SECRET, "Highly Confidential", encrypted=True)
    assert tenant.item(drive, "a/plain.txt").label is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('kind = "choice"\nchoices = ["Draft", "Final"]', 'kind = "money"'),
            "sites[0].libraries[0].columns[0].kind: expected one of",
        ),
        (
            ('Status = "Final", Owners', 'Status = "Lost", Owners'),
            "sites[0].libraries[0].files[1].columns: Documents: column 'Status' (choice) "
            "expects one of 'Draft', 'Final', not 'Lost'",
        ),
        (
            (f'id = "{SECRET}"', 'id = "Secret"'),
            "sites[0].libraries[0].files[1].label: a sensitivity label id must be a GUID",
        ),
    ],
)
def test_tenant_file_errors_name_the_key(edit: tuple[str, str], message: str) -> None:
    old, new = edit
    text = MINI.replace(old.strip(), new, 1)
    assert text != MINI
    with pytest.raises(InputError) as raised:
        parse_tenant(text, name="tenant.toml", clock=lambda: NOW)
    assert message in str(raised.value), str(raised.value)


def test_scenario_ops_define_columns_set_values_and_label_files(tenant: Tenant) -> None:
    drive = _drive(tenant)
    item = tenant.item(drive, "a/plain.txt")
    etag, ctag = item.etag_v, item.ctag_v
    lines = run(
        tenant,
        f"""
[[change]]
op = "define_column"
name = "Due"
kind = "dateTime"
[[change]]
op = "set_columns"
path = "a/plain.txt"
columns = {{ Due = "2025-06-30", Status = "Draft" }}
[[change]]
op = "set_label"
path = "a/plain.txt"
id = "{SECRET}"
label = "Confidential"
encrypted = true
""",
    )
    assert lines == [
        "hr/Shared Documents: defined dateTime column 'Due'",
        "hr/Shared Documents: set Due, Status of 'a/plain.txt'",
        "hr/Shared Documents: labelled 'a/plain.txt' Confidential, encrypted",
    ]
    assert item.columns == {"Due": "2025-06-30T00:00:00Z", "Status": "Draft"}
    assert item.label == SensitivityLabel(SECRET, "Confidential", encrypted=True)
    assert (item.etag_v, item.ctag_v) == (etag + 2, ctag + 1)
    assert run(tenant, '[[change]]\nop = "set_label"\npath = "a/plain.txt"\nclear = true\n') == [
        "hr/Shared Documents: removed the sensitivity label of 'a/plain.txt'"
    ]
    assert item.label is None and item.ctag_v == ctag + 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'op = "set_columns"\npath = "a/plain.txt"\ncolumns = { Status = 3 }\n',
            "change[0].columns: Documents: column 'Status' (choice) expects one of",
        ),
        (
            'op = "define_column"\nname = "Status"\nkind = "text"\n',
            "change[0].name: Documents: column 'Status' is already defined",
        ),
        (
            'op = "set_label"\npath = "a/plain.txt"\n',
            "give a label id, or clear = true, not both and not neither",
        ),
        (
            f'op = "set_label"\npath = "a/plain.txt"\nclear = true\nid = "{SECRET}"\n',
            "give a label id, or clear = true, not both and not neither",
        ),
        (
            'op = "set_label"\npath = "a/plain.txt"\nclear = true\nencrypted = true\n',
            "clear = true takes no label and no encrypted",
        ),
        (
            'op = "set_label"\npath = "a"\nid = "' + SECRET + '"\n',
            "'a' is a folder, not a file",
        ),
    ],
)
def test_scenario_op_errors_name_the_key(tenant: Tenant, body: str, message: str) -> None:
    item = tenant.item(_drive(tenant), "a/plain.txt")
    before = (item.etag_v, dict(item.columns), item.label)
    with pytest.raises(InputError) as raised:
        run(tenant, "[[change]]\n" + body)
    assert message in str(raised.value), str(raised.value)
    assert "\n" not in str(raised.value)
    assert (item.etag_v, dict(item.columns), item.label) == before  # rehearsed, not applied
