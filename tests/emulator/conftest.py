"""Fixtures for the emulator's transport tests: directory, apps, HTTPS server, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ms365sync.emulator.control.settings import EmulatorConfig
from ms365sync.emulator.login.directory import SITES_READ_ALL, AppRegistration, Directory
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.adapter import mount
from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import (
    APP_ID,
    CERT_APP_ID,
    DOMAIN,
    FILE_BYTES,
    NO_ROLES_APP_ID,
    OTHER_APP_ID,
    SECRET,
    TENANT_ID,
    AppFactory,
    Certificate,
    ContentMap,
    MemoryContent,
    fake_graph_router,
    trusting_session,
)


@pytest.fixture(scope="session")
def certificate() -> Certificate:
    return Certificate()


@pytest.fixture(scope="session")
def unregistered_certificate() -> Certificate:
    return Certificate()


@pytest.fixture
def directory(certificate: Certificate) -> Directory:
    apps = [
        AppRegistration(APP_ID, "Sync app", secrets=[SECRET], roles=[SITES_READ_ALL]),
        AppRegistration(OTHER_APP_ID, "Other app", secrets=["other"], roles=[SITES_READ_ALL]),
        AppRegistration(NO_ROLES_APP_ID, "No roles", secrets=["none"], roles=[]),
        AppRegistration(CERT_APP_ID, "Cert app", certificates=[certificate.cert_pem]),
    ]
    return Directory(TENANT_ID, [DOMAIN], {a.client_id: a for a in apps})


@pytest.fixture
def contents() -> ContentMap:
    return {("b!drive", "file1"): MemoryContent(FILE_BYTES, "application/pdf")}


@pytest.fixture
def make_app(directory: Directory, contents: ContentMap) -> AppFactory:
    """Build an EmulatorApp over the fake router; keyword arguments go to EmulatorConfig."""

    def build(**config: Any) -> EmulatorApp:
        clock = config.pop("clock", None) or Clock()
        control = config.pop("control_router", None)
        app = EmulatorApp(
            directory,
            fake_graph_router(),
            EmulatorConfig(**config),
            clock=clock,
            control_router=control,
            content_for=lambda drive, item: contents.get((drive, item)),
        )
        return app

    return build


@pytest.fixture
def app(make_app: AppFactory) -> EmulatorApp:
    return make_app(admin_key="admin-key")


@pytest.fixture
def server(app: EmulatorApp, tmp_path: Path) -> Iterator[EmulatorServer]:
    """The app over real HTTPS on 127.0.0.1, stopped at the end of the test."""
    emulator_server = EmulatorServer(app, ca_bundle_path=tmp_path / "ca.pem")
    emulator_server.start()
    yield emulator_server
    emulator_server.stop()


@pytest.fixture
def https(server: EmulatorServer) -> Iterator[requests.Session]:
    assert server.ca_bundle_path is not None
    session = trusting_session(server.ca_bundle_path)
    yield session
    session.close()


@pytest.fixture
def inprocess(app: EmulatorApp) -> Iterator[requests.Session]:
    """A session whose https:// URLs are answered by the app in-process."""
    session = requests.Session()
    session.trust_env = False
    mount(session, app)
    yield session
    session.close()
