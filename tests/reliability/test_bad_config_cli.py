"""Bad configurations through the command line: a catalogue, each refused cleanly.

Each one exits 2 with one clear line on stderr (plus at most a hint) that names the file
and the key, prints nothing on stdout, never shows a secret, and writes nothing anywhere:
no mirror, no state, no log, not even in the home directory.
(tests/config/test_config_errors.py checks the messages of `load_config` itself.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from support.certificates import make_certificate
from support.harness import tree_snapshot

SECRET = "Zq8~n0t-a-real.client_secret_value"
ENV = {"TENANT_ID": "contoso.onmicrosoft.com", "CLIENT_ID": "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31"}
AUTH = f'[auth]\ntenant_id = "t1"\nclient_id = "c1"\nclient_secret = "{SECRET}"\n'
SITE = (
    '[[sites]]\nname = "marketing"\nhost = "contoso.sharepoint.com"\npath = "/sites/marketing"\n'
    '  [[sites.libraries]]\n  name = "Documents"\n'
)


@dataclass(frozen=True)
class Bad:
    """A bad setup, and what its one error line must name besides the file."""

    id: str
    text: str | bytes | None  # None: no configuration file at all
    names: tuple[str, ...]
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    names_file: bool = True


CERT = 'tenant_id = "t1"\nclient_id = "c1"\ncertificate_path = "app.pem"\n'
CERT = "[auth]\n" + CERT
PASS = f'certificate_passphrase = "{SECRET}"\n'
GIVE_UP = ("download_give_up",)


def _encrypted(tmp: Path) -> None:
    make_certificate(tmp, passphrase="the-right-passphrase")


def _cert_only(tmp: Path) -> None:
    make_certificate(tmp, parts="certificate")


def _key_only(tmp: Path) -> None:
    make_certificate(tmp, parts="key")


def _pem(data: bytes) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        (tmp / "app.pem").write_bytes(data)

    return write


def _directory(tmp: Path) -> None:
    (tmp / "sites.toml").mkdir()


CATALOGUE = [
    Bad("missing-file", None, ("sites.toml",)),
    Bad("a-directory", None, ("sites.toml",), setup=_directory),
    Bad("empty-file", "", ("auth",)),
    Bad("not-utf8", b'[auth]\ntenant_id = "\xff\xfe"\n', ("UTF-8",)),
    Bad("toml-syntax", AUTH + "[defaults]\nconcurrency = \n" + SITE, ("line 6",)),
    Bad("unknown-table", AUTH + "[defalts]\nconcurrency = 4\n" + SITE, ("defalts",)),
    Bad("unknown-library-key", AUTH + SITE + "  exlude = ['*.tmp']\n", ("exlude",)),
    Bad("text-for-integer", AUTH + '[defaults]\nconcurrency = "eight"\n' + SITE, ("concurrency",)),
    Bad("negative-max-delete", AUTH + "[defaults]\nmax_delete = -1\n" + SITE, ("max_delete",)),
    Bad("percent-over-100", AUTH + SITE + "  max_delete_percent = 150\n", ("max_delete_percent",)),
    Bad("bad-lock-timeout", AUTH + '[run]\nlock_timeout = "soon"\n' + SITE, ("lock_timeout",)),
    Bad("zero-parallel", AUTH + "[run]\nparallel_targets = 0\n" + SITE, ("parallel_targets",)),
    Bad("bad-sweep", AUTH + SITE + '  permission_sweep = "weekly"\n', ("permission_sweep",)),
    Bad("zero-give-up", AUTH + '[defaults]\ndownload_give_up = "0s"\n' + SITE, GIVE_UP),
    Bad("negative-give-up", AUTH + SITE + '  download_give_up = "-1m"\n', GIVE_UP),
    Bad("bare-give-up", AUTH + "[defaults]\ndownload_give_up = 60\n" + SITE, GIVE_UP),
    Bad("text-give-up", AUTH + SITE + '  download_give_up = "soon"\n', GIVE_UP),
    Bad("bad-glob", AUTH + '[defaults]\nexclude = ["*.tmp", "!"]\n' + SITE, ("exclude[1]",)),
    Bad("absolute-glob", AUTH + SITE + '  include = ["/srv/*.pdf"]\n', ("include[0]",)),
    Bad(
        "overlapping-roots",
        AUTH
        + SITE
        + '  local_root = "m"\n  [[sites.libraries]]\n  name = "A"\n  local_root = "m/x"\n',
        ("local_root", "overlaps"),
    ),
    Bad("duplicate-sites", AUTH + SITE + SITE, ("sites[1].name",)),
    Bad(
        "no-path-no-display-name",
        AUTH + SITE.replace('path = "/sites/marketing"\n', ""),
        ("sites[0]", "display_name"),
    ),
    Bad("host-with-scheme", AUTH + SITE.replace('"contoso', '"https://contoso'), ("host",)),
    Bad("no-sites", AUTH, ("sites",)),
    Bad("no-credential", '[auth]\ntenant_id = "t"\nclient_id = "c"\n' + SITE, ("auth",)),
    Bad(
        "variable-not-set",
        AUTH.replace('"t1"', '"${NO_SUCH_TENANT_VARIABLE}"') + SITE,
        ("tenant_id", "NO_SUCH_TENANT_VARIABLE"),
    ),
    Bad("unknown-cloud", AUTH + '[cloud]\nname = "mars"\n' + SITE, ("cloud.name",)),
    Bad("missing-ca-bundle", AUTH + '[cloud]\nca_bundle = "nope.pem"\n' + SITE, ("ca_bundle",)),
    Bad(
        "missing-certificate",
        AUTH.replace(f'client_secret = "{SECRET}"', 'certificate_path = "app.pem"') + SITE,
        ("certificate_path",),
    ),
    Bad(
        "secret-in-a-number",
        AUTH + f'[run]\nmax_connections = "{SECRET}"\n' + SITE,
        ("max_connections",),
    ),
    Bad(
        "url-with-broken-ipv6",
        AUTH + '[cloud]\ngraph_url = "https://[::1"\nauthority_url = "https://[::1"\n' + SITE,
        ("cloud.", "https://host[:port]"),
    ),
    Bad(
        "url-port-out-of-range",
        AUTH
        + '[cloud]\ngraph_url = "https://127.0.0.1:99999"\n'
        + 'authority_url = "https://127.0.0.1:99999"\n'
        + SITE,
        ("cloud.", "65535"),
    ),
    Bad("on-change-open-quote", AUTH + SITE + '  on_change = "echo \'x"\n', ("on_change",)),
    Bad("on-change-nul", AUTH + SITE + '  on_change = "echo\\u0000x"\n', ("on_change", "NUL")),
    Bad("non-ascii-digits", AUTH + '[run]\nlock_timeout = "\uff12s"\n' + SITE, ("lock_timeout",)),
    Bad("huge-pool", AUTH + "[run]\nmax_connections = 100000000\n" + SITE, ("max_connections",)),
    Bad("site-path-query", AUTH + SITE.replace("/sites/marketing", "/sites/m?x"), ("path",)),
    Bad("site-path-percent", AUTH + SITE.replace("/sites/marketing", "/sites/m%20x"), ("path",)),
    Bad(
        "nested-3000-deep",
        AUTH + "[defaults]\ninclude = " + "[" * 3000 + "]" * 3000 + "\n" + SITE,
        ("nested",),
    ),
    Bad("a-fifo", None, ("regular file",), setup=lambda tmp: os.mkfifo(tmp / "sites.toml")),
    Bad(
        "dev-zero",
        AUTH + SITE,
        ("/dev/zero", "regular file"),
        args=("--config", "/dev/zero"),
        names_file=False,
    ),
    Bad("too-large", AUTH + SITE + "# " + "x" * (1 << 20) + "\n", ("KiB",)),
    Bad(
        "windows-data-root", AUTH + '[defaults]\ndata_root = "C:\\\\ms365"\n' + SITE, ("data_root",)
    ),
    Bad(
        "unc-data-root",
        AUTH + '[defaults]\ndata_root = "\\\\\\\\srv\\\\share"\n' + SITE,
        ("data_root",),
    ),
    Bad("root-as-local-root", AUTH + SITE + '  local_root = "/"\n', ("local_root", "system")),
    Bad("etc-as-local-root", AUTH + SITE + '  local_root = "/etc"\n', ("local_root", "system")),
    Bad(
        "same-library-twice",
        AUTH + SITE + SITE.replace('name = "marketing"', 'name = "marketing2"'),
        ("sites[1].libraries[0].name", "already a target"),
    ),
    Bad(
        "library-names-differing-by-normalisation",
        AUTH
        + SITE.replace('"Documents"', '"Caf\u00e9"')
        + '  [[sites.libraries]]\n  name = "Cafe\u0301"\n',
        ("libraries[1].name", "duplicate"),
    ),
    Bad("cert-wrong-passphrase", CERT + PASS + SITE, ("certificate_passphrase",), setup=_encrypted),
    Bad("cert-no-passphrase", CERT + SITE, ("certificate_passphrase",), setup=_encrypted),
    Bad(
        "cert-only-certificate", CERT + SITE, ("certificate_path", "private key"), setup=_cert_only
    ),
    Bad("cert-key-no-thumbprint", CERT + SITE, ("certificate_thumbprint",), setup=_key_only),
    Bad("cert-empty-file", CERT + SITE, ("certificate_path", "empty"), setup=_pem(b"")),
    Bad("cert-der", CERT + SITE, ("certificate_path", "not a PEM"), setup=_pem(b"0\x82\x01\x0a")),
    Bad("cert-garbage", CERT + SITE, ("certificate_path",), setup=_pem(b"-----BEGIN junk")),
    Bad("unknown-only", AUTH + SITE, ("nope",), args=("--only", "nope"), names_file=False),
    Bad(
        "unknown-only-library",
        AUTH + SITE,
        ("marketing/Nope",),
        args=("--only", "marketing/Nope"),
        names_file=False,
    ),
]


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.id for bad in CATALOGUE])
def test_bad_configuration_exits_2_with_a_line_per_problem_and_writes_nothing(
    bad: Bad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray .env; relative paths land here
    for name in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    config = work / "sites.toml"
    if isinstance(bad.text, bytes):
        config.write_bytes(bad.text)
    elif bad.text is not None:
        config.write_text(bad.text, encoding="utf-8")
    if bad.setup is not None:
        bad.setup(work)
    before = tree_snapshot(tmp_path)
    env = {**ENV, **bad.env, "HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli, ["--config", str(config), *bad.args], env=env)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("ms365sync: error: ")]
    hints = [line for line in lines if line.startswith("ms365sync: hint: ")]
    # One line per problem (a file can have several), then at most one hint.
    assert errors and lines == errors + hints and len(hints) <= 1, result.stderr
    if bad.names_file:
        assert all("sites.toml" in line for line in errors), errors
    for word in bad.names:
        assert any(word.lower() in line.lower() for line in errors), errors
    assert SECRET not in result.stderr
    assert tree_snapshot(tmp_path) == before  # nothing written, anywhere


def test_the_catalogue_is_at_least_twenty_strong() -> None:
    assert len(CATALOGUE) >= 20
    assert len({bad.id for bad in CATALOGUE}) == len(CATALOGUE)
