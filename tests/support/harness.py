"""Test harness: a small emulated tenant served in-process (or over HTTPS) and a syncer on it.

`World` builds clients whose session records every request it sends (`Recorder`), so tests
count downloads, delta pages and permission reads from the wire, not from the engine's own
counters, and can react to a response (advance the emulator's clock, request a resync, revoke
access) at an exact point of a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from ms365sync.emulator import BytesContent, Drive, Emulator, FaultConfig, Role, Tenant
from ms365sync.graph import (
    GLOBAL,
    ClientSecret,
    Cloud,
    Credential,
    GraphClient,
    MsalTokenProvider,
    ThrottleGate,
    custom_cloud,
)
from ms365sync.graph.session import build_session
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from ms365sync.target import SiteRef, TargetSpec

HOST = "contoso.sharepoint.com"
FIRST_FILES = {
    "readme.md": b"# Marketing\n",
    "Plans/2026/plan.txt": b"plan v1",
    "Plans/budget.csv": b"a,b\n1,2\n",
    "Finance/q1.txt": b"q1 numbers",
}


@dataclass(frozen=True)
class Call:
    """One request the client sent and the status it got."""

    method: str
    url: str
    status: int
    batch_urls: tuple[str, ...] = ()  # the member URLs of a $batch request
    batch_results: tuple[tuple[str, int], ...] = ()  # (member URL, its status)

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.url).path)

    @property
    def is_download(self) -> bool:
        return self.path.endswith("/_layouts/15/download.aspx")

    @property
    def is_delta(self) -> bool:
        return self.path.endswith("/root/delta")

    @property
    def is_content(self) -> bool:
        return self.path.endswith("/content")


Reaction = Callable[[Call], None]


@dataclass
class Recorder:
    """Collects every response of a session (a `requests` response hook)."""

    calls: list[Call] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        members: tuple[str, ...] = ()
        results: tuple[tuple[str, int], ...] = ()
        if request.url is not None and request.url.endswith("/$batch") and request.body:
            body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
            by_id = {m["id"]: m["url"] for m in json.loads(body)["requests"]}
            members = tuple(by_id.values())
            if response.status_code == 200:
                answers = response.json()["responses"]
                results = tuple((by_id[a["id"]], int(a["status"])) for a in answers)
        call = Call(str(request.method), str(request.url), response.status_code, members, results)
        with self._lock:
            self.calls.append(call)
            reactions = list(self.reactions)
        for react in reactions:
            react(call)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def downloads(self, status: int | None = 200) -> list[Call]:
        """Download-host fetches (200 and 206 both count as a body when status is 200)."""
        wanted = {200, 206} if status == 200 else {status}
        return [c for c in self.calls if c.is_download and (status is None or c.status in wanted)]

    def delta_pages(self) -> list[Call]:
        return [c for c in self.calls if c.is_delta]

    def permission_reads(self) -> list[str]:
        """Every permission read (batch members and direct GETs), as URLs."""
        found: list[str] = []
        for call in self.calls:
            found.extend(u for u in call.batch_urls if u.rstrip("/").endswith("/permissions"))
            if call.path.endswith("/permissions") and call.method == "GET":
                found.append(call.url)
        return found

    def batches(self) -> list[Call]:
        return [c for c in self.calls if c.batch_urls]

    def token_requests(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/oauth2/v2.0/token")]


def once(condition: Callable[[Call], bool], action: Callable[[], object]) -> Reaction:
    """A reaction that runs `action` after the first response matching `condition`."""
    fired = threading.Event()

    def react(call: Call) -> None:
        if not fired.is_set() and condition(call):
            fired.set()
            action()

    return react


@dataclass
class World:
    """A small tenant: one site, one library, a few folders, files and grants."""

    emulator: Emulator
    tenant: Tenant
    drive: Drive
    root: Path
    recorder: Recorder = field(default_factory=Recorder)
    page_size: int = 500

    def spec(self, **overrides: object) -> TargetSpec:
        values: dict[str, object] = {
            "name": "marketing/Documents",
            "site": SiteRef(host=HOST, path="/sites/marketing"),
            "library": "Documents",
            "local_root": self.root,
            "page_size": self.page_size,
        }
        values.update(overrides)
        return TargetSpec(**values)  # type: ignore[arg-type]

    def session(self) -> requests.Session:
        session = self.emulator.session()
        session.hooks["response"].append(self.recorder.hook)
        return session

    def client(
        self,
        *,
        max_attempts: int = 8,
        credential: Credential | None = None,
        client_id: str | None = None,
        cloud: Cloud = GLOBAL,
        session: requests.Session | None = None,
    ) -> GraphClient:
        creds = self.emulator.credentials
        session = session or self.session()
        provider = MsalTokenProvider(
            tenant_id=creds.tenant_id,
            client_id=client_id or creds.client_id,
            credential=credential or ClientSecret(creds.client_secret),
            cloud=cloud,
            http_client=session,
        )
        return GraphClient(
            cloud.graph_url,
            provider,
            session=session,
            gate=fast_gate(),
            max_attempts=max_attempts,
            ca_bundle=cloud.ca_bundle,
        )

    def https_client(self, base_url: str, ca_bundle: Path, **kwargs: Any) -> GraphClient:
        """A client talking to the emulator's HTTPS server, as a user would configure it."""
        cloud = custom_cloud(authority_url=base_url, graph_url=base_url, ca_bundle=ca_bundle)
        session = build_session(ca_bundle=ca_bundle, pool_size=16)
        session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE
        session.hooks["response"].append(self.recorder.hook)
        return self.client(cloud=cloud, session=session, **kwargs)

    def sync(
        self,
        *,
        dry_run: bool = False,
        force: bool = False,
        client: GraphClient | None = None,
        max_attempts: int = 8,
        **overrides: object,
    ) -> SyncResult:
        if client is not None:
            return Syncer(self.spec(**overrides), client).sync(dry_run=dry_run, force=force)
        with self.client(max_attempts=max_attempts) as own:
            return Syncer(self.spec(**overrides), own).sync(dry_run=dry_run, force=force)

    def ok(self, **kwargs: Any) -> SyncResult:
        """A sync that must succeed."""
        result = self.sync(**kwargs)
        assert result.ok, result.error
        assert result.log is not None
        return result

    def faults(self, spec: str) -> None:
        """Switch the emulator's faults (e.g. "truncate=1.0,scope=download"); "" for none."""
        self.emulator.app.faults.configure(FaultConfig.parse(spec or "none"))

    def data(self) -> dict[str, bytes]:
        base = self.root / "data"
        if not base.exists():
            return {}
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    def permissions_json(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = json.loads((self.root / ".permissions.json").read_text())
        return result

    def logs(self) -> list[Path]:
        folder = self.root / "sync_logs"
        return sorted(folder.iterdir()) if folder.exists() else []

    def expected_labels(self, path: str) -> list[str]:
        """The labels the tenant itself says a file has (the emulator's oracle)."""
        from ms365sync.emulator.tenant.permissions import expected_labels

        return expected_labels(self.tenant, self.drive, self.tenant.item(self.drive, path))

    def remote_files(self) -> dict[str, bytes]:
        """Every file of the library and its bytes, by path."""
        found: dict[str, bytes] = {}
        for item in self.drive.items.values():
            if not item.is_folder and item.content is not None:
                found[item.path] = item.content.read_all()
        return found


def fast_gate() -> ThrottleGate:
    """A throttle gate whose back-off after a 5xx or a drop is milliseconds, not seconds."""
    return ThrottleGate(backoff_base=0.005, backoff_cap=0.05)


def build_tenant(**options: Any) -> tuple[Tenant, Drive]:
    tenant = Tenant(seed=11, **options)
    tenant.add_app("ms365sync-tests")
    tenant.add_user("Alice Jones", "alice@contoso.onmicrosoft.com")
    tenant.add_user("Bob Smith", "bob@contoso.onmicrosoft.com")
    tenant.add_group("Finance Team", "finance@contoso.onmicrosoft.com")
    site = tenant.add_site(HOST, "/sites/marketing", "Marketing")
    drive = tenant.add_library(site, "Documents", "Shared Documents")
    tenant.add_library(site, "Archive")
    for path, data in FIRST_FILES.items():
        tenant.add_file(drive, path, BytesContent(data))
    tenant.grant(drive, "Finance", "group:Finance Team", Role.WRITE)
    tenant.revoke(drive, "Finance", "sitegroup:Visitors")
    return tenant, drive


def make_world(tmp: Path, *, page_size: int = 500, **tenant_options: Any) -> World:
    tenant, drive = build_tenant(**tenant_options)
    return World(Emulator(tenant), tenant, drive, tmp / "target", page_size=page_size)


def add_many(world: World, count: int, folder: str = "bulk", size: int = 16) -> list[str]:
    """Add `count` small files with distinct contents; returns their paths."""
    paths = []
    for index in range(count):
        path = f"{folder}/file-{index:03d}.txt"
        data = hashlib.sha256(f"{folder}{index}".encode()).hexdigest()[:size].encode()
        world.tenant.add_file(world.drive, path, BytesContent(data))
        paths.append(path)
    return paths


def tree_snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under `root` (files, folders, symlinks) with its kind, mtime and content hash."""
    found: dict[str, tuple[str, int, str]] = {}
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", st.st_mtime_ns, os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", 0, "")
            elif not stat.S_ISREG(st.st_mode):  # a FIFO or socket: opening it would block
                found[rel] = ("special", st.st_mtime_ns, "")
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[rel] = ("file", st.st_mtime_ns, digest)
    return found


def iter_log_files(world: World) -> Iterator[dict[str, Any]]:
    for path in world.logs():
        yield json.loads(path.read_text())
