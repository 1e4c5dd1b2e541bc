"""The demo tenant served over real HTTPS on loopback with a certificate credential (or a
client secret) and `[principals] expand = true`, refreshed at every run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ms365sync.config import load_config
from ms365sync.coordinator import Coordinator, RunReport
from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.emulator.cli import sites_toml
from ms365sync.emulator.login.keys import make_app_certificate


class Served:
    """A served emulator and the configuration that syncs it (with its snapshot) at `root`."""

    def __init__(self, emulator: Emulator, root: Path, config: Path) -> None:
        self.emulator, self.root, self.config = emulator, root, config

    def run(self) -> RunReport:
        coordinator = Coordinator(load_config(self.config))
        try:
            report = coordinator.run(coordinator.config.targets())
        finally:
            coordinator.close()
        assert report.ok, [str(r.error) for r in report.results]
        assert report.principals_error is None, report.principals_error
        return report

    def snapshot(self) -> dict[str, object]:
        return json.loads((self.root / "mirror" / ".principals.json").read_text())

    def change_logs(self) -> dict[str, dict[str, object]]:
        folder = self.root / "mirror" / "sync_logs"
        return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("principal_*"))}


def serve(tmp_path: Path, *, certificate: bool) -> Iterator[Served]:
    """The demo tenant served while the caller runs (a fixture body)."""
    emulator = Emulator(load_demo_tenant())
    with emulator.server(ca_bundle_path=tmp_path / "ca.pem") as server:
        text = sites_toml(emulator, server.base_url, "ca.pem", "mirror")
        secret = f'client_secret = "{emulator.credentials.client_secret}"'
        assert secret in text
        if certificate:
            cert = make_app_certificate(emulator.registration.display_name)
            emulator.registration.certificates.append(cert.cert_pem)
            (tmp_path / "app.pem").write_bytes(cert.key_pem + cert.cert_pem)
            text = text.replace(secret, 'certificate_path = "app.pem"')
        text += '\n[principals]\nexpand = true\nrefresh = "0s"\n'
        config = tmp_path / "sites.toml"
        config.write_text(text, "utf-8")
        yield Served(emulator, tmp_path, config)
