"""`ms365sync emulator serve` and `proxy` as processes: what they write into the state
directory, public names reached through the proxy, plain HTTP, a request log in a state
directory that does not exist yet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from ms365sync.cli import cli


@dataclass
class Run:
    line: str  # the first stdout line starting with `ready`
    returncode: int | None = None
    stderr: str = ""


@contextmanager
def running(*args: str, ready: str) -> Iterator[Run]:
    """Run `ms365sync emulator ARGS` until the block ends (SIGTERM, then its exit code and
    stderr are filled in); ready once a stdout line starts with `ready` (read, not waited
    for with a sleep)."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "ms365sync", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    run = Run("")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith(ready):
            line = process.stdout.readline()
        assert line, f"`{' '.join(args)}` ended: {process.communicate()[1]}"
        run.line = line.strip()
        yield run
    finally:
        process.send_signal(signal.SIGTERM)
        run.stderr = process.communicate(timeout=30)[1]
        run.returncode = process.returncode


def _state(state_dir: Path) -> Any:
    return json.loads((state_dir / "emulator.json").read_text(encoding="utf-8"))


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_a_request_log_inside_a_state_dir_not_made_yet(tmp_path: Path) -> None:
    state_dir = tmp_path / "new" / "state"
    log = state_dir / "logs" / "requests.jsonl"
    args = ("serve", "--state-dir", str(state_dir), "--request-log", str(log))
    with running(*args, ready="emulator listening") as serve, _session() as session:
        state = _state(state_dir)
        url = f"{state['base_url']}/{state['tenant_id']}/v2.0/.well-known/openid-configuration"
        assert session.get(url, verify=state["ca_bundle"]).status_code == 200
    assert serve.returncode == 0, serve.stderr
    (entry,) = (json.loads(line) for line in log.read_text(encoding="utf-8").splitlines())
    assert entry["path"].endswith("/openid-configuration")


def test_export_over_plain_http_needs_no_ca_bundle(tmp_path: Path) -> None:
    with running("serve", "--plain-http", "--state-dir", str(tmp_path), ready="emulator"):
        state = _state(tmp_path)
        assert state["control_url"].startswith("http://127.0.0.1:")
        assert state["ca_bundle"] is None and state["served_names"] == []
        assert not (tmp_path / "ca.pem").exists()
        assert "ca_bundle" not in (tmp_path / "sites.toml").read_text(encoding="utf-8")
        out = tmp_path / "out"
        args = ["emulator", "export", str(out), "--state-dir", str(tmp_path)]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("exported ") and any(p.is_file() for p in out.rglob("*"))


def test_public_names_through_the_proxy_command(tmp_path: Path) -> None:
    with running("serve", "--public-names", "--state-dir", str(tmp_path), ready="emulator"):
        state = _state(tmp_path)
        names = state["served_names"]
        assert {"graph.microsoft.com", "login.microsoftonline.com"} <= set(names)
        assert {"contoso.sharepoint.com", "contoso-my.sharepoint.com"} <= set(names)
        proxy_args = ("proxy", "--state-dir", str(tmp_path))
        with running(*proxy_args, ready="emulator proxy listening") as proxy:
            url = proxy.line.split()[4]
            assert url.startswith("http://127.0.0.1:")
            with _session() as session:
                session.proxies = {"https": url}
                session.verify = state["ca_bundle"]
                tenant = state["tenant_id"]
                oidc = f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
                document = session.get(oidc).json()
                assert document["issuer"].startswith("https://login.microsoftonline.com/")
                with pytest.raises(requests.exceptions.ProxyError):
                    session.get("https://example.com/")
    assert proxy.returncode == 0, proxy.stderr
    (refusal,) = proxy.stderr.splitlines()
    assert refusal.startswith("emulator proxy: refused CONNECT example.com:443")
