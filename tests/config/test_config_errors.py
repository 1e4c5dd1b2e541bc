"""A catalogue of bad configuration files: each fails with one line naming the file and the key."""

from __future__ import annotations

import textwrap
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ms365sync.config import load_config
from ms365sync.errors import ConfigError

SECRET = "Zq8~n0t-a-real.client_secret_value"
ENV = {
    "TENANT_ID": "contoso.onmicrosoft.com",
    "CLIENT_ID": "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31",
    "CLIENT_SECRET": SECRET,
}
AUTH = """\
[auth]
tenant_id = "${TENANT_ID}"
client_id = "${CLIENT_ID}"
client_secret = "${CLIENT_SECRET}"
"""
SITE = """\
[[sites]]
name = "marketing"
host = "contoso.sharepoint.com"
path = "/sites/marketing"
  [[sites.libraries]]
  name = "Documents"
"""
HR = """\
[[sites]]
name = "hr"
display_name = "Human Resources"
  [[sites.libraries]]
  name = "Policies"
"""


def library(name: str, body: str = "") -> str:
    return f'  [[sites.libraries]]\n  name = "{name}"\n' + textwrap.indent(body, "  ")


def make_pem(directory: Path) -> None:
    (directory / "app.pem").write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")


def make_symlink(directory: Path) -> None:
    (directory / "mirror" / "docs").mkdir(parents=True)
    (directory / "alias").symlink_to(directory / "mirror" / "docs", target_is_directory=True)


@dataclass(frozen=True)
class Bad:
    """A bad file, the key path (or line/column) its error names, and words it must contain."""

    id: str
    text: str
    key: str
    words: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))
    setup: Callable[[Path], None] | None = None


CATALOGUE = [
    Bad("toml-syntax", AUTH + "concurrency = \n" + SITE, "line 5, column 15", ("invalid TOML",)),
    Bad("toml-duplicate-key", AUTH + 'tenant_id = "x"\n' + SITE, "line 5", ("invalid TOML",)),
    Bad(
        "unknown-table",
        AUTH + "[defalts]\nconcurrency = 4\n" + SITE,
        "defalts",
        ("unknown key", "did you mean 'defaults'"),
    ),
    Bad(
        "unknown-key-typo",
        AUTH + "[defaults]\nconcurency = 4\n" + SITE,
        "defaults.concurency",
        ("did you mean 'concurrency'", "one of include"),
    ),
    Bad(
        "unknown-key-in-library",
        AUTH + SITE + "  exlude = ['*.tmp']\n",
        "sites[0].libraries[0].exlude",
        ("did you mean 'exclude'",),
    ),
    Bad(
        "option-on-the-site-instead-of-the-library",
        AUTH + SITE.replace("  [[sites.libraries]]", "max_delete = 5\n  [[sites.libraries]]"),
        "sites[0].max_delete",
        ("belongs in [[sites.libraries]] or [defaults]",),
    ),
    Bad(
        "secret-under-an-unknown-key",
        AUTH.replace("client_secret", "client_secrt") + SITE,
        "auth.client_secrt",
        ("did you mean 'client_secret'",),
    ),
    Bad(
        "wrong-type-text-for-integer",
        AUTH + '[defaults]\nconcurrency = "eight"\n' + SITE,
        "defaults.concurrency",
        ("wrong type", "'eight'", "an integer from 1 to 64"),
    ),
    Bad(
        "wrong-type-boolean-for-integer",
        AUTH + "[run]\nparallel_targets = true\n" + SITE,
        "run.parallel_targets",
        ("wrong type", "found true"),
    ),
    Bad(
        "wrong-type-string-for-array",
        AUTH + '[defaults]\ninclude = "*.pdf"\n' + SITE,
        "defaults.include",
        ("wrong type", "an array"),
    ),
    Bad(
        "wrong-type-text-for-boolean",
        AUTH + SITE + '  write_empty_logs = "maybe"\n',
        "sites[0].libraries[0].write_empty_logs",
        ("wrong type", "true or false"),
    ),
    Bad(
        "wrong-type-table-for-sites",
        AUTH + '[sites]\nname = "marketing"\n',
        "sites",
        ("wrong type", "found a table", "[[sites]]"),
    ),
    Bad(
        "wrong-type-number-for-duration",
        AUTH + "[run]\nlock_timeout = 300\n" + SITE,
        "run.lock_timeout",
        ("wrong type", "90s"),
    ),
    Bad(
        "secret-in-a-number",
        AUTH + '[run]\nmax_connections = "${CLIENT_SECRET}"\n' + SITE,
        "run.max_connections",
        ("wrong type", "<redacted>"),
    ),
    Bad(
        "no-credential",
        AUTH.replace('client_secret = "${CLIENT_SECRET}"\n', "") + SITE,
        "auth",
        ("no credential", "certificate_path"),
        env={"TENANT_ID": "t", "CLIENT_ID": "c"},
    ),
    Bad(
        "secret-and-certificate",
        AUTH + 'certificate_path = "app.pem"\n' + SITE,
        "auth",
        ("both client_secret and certificate_path",),
        setup=make_pem,
    ),
    Bad(
        "certificate-file-missing",
        AUTH.replace("client_secret = ", "# ") + 'certificate_path = "certs/app.pem"\n' + SITE,
        "auth.certificate_path",
        ("no such file", "certs/app.pem"),
    ),
    Bad(
        "certificate-thumbprint-malformed",
        AUTH.replace("client_secret = ", "# ")
        + 'certificate_path = "app.pem"\ncertificate_thumbprint = "A1B2"\n'
        + SITE,
        "auth.certificate_thumbprint",
        ("not a thumbprint", "40 hex digits"),
        setup=make_pem,
    ),
    Bad(
        "passphrase-without-certificate",
        AUTH + 'certificate_passphrase = "x"\n' + SITE,
        "auth",
        ("without certificate_path",),
    ),
    Bad(
        "empty-secret",
        AUTH + SITE,
        "auth.client_secret",
        ("empty", "a hidden value"),
        env={**ENV, "CLIENT_SECRET": ""},
    ),
    Bad(
        "tenant-missing-everywhere",
        '[auth]\nclient_id = "c"\nclient_secret = "s"\n' + SITE,
        "auth.tenant_id",
        ("missing", "TENANT_ID"),
        env={},
    ),
    Bad(
        "tenant-with-spaces",
        AUTH + SITE,
        "auth.tenant_id",
        ("not an id",),
        env={**ENV, "TENANT_ID": "contoso tenant"},
    ),
    Bad(
        "variable-not-set",
        AUTH + SITE.replace('"/sites/marketing"', '"/sites/${SITE_PATH}"'),
        "sites[0].path",
        ("environment variable SITE_PATH is not set",),
    ),
    Bad(
        "variable-reference-malformed",
        AUTH + '[defaults]\nexclude = ["ok", "${not valid}"]\n' + SITE,
        "defaults.exclude[1]",
        ("malformed reference",),
    ),
    Bad(
        "variable-reference-unterminated",
        AUTH + '[defaults]\non_change = "run ${HOME"\n' + SITE,
        "defaults.on_change",
        ("malformed reference", "$${"),
    ),
    Bad(
        "site-neither-path-nor-display-name",
        AUTH + SITE.replace('path = "/sites/marketing"\n', ""),
        "sites[0]",
        ("neither path nor display_name",),
    ),
    Bad(
        "site-both-path-and-display-name",
        AUTH + SITE.replace("path =", 'display_name = "Marketing"\npath ='),
        "sites[0]",
        ("both path and display_name",),
    ),
    Bad(
        "site-path-not-sites-or-teams",
        AUTH + SITE.replace("/sites/marketing", "/personal/adele_contoso_com"),
        "sites[0].path",
        ("not a site path", "/sites/NAME or /teams/NAME"),
    ),
    Bad(
        "site-path-is-a-url",
        AUTH + SITE.replace("/sites/marketing", "https://contoso.sharepoint.com/sites/marketing"),
        "sites[0].path",
        ("not a site path",),
    ),
    Bad(
        "site-path-without-host",
        AUTH + SITE.replace('host = "contoso.sharepoint.com"\n', ""),
        "sites[0]",
        ("path without host",),
    ),
    Bad(
        "host-with-scheme",
        AUTH + SITE.replace('"contoso.sharepoint.com"', '"https://contoso.sharepoint.com"'),
        "sites[0].host",
        ("not a host name",),
    ),
    Bad(
        "site-name-with-a-space",
        AUTH + SITE.replace('name = "marketing"', 'name = "marketing team"'),
        "sites[0].name",
        ("not a site name",),
    ),
    Bad(
        "library-name-with-a-slash",
        AUTH + SITE.replace('name = "Documents"', 'name = "Shared/Documents"'),
        "sites[0].libraries[0].name",
        ("not a library name",),
    ),
    Bad(
        "library-missing-name",
        AUTH + SITE.replace('  name = "Documents"\n', "  concurrency = 2\n"),
        "sites[0].libraries[0].name",
        ("missing",),
    ),
    Bad(
        "site-without-libraries",
        AUTH + '[[sites]]\nname = "hr"\ndisplay_name = "HR"\n',
        "sites[0].libraries",
        ("missing", "[[sites.libraries]]"),
    ),
    Bad(
        "duplicate-site-names",
        AUTH + SITE + HR.replace('name = "hr"', 'name = "Marketing"'),
        "sites[1].name",
        ("duplicate site name 'Marketing'", "sites[0].name"),
    ),
    Bad(
        "duplicate-target-names",
        AUTH + SITE + library("documents"),
        "sites[0].libraries[1].name",
        ("duplicate target 'marketing/documents'",),
    ),
    Bad(
        "shared-local-root",
        AUTH + SITE + '  local_root = "mirror"\n' + library("Assets", 'local_root = "./mirror/"\n'),
        "sites[0].libraries[1].local_root",
        ("overlaps target marketing/Documents",),
    ),
    Bad(
        "nested-local-root",
        AUTH + SITE + '  local_root = "mirror"\n' + library("Assets", 'local_root = "mirror/a"\n'),
        "sites[0].libraries[1].local_root",
        ("overlaps",),
    ),
    Bad(
        "local-root-around-another",
        AUTH
        + SITE
        + '  local_root = "mirror/a/b"\n'
        + library("Assets", 'local_root = "mirror"\n'),
        "sites[0].libraries[1].local_root",
        ("overlaps",),
    ),
    Bad(
        "nested-local-root-through-dotdot",
        AUTH
        + SITE
        + '  local_root = "x/../mirror"\n'
        + library("Assets", 'local_root = "y/../mirror/z/.."\n'),
        "sites[0].libraries[1].local_root",
        ("overlaps",),
    ),
    Bad(
        "nested-local-root-through-a-symlink",
        AUTH + SITE + '  local_root = "mirror"\n' + library("Assets", 'local_root = "alias"\n'),
        "sites[0].libraries[1].local_root",
        ("overlaps",),
        setup=make_symlink,
    ),
    Bad(
        "local-root-inside-the-default-data-root",
        AUTH + SITE + library("Assets", 'local_root = "ms365_data/marketing"\n'),
        "sites[0].libraries[1].local_root",
        ("overlaps target marketing/Documents",),
    ),
    Bad(
        "invalid-glob",
        AUTH + '[defaults]\nexclude = ["*.tmp", "!"]\n' + SITE,
        "defaults.exclude[1]",
        ("not a valid gitignore-style pattern", "'!'"),
    ),
    Bad(
        "invalid-glob-trailing-backslash",
        AUTH + SITE + "  include = ['docs\\']\n",
        "sites[0].libraries[0].include[0]",
        ("not a valid gitignore-style pattern",),
    ),
    Bad(
        "empty-glob",
        AUTH + SITE + '  include = ["*.pdf", " "]\n',
        "sites[0].libraries[0].include[1]",
        ("empty pattern",),
    ),
    Bad(
        "absolute-glob",
        AUTH + '[defaults]\ninclude = ["/srv/mirror/*.pdf"]\n' + SITE,
        "defaults.include[0]",
        ("absolute pattern",),
    ),
    Bad(
        "absolute-windows-glob",
        AUTH + "[defaults]\nexclude = ['!C:\\Temp\\*']\n" + SITE,
        "defaults.exclude[0]",
        ("absolute pattern",),
    ),
    Bad(
        "bad-lock-timeout",
        AUTH + '[run]\nlock_timeout = "5 minutes"\n' + SITE,
        "run.lock_timeout",
        ("not a duration", "'5 minutes'"),
    ),
    Bad(
        "bad-permission-sweep",
        AUTH + SITE + '  permission_sweep = "weekly"\n',
        "sites[0].libraries[0].permission_sweep",
        ("not a permission sweep policy", '"always", "never"'),
    ),
    Bad(
        "zero-permission-sweep",
        AUTH + '[defaults]\npermission_sweep = "0h"\n' + SITE,
        "defaults.permission_sweep",
        ("a zero interval",),
    ),
    Bad(
        "bad-sweep-mode",
        AUTH + SITE + '  permission_sweep_mode = "roots"\n',
        "sites[0].libraries[0].permission_sweep_mode",
        ("unknown sweep mode", '"structure"', '"full"'),
    ),
    Bad(
        "bad-full-sweep",
        AUTH + '[defaults]\nfull_sweep = "monthly"\n' + SITE,
        "defaults.full_sweep",
        ("not a duration", '"never" or a duration above zero'),
    ),
    Bad(
        "zero-full-sweep",
        AUTH + '[defaults]\nfull_sweep = "0d"\n' + SITE,
        "defaults.full_sweep",
        ("a zero interval",),
    ),
    Bad(
        "sweep-share-above-one",
        AUTH + "[run]\nsweep_budget_share = 1.5\n" + SITE,
        "run.sweep_budget_share",
        ("a number above 0, at most 1",),
    ),
    Bad(
        "budget-url-not-redis",
        AUTH + '[run]\nbudget_url = "https://:hunter2@cache:6379/0"\n' + SITE,
        "run.budget_url",
        ("the scheme 'https' is not Redis's", "e.g. redis://cache:6379/0"),
    ),
    Bad(
        "budget-url-without-host",
        AUTH + '[run]\nbudget_url = "redis://:hunter2@:6379/0"\n' + SITE,
        "run.budget_url",
        ("no host",),
    ),
    Bad(
        "zero-ru-per-day",
        AUTH + "[run]\nru_per_day = 0\n" + SITE,
        "run.ru_per_day",
        ("a positive integer",),
    ),
    Bad(
        "zero-download-give-up",
        AUTH + '[defaults]\ndownload_give_up = "0s"\n' + SITE,
        "defaults.download_give_up",
        ("a zero duration", "a duration above zero"),
    ),
    Bad(
        "bad-download-give-up",
        AUTH + SITE + '  download_give_up = "a minute"\n',
        "sites[0].libraries[0].download_give_up",
        ("not a duration", "'a minute'", "above zero"),
    ),
    Bad(
        "number-download-give-up",
        AUTH + "[defaults]\ndownload_give_up = 60\n" + SITE,
        "defaults.download_give_up",
        ("wrong type", "such as 30s"),
    ),
    Bad(
        "concurrency-zero",
        AUTH + "[defaults]\nconcurrency = 0\n" + SITE,
        "defaults.concurrency",
        ("out of range", "found the number 0", "1 to 64"),
    ),
    Bad(
        "concurrency-unknown-word",
        AUTH + '[defaults]\nconcurrency = "max"\n' + SITE,
        "defaults.concurrency",
        ("wrong type", "'max'", '"auto"', "an integer from 1 to 64"),
    ),
    Bad(
        "concurrency-too-high",
        AUTH + SITE + "  concurrency = 65\n",
        "sites[0].libraries[0].concurrency",
        ("out of range", "65"),
    ),
    Bad(
        "percent-over-100",
        AUTH + SITE + HR + "  max_delete_percent = 150\n",
        "sites[1].libraries[0].max_delete_percent",
        ("out of range", "150", "a number from 0 to 100"),
    ),
    Bad(
        "negative-count",
        AUTH + "[defaults]\nmax_delete = -1\n" + SITE,
        "defaults.max_delete",
        ("out of range", ">= 0"),
    ),
    Bad(
        "parallel-targets-zero",
        AUTH + "[run]\nparallel_targets = 0\n" + SITE,
        "run.parallel_targets",
        ("out of range", "from 1 to 64"),
    ),
    Bad(
        "unknown-cloud",
        AUTH + '[cloud]\nname = "azure-germany"\n' + SITE,
        "cloud.name",
        ("unknown cloud", "global | usgov | usgov-dod | china"),
    ),
    Bad(
        "authority-not-https",
        AUTH + '[cloud]\nauthority_url = "http://127.0.0.1:8443"\ngraph_url = "https://h"\n' + SITE,
        "cloud.authority_url",
        ("not an https URL",),
    ),
    Bad(
        "graph-url-without-authority",
        AUTH + '[cloud]\ngraph_url = "https://127.0.0.1:8443"\n' + SITE,
        "cloud",
        ("only one of authority_url and graph_url",),
    ),
    Bad(
        "cloud-name-and-urls",
        AUTH
        + '[cloud]\nname = "global"\nauthority_url = "https://a"\ngraph_url = "https://g"\n'
        + SITE,
        "cloud",
        ("both name and explicit URLs",),
    ),
    Bad(
        "ca-bundle-missing",
        AUTH + '[cloud]\nname = "global"\nca_bundle = "emulator/ca.pem"\n' + SITE,
        "cloud.ca_bundle",
        ("no such file",),
    ),
    Bad("empty-sites", "sites = []\n" + AUTH, "sites", ("empty", "found []")),
    Bad("no-sites", AUTH, "sites", ("missing", "[[sites]]")),
    Bad(
        "several-problems",
        AUTH + "[defaults]\nconcurrency = 0\nmax_delete = -1\nmax_delete_percent = 101\n" + SITE,
        "defaults.concurrency",
        ("out of range", "(and 2 more problems)"),
    ),
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env in the working directory and none of the fallback variables set."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def failure(path: Path, env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=env)
    return caught.value


def assert_well_formed(error: ConfigError, path: Path, key: str, words: tuple[str, ...]) -> None:
    message = str(error)
    assert error.exit_code == 2
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message
    for word in words:
        assert word in message
    chain = "".join(traceback.format_exception(error))
    assert SECRET not in chain
    assert error.problems[0].startswith(f"{path}: ") and key in error.problems[0]
    assert all("\n" not in line and SECRET not in line for line in error.problems)


def test_the_catalogue_is_large_enough() -> None:
    assert len(CATALOGUE) >= 25
    assert len({bad.id for bad in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.id for bad in CATALOGUE])
def test_bad_configuration(tmp_path: Path, bad: Bad) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    if bad.setup is not None:
        bad.setup(directory)
    path = directory / "sites.toml"
    path.write_text(bad.text, encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))

    error = failure(path, bad.env)

    assert_well_formed(error, path, bad.key, bad.words)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_the_catalogue_building_blocks_are_valid(tmp_path: Path) -> None:
    """The catalogue's building blocks load, so each failure above is the case's own."""
    directory = tmp_path / "conf"
    directory.mkdir()
    path = directory / "sites.toml"
    path.write_text(AUTH + SITE + HR + library("Assets", 'local_root = "mirror"\n'), "utf-8")

    targets = load_config(path, environ=ENV).targets()

    assert [target.name for target in targets] == [
        "marketing/Documents",
        "hr/Policies",
        "hr/Assets",
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "sites.toml"

    error = failure(path, ENV)

    assert_well_formed(error, path, "", ("not found",))
    assert error.hint is not None
    assert "ms365sync init" in error.hint
    assert not path.parent.exists()


def test_a_directory_instead_of_a_file(tmp_path: Path) -> None:
    error = failure(tmp_path, ENV)

    assert_well_formed(error, tmp_path, "", ("is a directory",))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_bytes(AUTH.encode() + b'[defaults]\non_change = "\xff"\n')

    error = failure(path, ENV)

    assert_well_formed(error, path, "", ("not UTF-8",))


def test_missing_auth_names_the_fallback_variable(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(SITE, encoding="utf-8")

    error = failure(path, {"CLIENT_ID": "c", "CLIENT_SECRET": SECRET})

    assert_well_formed(error, path, "auth.tenant_id", ("missing", "TENANT_ID"))
    assert error.key == "auth.tenant_id"


def test_unreadable_dotenv_is_reported(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"TENANT_ID=\xff\n")
    path = tmp_path / "sites.toml"
    path.write_text(AUTH + SITE, encoding="utf-8")

    error = failure(path, ENV)

    assert_well_formed(error, tmp_path / ".env", "", ("cannot read the .env file",))
