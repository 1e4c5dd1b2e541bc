"""The document metadata keys of sites.toml (issue 21): metadata, where, exclude_labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from ms365sync.config import load_config
from ms365sync.errors import ConfigError
from ms365sync.target import MetadataSpec
from ms365sync.where import parse

AUTH = """\
[auth]
tenant_id = "contoso.onmicrosoft.com"
client_id = "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31"
client_secret = "not-a-secret"
"""


def _load(tmp_path: Path, defaults: str, library: str = "") -> MetadataSpec | None:
    text = (
        f'{AUTH}\n[defaults]\n{defaults}\n[[sites]]\nname = "m"\nhost = "contoso.sharepoint.com"\n'
        f'path = "/sites/m"\n  [[sites.libraries]]\n  name = "Documents"\n{library}\n'
        '  [[sites.libraries]]\n  name = "Other"\n'
    )
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    [first, _] = load_config(path).targets()
    return first.spec.metadata


def test_unset_reads_no_metadata(tmp_path: Path) -> None:
    assert _load(tmp_path, "") is None


def test_columns_all_and_library_overrides(tmp_path: Path) -> None:
    assert _load(tmp_path, 'metadata = ["Title", "Department", "Title"]') == MetadataSpec(
        columns=("Title", "Department")
    )
    assert _load(tmp_path, 'metadata = "all"') == MetadataSpec(columns=None)
    assert _load(tmp_path, 'metadata = "all"', '  metadata = ["Status"]') == MetadataSpec(
        columns=("Status",)
    )
    assert _load(tmp_path, "metadata = []") == MetadataSpec(columns=())


def test_where_and_labels_read_metadata_without_columns(tmp_path: Path) -> None:
    spec = _load(tmp_path, 'where = "Status != \'Draft\'"\nexclude_labels = ["Secret"]')
    assert spec == MetadataSpec(
        columns=(), where=parse("Status != 'Draft'"), exclude_labels=("Secret",)
    )
    assert spec.request() == ("Status", "_IpLabelId", "_DisplayName")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('metadata = "some"', "defaults.metadata: 'some'"),
        ('metadata = ["Dep artment"]', "'Dep artment' is not a column internal name"),
        ("metadata = 3", "defaults.metadata: wrong type"),
        ('exclude_labels = [""]', "defaults.exclude_labels: an empty or non-text label"),
        ('where = "Status = 1"', "defaults.where: unknown operator '=' at column 8 (use '==')"),
        ("where = \"Status == 'a' and\"", "defaults.where: expected"),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path: Path, line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, line)
    message = str(caught.value)
    assert "\n" not in message
    assert "sites.toml" in message and expected in message
