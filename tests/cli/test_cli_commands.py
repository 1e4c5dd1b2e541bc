"""check, init, status, watch, the emulator subcommands, help texts and the version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import msal
import pytest
import requests
import tomli_w
import tomllib
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.config import load_config
from support.cli import served


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    """Every command, the lazily registered ones too (loaded through get_command)."""
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix}{name} "))
    return found


@pytest.mark.parametrize(("name", "command"), _commands(cli), ids=str)
def test_every_command_has_help(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20, f"{name} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help text"
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_top_level_help_and_version() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output and "demo" in result.output
    version = CliRunner().invoke(cli, ["--version"])
    assert version.exit_code == 0 and "ms365sync" in version.output


def test_check_resolves_every_target(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        result = CliRunner().invoke(cli, ["--json", "check", "--config", str(world.config)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["targets"]
    assert len(rows) == 6 and all(r["drive_id"].startswith("b!") for r in rows)
    marketing = next(r for r in rows if r["target"] == "marketing/Shared Documents")
    assert marketing["library"] == "Documents"  # the title differs from the URL segment
    assert not (tmp_path / "mirror").exists()  # check syncs nothing


def _edit_libraries(
    config: Path, edit: dict[str, Any], *, add: dict[str, str] | None = None
) -> None:
    """Rewrite a sites.toml: `edit` maps "site/library" to keys set on that library's
    table; `add` maps a site to the name of a library table appended to it."""
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    for site in document["sites"]:
        for library in site["libraries"]:
            library.update(edit.get(f"{site['name']}/{library['name']}", {}))
        if add and site["name"] in add:
            site["libraries"].append({"name": add[site["name"]]})
    config.write_text(tomli_w.dumps(document), encoding="utf-8")


def test_check_reports_two_targets_for_one_library(tmp_path: Path) -> None:
    """The title and the URL segment of one library: `check` fails the target listed later."""
    with served(tmp_path) as world:
        _edit_libraries(world.config, {}, add={"marketing": "Documents"})
        result = CliRunner().invoke(cli, ["--config", str(world.config), "--json", "check"])
    assert result.exit_code == 1
    rows = {r["target"]: r for r in json.loads(result.stdout)["targets"]}
    assert rows["marketing/Shared Documents"]["result"] == "ok"
    later = rows["marketing/Documents"]
    assert later["result"].startswith("FAILED") and "same library" in later["result"]
    assert "marketing/Shared Documents" in later["result"]
    assert later["drive_id"] == rows["marketing/Shared Documents"]["drive_id"]


def test_check_reports_an_unknown_library(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        text = world.config.read_text().replace('name = "Policies"', 'name = "Nope"', 1)
        world.config.write_text(text)
        result = CliRunner().invoke(cli, ["--config", str(world.config), "--json", "check"])
    assert result.exit_code == 1
    row = next(r for r in json.loads(result.stdout)["targets"] if r["target"] == "hr/Nope")
    assert "Nope" in row["result"] and "Policies" in row["result"]


def test_init_writes_a_loadable_starter_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "sites.toml"
    result = CliRunner().invoke(cli, ["init", "--output", str(target)])
    assert result.exit_code == 0, result.output
    for var in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.setenv(var, "x")
    assert load_config(target).targets()
    before = target.read_text()
    again = CliRunner().invoke(cli, ["init", "--output", str(target)])
    assert again.exit_code == 2 and target.read_text() == before


def test_status_before_and_after_a_run(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        runner = CliRunner()
        before = runner.invoke(cli, ["--config", str(world.config), "--json", "status"])
        assert before.exit_code == 0
        assert all(r["result"] == "never synced" for r in json.loads(before.stdout)["targets"])
        assert runner.invoke(cli, ["--config", str(world.config), "--only", "hr"]).exit_code == 0
        after = runner.invoke(cli, ["--config", str(world.config), "--json", "status"])
    rows = {r["target"]: r for r in json.loads(after.stdout)["targets"]}
    # Of the demo's 11 files there, a notebook's two and a malware-flagged one are skipped.
    assert rows["hr/Policies"]["result"] == "ok" and rows["hr/Policies"]["files"] == 8
    assert rows["hr/Policies"]["pending_errors"] == 0
    skipped = {row["path"]: row["cause"] for row in rows["hr/Policies"]["unmirrored"]["skipped"]}
    assert skipped == {
        "HR Notebook/Open Notebook.onetoc2": "package",
        "HR Notebook/Policy questions.one": "package",
        "expense-macro.xlsm": "malware",
    }
    assert rows["marketing/Brand Assets"]["result"] == "never synced"


def test_watch_runs_until_sigterm_and_finishes_cleanly(tmp_path: Path) -> None:
    hook = tmp_path / "hook.py"
    seen = tmp_path / "seen.txt"
    hook.write_text(f"import sys\nopen({str(seen)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    with served(tmp_path) as world:
        text = world.config.read_text().replace(
            "[defaults]\n", f'[defaults]\non_change = "{sys.executable} {hook}"\n'
        )
        world.config.write_text(text)
        process = subprocess.Popen(
            [sys.executable, "-m", "ms365sync", "--config", str(world.config), "--only", "hr",
             "watch", "--every", "1h"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            said: list[str] = []
            # The first cycle ends with "cycle done at ...; next at ..." and watch then waits
            # an hour: the signal lands between runs, whatever the machine's speed.
            while not any("cycle done at" in line for line in said):
                line = process.stderr.readline()
                assert line, "".join(said)  # the process ended before its first cycle did
                said.append(line)
            process.send_signal(signal.SIGTERM)
            _out, rest = process.communicate(timeout=120)
            err = "".join(said) + rest
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err  # between runs: the last run's code
    logs = seen.read_text().splitlines()
    assert len(logs) == 2 and all(Path(p).is_file() for p in logs)  # one log per library, once
    assert "stopped (SIGTERM) between runs" in err


def test_emulator_serve_apply_export(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "ms365sync", "emulator", "serve", "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "emulator listening on https://127.0.0.1:" in line, server.stderr
        assert (state / "emulator.json").stat().st_mode & 0o777 == 0o600
        scenario = tmp_path / "s.toml"
        scenario.write_text(
            'site = "marketing"\nlibrary = "Documents"\n'
            '[[change]]\nop = "add_file"\npath = "hello.txt"\ntext = "hi"\n'
        )
        applied = CliRunner().invoke(cli, ["emulator", "apply", str(scenario),
                                           "--state-dir", str(state)])  # fmt: skip
        assert applied.exit_code == 0, applied.output
        assert "1 changes applied" in applied.output
        out = tmp_path / "truth"
        exported = CliRunner().invoke(cli, ["emulator", "export", str(out),
                                            "--state-dir", str(state)])  # fmt: skip
        assert exported.exit_code == 0, exported.output
        library = out / "marketing" / "Shared Documents"
        assert (library / "data" / "hello.txt").read_text() == "hi"
        assert "hello.txt" in json.loads((library / ".permissions.json").read_text())
        synced = CliRunner().invoke(cli, ["--config", str(state / "sites.toml"), "--only",
                                          "marketing/Shared Documents"])  # fmt: skip
        assert synced.exit_code == 0, synced.output
        mirror = state / "mirror" / "marketing" / "Shared Documents"
        assert (mirror / "data" / "hello.txt").read_text() == "hi"
        _check_membership_through_sharepoint_rest(state, tmp_path)
        bad = tmp_path / "bad.toml"
        bad.write_text('[[change]]\nop = "explode"\n')
        refused = CliRunner().invoke(cli, ["emulator", "apply", str(bad),
                                           "--state-dir", str(state)])  # fmt: skip
        assert refused.exit_code == 2 and "bad.toml" in refused.stderr  # bad input
        assert refused.stderr.startswith("ms365sync: error: ")
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0


def _check_membership_through_sharepoint_rest(state: Path, tmp_path: Path) -> None:
    """A membership scenario applied by the CLI, read back through SharePoint REST with the
    certificate `serve` wrote (MSAL signs the assertion, as a client would)."""
    scenario = tmp_path / "members.toml"
    scenario.write_text(
        'site = "marketing"\n'
        '[[change]]\nop = "add_guest"\nname = "Gus Guest"\nemail = "gus@fabrikam.com"\n'
        '[[change]]\nop = "add_site_group_member"\nsite_group = "Visitors"\n'
        'member = "user:gus@fabrikam.com"\n'
    )
    applied = CliRunner().invoke(cli, ["emulator", "apply", str(scenario),
                                       "--state-dir", str(state)])  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert "2 changes applied" in applied.output
    info = json.loads((state / "emulator.json").read_text())
    certificate = Path(info["client_certificate"])
    assert certificate.stat().st_mode & 0o777 == 0o600
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_bundle"]
    app = msal.ConfidentialClientApplication(
        info["client_id"],
        client_credential={
            "private_key": certificate.read_text(),
            "thumbprint": info["client_certificate_thumbprint"],
        },
        authority=f"{info['authority_url']}/{info['tenant_id']}",
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_for_client(["https://contoso.sharepoint.com/.default"])
    assert "access_token" in result, result
    visitors = session.get(
        f"{info['sharepoint_url']}/sites/marketing/_api/web/associatedvisitorgroup/users",
        headers={
            "Authorization": f"Bearer {result['access_token']}",
            "Accept": "application/json;odata=nometadata",
        },
    )
    assert visitors.status_code == 200, visitors.text
    logins = [user["LoginName"] for user in visitors.json()["value"]]
    assert "i:0#.f|membership|gus_fabrikam.com#ext#@contoso.onmicrosoft.com" in logins


def test_emulator_commands_without_a_server_fail_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["emulator", "export", str(tmp_path / "o"),
                                      "--state-dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 1 and "emulator serve" in result.stderr
    assert result.stderr.startswith("ms365sync: error: ") and "Error:" not in result.stderr


def test_init_discover_lists_sites_and_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served(tmp_path) as world:
        creds = world.emulator.credentials
        monkeypatch.setenv("TENANT_ID", creds.tenant_id)
        monkeypatch.setenv("CLIENT_ID", creds.client_id)
        monkeypatch.setenv("CLIENT_SECRET", creds.client_secret)
        base = world.config.read_text().split('graph_url = "')[1].split('"')[0]
        target = tmp_path / "discovered.toml"
        result = CliRunner().invoke(cli, [
            "init", "--discover", "--output", str(target), "--authority-url", base,
            "--graph-url", base, "--ca-bundle", str(tmp_path / "ca.pem"),
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "with 3 discovered sites" in result.output
        config = load_config(target)
        # The file keeps the endpoints and the CA it was discovered with: `check` passes on it.
        checked = CliRunner().invoke(cli, ["--json", "check", "--config", str(target)])
    assert checked.exit_code == 0, checked.output
    assert config.cloud.graph_url == base.rstrip("/")
    assert config.cloud.ca_bundle == (tmp_path / "ca.pem").absolute()
    names = {t.name for t in config.targets()}
    assert "marketing/Shared Documents" in names and "hr/Policies" in names


def test_init_discover_without_credentials_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init", "--discover"])
    assert result.exit_code == 2 and "TENANT_ID" in result.stderr
    assert not (tmp_path / "sites.toml").exists()


def test_watch_rejects_a_bad_duration(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["watch", "--every", "soon"])
    assert result.exit_code == 2 and "soon" in result.output


def test_serve_rejects_bad_fault_spec(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["emulator", "serve", "--faults", "429=lots", "--state-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--faults" in result.stderr
    assert "ms365sync: error: Invalid value for --faults" in result.stderr
    assert "\nError:" not in result.stderr
    assert not (tmp_path / "emulator.json").exists()


def test_check_reports_unusable_local_roots_and_hooks_per_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local root that cannot be created and an on_change program that is nowhere (or not
    executable) fail their own targets; the other targets pass."""
    monkeypatch.chdir(tmp_path)  # where the hook would run, so ./hook.py is found
    (tmp_path / "blocked").write_text("a file where a folder should be", encoding="utf-8")
    hook = tmp_path / "hook.py"
    hook.write_text("", encoding="utf-8")
    runnable = {"on_change": f"{sys.executable} {hook}"}
    libraries = {
        "hr/Policies": {"on_change": "no-such-ms365sync-hook -q"},
        "marketing/Brand Assets": {"local_root": "blocked/brand"},
        "product/Release Notes": {"on_change": "./hook.py"},
        "hr/Shared Documents": runnable,
        "marketing/Shared Documents": runnable,
        "product/Shared Documents": runnable,
    }
    with served(tmp_path) as world:
        _edit_libraries(world.config, libraries)
        result = CliRunner().invoke(cli, ["--config", str(world.config), "--json", "check"])
    assert result.exit_code == 1, result.output
    rows = {r["target"]: r["result"] for r in json.loads(result.stdout)["targets"]}
    assert "no-such-ms365sync-hook" in rows["hr/Policies"] and "PATH" in rows["hr/Policies"]
    brand = rows["marketing/Brand Assets"]
    assert brand.startswith("FAILED") and "blocked is not a folder" in brand
    # ./hook.py is there but is not executable.
    assert "hook.py is not an executable file" in rows["product/Release Notes"]
    assert [t for t, r in rows.items() if r == "ok"] == [
        "hr/Shared Documents", "marketing/Shared Documents", "product/Shared Documents",
    ]  # fmt: skip


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_check_reports_a_local_root_that_is_not_writable(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        (tmp_path / "mirror").mkdir(mode=0o500)
        try:
            result = CliRunner().invoke(cli, ["--config", str(world.config), "--json", "check"])
        finally:
            (tmp_path / "mirror").chmod(0o700)
    assert result.exit_code == 1
    rows = json.loads(result.stdout)["targets"]
    assert all("mirror is not writable" in r["result"] for r in rows)
