"""The configuration file: every key, defaults and overrides, ${VAR} and .env, --only, starters."""

from __future__ import annotations

import dataclasses
import os
import stat
import textwrap
from pathlib import Path

import pytest

from ms365sync.config import (
    ConfigFile,
    StarterSite,
    load_config,
    parse_duration,
    write_starter_config,
)
from ms365sync.errors import ConfigError
from ms365sync.graph.auth import ClientCertificate, ClientSecret
from ms365sync.graph.cloud import GLOBAL, US_GOV
from ms365sync.target import BudgetSettings, Filters, PermissionPolicy, SiteRef
from support.certificates import make_certificate

SECRET = "Zq8~n0t-a-real.client_secret_value"
PASSPHRASE = "pem-passphrase-for-tests"
ENV = {
    "TENANT_ID": "contoso.onmicrosoft.com",
    "CLIENT_ID": "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31",
    "CLIENT_SECRET": SECRET,
}
EXAMPLE = Path(__file__).resolve().parents[2] / "sites.example.toml"

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


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty working directory with none of the fallback variables set."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name in (*ENV, "CERT_PASSPHRASE", "CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    return cwd


def write(directory: Path, text: str, name: str = "sites.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


FULL = """\
[auth]
tenant_id = "${TENANT_ID}"
client_id = "${CLIENT_ID}"
client_secret = "${CLIENT_SECRET}"

[cloud]
name = "usgov"
ca_bundle = "certs/ca.pem"

[run]
parallel_targets = 3
max_connections = 24
lock_timeout = "1h30m"
ru_per_minute = 2500
ru_per_day = 2400000
sweep_budget_share = 0.1

[defaults]
data_root = "data"
include = ["Reports/**"]
exclude = ["*.bak"]
concurrency = 6
max_delete = 10
max_delete_percent = 12.5
permission_sweep = "12h"
permission_sweep_mode = "structure"
full_sweep = "30d"
write_empty_logs = true
on_change = "notify --all"
download_give_up = "2m"

[[sites]]
name = "marketing"
host = "Contoso.SharePoint.com"
path = "/sites/marketing/"
  [[sites.libraries]]
  name = "Documents"
  local_root = "/srv/mirror/marketing-docs"
  include = ["*.pdf", "*.docx"]
  exclude = []
  concurrency = 64
  max_delete = 0
  max_delete_percent = 100
  permission_sweep = "always"
  permission_sweep_mode = "full"
  full_sweep = "never"
  write_empty_logs = false
  on_change = "reindex marketing"
  download_give_up = "90s"

[[sites]]
name = "hr"
display_name = "Human Resources"
  [[sites.libraries]]
  name = "Shared Documents"
  permission_sweep = "never"
"""


def test_every_key_reaches_the_config_and_the_target_specs(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "certs", "not checked here", name="ca.pem")
    path = write(tmp_path / "conf", FULL)

    config = load_config(path, environ=ENV)

    ca = (tmp_path / "conf" / "certs" / "ca.pem").resolve()
    assert config.file == path
    assert (config.tenant_id, config.client_id) == (ENV["TENANT_ID"], ENV["CLIENT_ID"])
    assert config.credential == ClientSecret(SECRET)
    assert config.cloud == dataclasses.replace(US_GOV, ca_bundle=ca)
    assert (config.parallel_targets, config.max_connections) == (3, 24)
    docs, hr = config.targets()
    assert (docs.name, docs.site, docs.library) == ("marketing/Documents", "marketing", "Documents")
    assert docs.on_change == "reindex marketing"
    spec = docs.spec
    assert spec.name == "marketing/Documents"
    assert spec.site == SiteRef(host="contoso.sharepoint.com", path="/sites/marketing")
    assert spec.library == "Documents"
    assert spec.local_root == Path("/srv/mirror/marketing-docs")
    assert spec.filters == Filters(include=("*.pdf", "*.docx"), exclude=())
    assert (spec.concurrency, spec.max_delete_count, spec.max_delete_percent) == (64, 0, 100.0)
    assert spec.permissions == PermissionPolicy("always", sweep="full", full_interval_s=None)
    assert spec.write_empty_logs is False
    assert spec.lock_timeout == 5400.0
    assert spec.download_give_up == 90.0
    assert hr.spec.download_give_up == 120.0
    assert (hr.name, hr.on_change) == ("hr/Shared Documents", "notify --all")
    assert hr.spec.site == SiteRef(display_name="Human Resources")
    assert hr.spec.local_root == (tmp_path / "conf" / "data" / "hr" / "Shared Documents").resolve()
    assert hr.spec.filters == Filters(include=("Reports/**",), exclude=("*.bak",))
    assert (hr.spec.concurrency, hr.spec.max_delete_count) == (6, 10)
    assert hr.spec.max_delete_percent == 12.5
    assert hr.spec.permissions == PermissionPolicy("never", full_interval_s=30 * 86400.0)
    assert config.settings.run.budget() == BudgetSettings(2_500, 2_400_000, 0.1)
    assert hr.spec.write_empty_logs is True


def test_the_secret_never_shows_in_repr_or_str(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, AUTH + SITE), environ=ENV)

    assert config.credential == ClientSecret(SECRET)
    for text in (repr(config), str(config), repr(config.settings), repr(config.targets())):
        assert SECRET not in text


def test_a_certificate_credential_with_its_thumbprint_and_passphrase(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    pem, _ = make_certificate(tmp_path / "certs", passphrase=PASSPHRASE)
    assert pem.name == "app.pem"
    path = write(
        tmp_path,
        """\
        [auth]
        tenant_id = "t"
        client_id = "c"
        certificate_path = "certs/app.pem"
        certificate_thumbprint = "a1:b2:c3:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:12:34:56:78"
        certificate_passphrase = "${CERT_PASSPHRASE}"
        """
        + SITE,
    )

    # CLIENT_SECRET is set too: the fallback must not add it next to the certificate.
    config = load_config(path, environ={**ENV, "CERT_PASSPHRASE": PASSPHRASE})

    assert config.credential == ClientCertificate(
        private_key_path=(tmp_path / "certs" / "app.pem").resolve(),
        thumbprint="A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
        passphrase=PASSPHRASE,
    )
    assert PASSPHRASE not in repr(config)
    assert PASSPHRASE not in repr(config.settings)


def test_explicit_endpoints_make_a_custom_cloud(tmp_path: Path) -> None:
    write(tmp_path / "emulator", "pem", name="ca.pem")
    path = write(
        tmp_path,
        AUTH
        + """\
        [cloud]
        authority_url = "https://127.0.0.1:8443/"
        graph_url = "https://127.0.0.1:8443"
        ca_bundle = "emulator/ca.pem"
        """
        + SITE,
    )

    cloud = load_config(path, environ=ENV).cloud

    assert (cloud.name, cloud.authority_url, cloud.graph_url) == (
        "custom",
        "https://127.0.0.1:8443",
        "https://127.0.0.1:8443",
    )
    assert cloud.ca_bundle == (tmp_path / "emulator" / "ca.pem").resolve()
    assert cloud.scope == "https://graph.microsoft.com/.default"


@pytest.mark.parametrize("name", ["global", "usgov", "USGOV-DOD", "us-gov", "china"])
def test_cloud_names(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, AUTH + f'[cloud]\nname = "{name}"\n' + SITE)

    cloud = load_config(path, environ=ENV).cloud

    expected = {"usgov": "us-gov", "usgov-dod": "us-gov-dod"}.get(name.lower(), name.lower())
    assert cloud.name == expected


def test_defaults_when_the_optional_tables_are_absent(tmp_path: Path) -> None:
    path = write(tmp_path / "conf", AUTH + SITE)

    config = load_config(path, environ=ENV)

    assert config.cloud == GLOBAL
    assert (config.parallel_targets, config.max_connections) == (8, 32)
    (target,) = config.targets()
    spec = target.spec
    assert spec.local_root == (tmp_path / "conf" / "ms365_data" / "marketing" / "Documents")
    assert spec.filters == Filters(include=(), exclude=("~$*", "*.tmp"))
    assert (spec.concurrency, spec.max_delete_count, spec.max_delete_percent) == (None, 1000, 50.0)
    assert spec.permissions == PermissionPolicy("interval", 24 * 3600.0)
    assert (spec.write_empty_logs, spec.lock_timeout, target.on_change) == (False, 300.0, None)
    assert spec.download_give_up == 60.0


def test_a_library_overrides_only_the_keys_it_sets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        AUTH
        + """\
        [defaults]
        exclude = ["*.tmp"]
        concurrency = 4
        on_change = "index"
        permission_sweep = "30m"
        [[sites]]
        name = "marketing"
        host = "contoso.sharepoint.com"
        path = "/teams/marketing"
          [[sites.libraries]]
          name = "Documents"
          exclude = ["*.psd"]
          on_change = ""
          [[sites.libraries]]
          name = "Assets"
          concurrency = 2
        """,
    )

    docs, assets = load_config(path, environ=ENV).targets()

    assert docs.spec.filters.exclude == ("*.psd",)  # replaced, not merged
    assert (docs.spec.concurrency, docs.on_change) == (4, None)
    assert assets.spec.filters.exclude == ("*.tmp",)
    assert (assets.spec.concurrency, assets.on_change) == (2, "index")
    assert docs.spec.permissions == assets.spec.permissions == PermissionPolicy("interval", 1800.0)


def test_concurrency_auto_in_any_case_or_from_a_variable_follows_the_round_trips(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        AUTH
        + """\
        [defaults]
        concurrency = 4
        [[sites]]
        name = "marketing"
        host = "contoso.sharepoint.com"
        path = "/teams/marketing"
          [[sites.libraries]]
          name = "Documents"
          concurrency = "Auto"
          [[sites.libraries]]
          name = "Assets"
          concurrency = "${CONCURRENCY}"
          [[sites.libraries]]
          name = "Archive"
        """,
    )

    docs, assets, archive = load_config(path, environ={**ENV, "CONCURRENCY": "auto"}).targets()

    assert (docs.spec.concurrency, assets.spec.concurrency, archive.spec.concurrency) == (
        None,
        None,
        4,
    )


def test_paths_are_relative_to_the_file_and_expand_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write(
        tmp_path / "etc" / "ms365sync",
        AUTH
        + """\
        [defaults]
        data_root = "../mirror"
        """
        + SITE
        + """\
          [[sites.libraries]]
          name = "Assets"
          local_root = "~/assets"
        """,
    )

    docs, assets = load_config(path, environ=ENV).targets()

    assert docs.spec.local_root == tmp_path / "etc" / "mirror" / "marketing" / "Documents"
    assert assets.spec.local_root == tmp_path / "home" / "assets"


def test_loading_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, AUTH + SITE)
    before = sorted(tmp_path.rglob("*"))

    load_config(path, environ=ENV)

    assert sorted(tmp_path.rglob("*")) == before


# ------------------------------------------------------------------ ${VAR} and .env


def test_interpolation_defaults_escapes_and_typed_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        AUTH
        + """\
        [defaults]
        concurrency = "${CONCURRENCY}"
        write_empty_logs = "${EMPTY_LOGS:-true}"
        max_delete = "${MAX_DELETE:-7}"
        exclude = ["${EXTRA}", "*.tmp"]
        on_change = "run $${HOME}/x ${EMPTY:-fallback} [${EMPTY}] ${NESTED}"
        """
        + SITE,
    )
    env = {**ENV, "CONCURRENCY": "12", "EXTRA": "*.bak", "EMPTY": "", "NESTED": "${TENANT_ID}"}

    (target,) = load_config(path, environ=env).targets()

    assert (target.spec.concurrency, target.spec.max_delete_count) == (12, 7)
    assert target.spec.write_empty_logs is True
    assert target.spec.filters.exclude == ("*.bak", "*.tmp")
    # $${ is a literal ${; ${X:-d} uses d when X is empty; substituted text is not expanded.
    assert target.on_change == "run ${HOME}/x fallback [] ${TENANT_ID}"


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    config = load_config(write(tmp_path, AUTH + SITE))

    assert config.tenant_id == ENV["TENANT_ID"]


def test_dotenv_next_to_the_file_over_cwd_and_environ_over_both(
    tmp_path: Path, _isolated: Path
) -> None:
    conf = tmp_path / "conf"
    write(conf, "TENANT_ID=from-file-dir\nCLIENT_ID=from-file-dir\n", name=".env")
    write(_isolated, "TENANT_ID=from-cwd\nCLIENT_ID=from-cwd\nCLIENT_SECRET=cwd-secret\n", ".env")
    path = write(conf, AUTH + SITE)

    config = load_config(path, environ={"CLIENT_ID": "from-environ"})

    assert config.tenant_id == "from-file-dir"
    assert config.client_id == "from-environ"
    assert config.credential == ClientSecret("cwd-secret")
    assert "TENANT_ID" not in os.environ  # .env values are never exported


def test_auth_falls_back_to_the_variables_the_original_tool_read(
    tmp_path: Path, _isolated: Path
) -> None:
    lines = "".join(f"{name}={value}\n" for name, value in ENV.items())
    write(_isolated, lines, name=".env")

    config = load_config(write(tmp_path, SITE), environ={})

    assert (config.tenant_id, config.client_id) == (ENV["TENANT_ID"], ENV["CLIENT_ID"])
    assert config.credential == ClientSecret(SECRET)


def test_auth_keys_in_the_file_win_over_the_fallback(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\ntenant_id = "fabrikam.com"\n' + SITE)

    config = load_config(path, environ=ENV)

    assert config.tenant_id == "fabrikam.com"
    assert config.client_id == ENV["CLIENT_ID"]
    assert config.credential == ClientSecret(SECRET)


# ------------------------------------------------------------------ --only


@pytest.fixture
def three_targets(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        AUTH
        + SITE
        + """\
          [[sites.libraries]]
          name = "Assets"
        [[sites]]
        name = "hr"
        display_name = "HR"
          [[sites.libraries]]
          name = "Policies"
        """,
    )


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        ([], ["marketing/Documents", "marketing/Assets", "hr/Policies"]),
        (["marketing"], ["marketing/Documents", "marketing/Assets"]),
        (["marketing/Assets"], ["marketing/Assets"]),
        (["HR", "MARKETING/documents"], ["marketing/Documents", "hr/Policies"]),
        (["hr/Policies", "hr", "hr/"], ["hr/Policies"]),
    ],
)
def test_select(three_targets: Path, only: list[str], expected: list[str]) -> None:
    config = load_config(three_targets, environ=ENV)

    assert [target.name for target in config.select(only)] == expected


def test_select_an_unknown_name_lists_the_valid_ones(three_targets: Path) -> None:
    config = load_config(three_targets, environ=ENV)

    with pytest.raises(ConfigError) as caught:
        config.select(["hr", "marketing/Brand"])

    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "'marketing/Brand'" in message
    assert str(three_targets) in message
    assert "marketing, hr, marketing/Documents, marketing/Assets, hr/Policies" in message


# ------------------------------------------------------------------ the example and the starter


def test_the_example_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    config = load_config(EXAMPLE)

    sites = {target.site: target.spec.site for target in config.targets()}
    assert sites["marketing"].path == "/sites/marketing"
    assert sites["hr"].display_name == "Human Resources"
    assert len(config.targets()) >= 2
    assert SECRET not in repr(config)


def test_the_example_file_shows_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    tables: list[type] = [ConfigFile]
    keys: set[str] = set()
    while tables:
        model = tables.pop()
        for name, field in model.model_fields.items():
            keys.add(name)
            inner = field.annotation
            for candidate in getattr(inner, "__args__", (inner,)):
                if (
                    isinstance(candidate, type)
                    and candidate.__module__ == "ms365sync.config.schema"
                ):
                    tables.append(candidate)
    # A value as `key = `, a table as `[key]`, an array of tables as `[[sites.key]]`.
    missing = sorted(key for key in keys if f"{key} = " not in text and f"{key}]" not in text)
    assert missing == []


def test_starter_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"

    write_starter_config(path)

    config = load_config(path, environ=ENV)
    assert [target.name for target in config.targets()] == ["example/Documents"]
    assert config.credential == ClientSecret(SECRET)
    text = path.read_text(encoding="utf-8")
    assert '"${TENANT_ID}"' in text
    assert SECRET not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_starter_file_lists_discovered_sites(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    sites = [
        StarterSite.from_url(
            "https://contoso.sharepoint.com/sites/Marketing%20Team",
            libraries=["Documents", "Brand Assets"],
        ),
        StarterSite.from_url("https://contoso.sharepoint.com/teams/marketing-team/"),
        StarterSite.from_url("https://contoso.sharepoint.com/", display_name="Contoso Intranet"),
    ]

    write_starter_config(path, sites=sites)

    targets = load_config(path, environ=ENV).targets()
    assert [target.name for target in targets] == [
        "Marketing-Team/Documents",
        "Marketing-Team/Brand Assets",
        "marketing-team-2/Documents",
        "Contoso-Intranet/Documents",
    ]
    assert targets[0].spec.site == SiteRef("contoso.sharepoint.com", "/sites/Marketing Team")
    assert targets[3].spec.site == SiteRef("contoso.sharepoint.com", None, "Contoso Intranet")


def test_starter_file_never_overwrites(tmp_path: Path) -> None:
    path = write(tmp_path, "# mine\n")

    with pytest.raises(ConfigError) as caught:
        write_starter_config(path)

    assert caught.value.exit_code == 2
    assert str(path) in str(caught.value)
    assert path.read_text(encoding="utf-8") == "# mine\n"


def test_starter_file_with_an_unusable_site_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"

    with pytest.raises(ConfigError, match=r"sites\[0\]\.name"):
        write_starter_config(path, sites=[StarterSite("bad name", "contoso.sharepoint.com")])

    assert not path.exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("1h30m", 5400), ("1.5H", 5400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "m", "1h-30m", "-5m", "1w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
