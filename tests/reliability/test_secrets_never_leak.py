"""The client secret, access tokens and signed download URLs never leak.

The test records every access token the emulator's token authority issues and every
signed download URL (and its `tempauth`) it hands out, then drives ms365sync every way a
user does: the command line with --json, with -v --log-file, under network faults, with a
wrong secret, against a deleted library, `status`, and the library API (succeeding and
failing). Then it searches every artifact: stdout, stderr, log files, change logs,
.permissions.json and every other file ms365sync wrote, every table of the SQLite state,
exception messages and reprs, log records, and the emulator's request log. None may hold a
secret. No token cache file may exist (MSAL's cache is in memory); if a file held a
token it would have to be mode 0600.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from loguru import logger

from ms365sync import SharePointSync
from ms365sync.cli import cli
from ms365sync.emulator import BytesContent, Emulator, EmulatorConfig, FaultConfig, load_demo_tenant
from ms365sync.emulator.cli import sites_toml
from ms365sync.errors import MS365SyncError

SEARCHED = (  # kinds of artifact that must have been searched
    *("run.log", "(dump)", "requests.jsonl", "sync_changes_", ".permissions.json"),
    *("api exception", "log records", "wrong secret stderr", "json run stdout"),
)
WRONG_SECRET = "wrong~Sx8Qv1NotTheRealSecretValue42"
FAULTS = "429=0.05,503=0.05,drop=0.05,truncate=0.1,expire-url=0.2,expire-token=0.05,retry-after=0"


@dataclass
class Secrets:
    """Every credential that exists during the test."""

    secret: str
    tokens: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    listed: int = 0  # URLs handed out in delta pages (held in memory by the run)

    def needles(self) -> dict[str, str]:
        found = {"client secret": self.secret, "wrong secret": WRONG_SECRET}
        for index, token in enumerate(self.tokens):
            found[f"access token {index}"] = token
            found[f"signature of access token {index}"] = token.rsplit(".", 1)[1]
        for index, url in enumerate(self.urls):
            found[f"download URL {index}"] = url
            found[f"tempauth {index}"] = url.split("tempauth=", 1)[1].split("&", 1)[0]
        return found


def watch(emulator: Emulator) -> Secrets:
    """Record each token and signed URL the emulator issues."""
    secrets = Secrets(emulator.credentials.client_secret)
    authority, app = emulator.app.tokens, emulator.app
    issue, sign = authority.issue, app.download_url

    def issuing(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        token, claims = issue(*args, **kwargs)
        secrets.tokens.append(token)
        return token, claims

    def signing(*args: Any, **kwargs: Any) -> str:
        url = sign(*args, **kwargs)
        secrets.urls.append(url)
        secrets.listed += str(args[0].context.get("graph_path", "")).endswith("/delta")
        return url

    authority.issue = issuing  # type: ignore[method-assign]
    app.download_url = signing  # type: ignore[method-assign]
    return secrets


@dataclass
class Artifacts:
    """Texts to search, by where they came from."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str | bytes | None) -> None:
        if text is None:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.texts[where] = self.texts.get(where, "") + text

    def add_tree(self, root: Path, skip: set[Path]) -> None:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skip):
            self.add(str(path), path.read_bytes())
            if path.name == "state.db" or path.name.startswith("state.db.corrupt"):
                self.add(f"{path} (dump)", _dump(path))

    def leaks(self, needles: dict[str, str]) -> list[str]:
        return [
            f"{name} in {where}"
            for where, text in self.texts.items()
            for name, needle in needles.items()
            if needle and needle in text
        ]


def _dump(db: Path) -> str:
    """Every table of a SQLite file as SQL text (its WAL included)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


@contextmanager
def log_records(artifacts: Artifacts) -> Iterator[None]:
    """Every ms365sync log record (DEBUG and up) while the block runs."""
    logger.add(lambda m: artifacts.add("log records", str(m)), level="DEBUG")
    yield


def _cli(artifacts: Artifacts, name: str, *args: str) -> int:
    result = CliRunner().invoke(cli, list(args))
    artifacts.add(f"{name} stdout", result.stdout)
    artifacts.add(f"{name} stderr", result.stderr)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        artifacts.add(f"{name} exception", f"{result.exception!s} {result.exception!r}")
    return result.exit_code


def _api(emulator: Emulator, root: Path, secret: str) -> SharePointSync:
    creds = emulator.credentials
    return SharePointSync(
        sharepoint_host="contoso.sharepoint.com",
        site_path="/sites/hr",
        doc_library="Policies",
        local_root=root,
        tenant_id=creds.tenant_id,
        client_id=creds.client_id,
        client_secret=secret,
        session=emulator.session(),
    )


def test_no_artifact_holds_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    emulator = Emulator(
        load_demo_tenant(), EmulatorConfig(seed=3), request_log=tmp_path / "requests.jsonl"
    )
    secrets = watch(emulator)
    artifacts = Artifacts()
    config = tmp_path / "sites.toml"
    try:
        with emulator.server(ca_bundle_path=tmp_path / "ca.pem") as server:
            config.write_text(sites_toml(emulator, server.base_url, "ca.pem", "mirror"), "utf-8")
            _command_line_runs(emulator, config, artifacts)
            with log_records(artifacts):
                _library_api(emulator, tmp_path / "api", artifacts)
    finally:
        logger.remove()  # the command line's own sinks
        assert emulator.app.request_log is not None
        emulator.app.request_log.close()
    artifacts.add_tree(tmp_path, skip={config, tmp_path / "wrong.toml", tmp_path / "ca.pem"})
    assert secrets.tokens and secrets.urls  # there was something to leak
    assert secrets.listed  # including the URLs delta lists with each file
    searched = " ".join(artifacts.texts)
    for kind in SEARCHED:
        assert kind in searched, f"no {kind} among the artifacts"
    control = Artifacts({"the configuration": config.read_text()})
    assert control.leaks(secrets.needles()) == ["client secret in the configuration"]
    assert artifacts.leaks(secrets.needles()) == []
    assert _token_files(tmp_path, secrets) == []


def _command_line_runs(emulator: Emulator, config: Path, artifacts: Artifacts) -> None:
    """A good run, runs under faults and with expired URLs, a failing target, `status`,
    and a wrong secret; each with --json or -v --log-file."""
    tenant, base = emulator.tenant, ["--config", str(config)]
    verbose = ["-v", "--log-file", str(config.parent / "run.log")]
    assert _cli(artifacts, "json run", *base, "--json", *verbose) == 0
    for drive in tenant.drives():
        if not drive.system:
            tenant.add_file(drive, "fresh/new.bin", BytesContent(os.urandom(5000)))
    emulator.app.faults.configure(FaultConfig.parse(FAULTS))
    _cli(artifacts, "faulty run", *base, *verbose)
    emulator.app.faults.configure(FaultConfig.parse("expire-url=1.0,scope=download"))
    tenant.add_file(tenant.library("hr", "Policies"), "expired.bin", BytesContent(b"x" * 999))
    _cli(artifacts, "expired URLs", *base, "--json", *verbose)
    emulator.app.faults.configure(FaultConfig.parse("none"))
    tenant.delete_library(tenant.library("product", "Release Notes"))
    assert _cli(artifacts, "deleted library", *base, "--json", *verbose) == 1
    assert _cli(artifacts, "status", "--json", "status", *base) == 0
    wrong = config.with_name("wrong.toml")
    secret = emulator.credentials.client_secret
    wrong.write_text(config.read_text().replace(secret, WRONG_SECRET), "utf-8")
    assert _cli(artifacts, "wrong secret", "--config", str(wrong), *verbose) == 3


def _library_api(emulator: Emulator, root: Path, artifacts: Artifacts) -> None:
    with _api(emulator, root, emulator.credentials.client_secret) as api:
        changes = api.sync()
        artifacts.add("api result", repr(changes))
        artifacts.add("api files", repr(api.get_sharepoint_files()))
    with pytest.raises(MS365SyncError) as failure, _api(emulator, root, WRONG_SECRET) as api:
        api.sync()
    artifacts.add("api exception", f"{failure.value!s} {failure.value!r} {vars(failure.value)!r}")


def _token_files(root: Path, secrets: Secrets) -> list[str]:
    """Files holding an access token, with their modes: there should be none (the token
    cache is in memory), and one that existed would have to be mode 0600."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(token.encode() in data for token in secrets.tokens):
                found.append(f"{path} (mode {stat.S_IMODE(path.stat().st_mode):o})")
    return found
