"""The library API: the 0.3.x-compatible `SharePointSync` and the typed `sync_target`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import ms365sync
from ms365sync import SharePointSync, sync_target
from ms365sync.emulator import BytesContent, Role
from ms365sync.errors import ConfigError, MS365SyncError, ResolutionError
from support.harness import FIRST_FILES, HOST, World, make_world

ENV = ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET", "SHAREPOINT_HOST", "SITE_NAME", "DOC_LIBRARY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env, and the default local root lands here


def _api(world: World, **options: Any) -> SharePointSync:
    creds = world.emulator.credentials
    values: dict[str, Any] = {
        "sharepoint_host": HOST,
        "site_name": "Marketing",
        "doc_library": "Documents",
        "local_root": world.root,
        "tenant_id": creds.tenant_id,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "session": world.session(),
    }
    values.update(options)
    return SharePointSync(**values)


def test_sync_returns_the_original_dict(world: World) -> None:
    with _api(world) as api:
        changes = api.sync()
    assert set(changes) == {
        "added",
        "modified",
        "deleted",
        "permission_changed",
        "total_files",
        "changes_file",
        "rag_changes",
    }
    assert sorted(changes["added"]) == sorted(FIRST_FILES)
    assert changes["modified"] == changes["deleted"] == changes["permission_changed"] == []
    assert changes["total_files"] == len(FIRST_FILES)
    log_file = Path(changes["changes_file"])
    assert log_file.parent == world.root / "sync_logs"
    assert changes["rag_changes"] == json.loads(log_file.read_text())
    assert world.data() == FIRST_FILES
    t, d = world.tenant, world.drive
    t.edit_file(d, "readme.md", BytesContent(b"v2"))
    t.grant(d, "Finance/q1.txt", "user:alice@contoso.onmicrosoft.com", Role.READ)
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    with _api(world) as api:
        second = api.sync()
    assert second["added"] == ["Plans/budget-2026.csv"]
    assert second["deleted"] == ["Plans/budget.csv"]
    assert second["modified"] == ["readme.md"]
    assert second["permission_changed"] == ["Finance/q1.txt"]
    rag = second["rag_changes"]["changes"]
    assert rag["added"]["Plans/budget-2026.csv"]["moved_from"] == "Plans/budget.csv"
    with _api(world) as api:
        quiet = api.sync()
    assert quiet["changes_file"] is None and quiet["added"] == []
    assert quiet["total_files"] == len(FIRST_FILES)


def test_credentials_and_target_from_environment_and_dotenv(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = world.emulator.credentials
    monkeypatch.setenv("TENANT_ID", creds.tenant_id)
    monkeypatch.setenv("CLIENT_ID", creds.client_id)
    Path(".env").write_text(
        f"CLIENT_SECRET={creds.client_secret}\nSHAREPOINT_HOST={HOST}\n"
        "SITE_NAME=Marketing\nDOC_LIBRARY=Documents\n"
    )
    with SharePointSync(session=world.session()) as api:
        changes = api.sync()
    assert sorted(changes["added"]) == sorted(FIRST_FILES)
    default_root = tmp_path / "ms365_data"
    assert sorted(
        p.relative_to(default_root / "data").as_posix()
        for p in (default_root / "data").rglob("*")
        if p.is_file()
    ) == sorted(FIRST_FILES)
    assert (default_root / ".permissions.json").is_file()
    assert "CLIENT_SECRET" not in os.environ  # read, not exported


def test_environment_wins_over_dotenv(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = world.emulator.credentials
    Path(".env").write_text("CLIENT_SECRET=stale-secret-from-dotenv\n")
    monkeypatch.setenv("CLIENT_SECRET", creds.client_secret)
    with _api(world, client_secret=None) as api:
        assert sorted(api.sync()["added"]) == sorted(FIRST_FILES)


def test_missing_credentials_are_a_config_error(world: World) -> None:
    with pytest.raises(ConfigError, match="client_secret"):
        _api(world, client_secret=None)
    with pytest.raises(ConfigError, match="tenant_id"):
        _api(world, tenant_id=None)
    with pytest.raises(ConfigError, match="library"):
        _api(world, doc_library=None)


@pytest.mark.parametrize(
    "options",
    [
        {"site_name": None, "site_path": "/sites/marketing"},
        {"site_name": "/sites/marketing"},
        {"sharepoint_host": None, "site_name": "Marketing", "doc_library": "Shared Documents"},
    ],
)
def test_site_by_path_or_display_name(world: World, options: dict[str, Any]) -> None:
    with _api(world, **options) as api:
        assert sorted(api.sync()["added"]) == sorted(FIRST_FILES)


def test_failures_raise(world: World) -> None:
    with _api(world, doc_library="Nope") as api, pytest.raises(ResolutionError) as caught:
        api.sync()
    assert "Documents" in str(caught.value)
    assert isinstance(caught.value, MS365SyncError)


def test_get_sharepoint_files_touches_nothing(world: World) -> None:
    with _api(world) as api:
        files = api.get_sharepoint_files()
    assert not world.root.exists()
    assert set(files) == set(FIRST_FILES)
    for path, info in files.items():
        item = world.tenant.item(world.drive, path)
        assert info["item_id"] == item.id
        assert info["size"] == len(FIRST_FILES[path])
        assert info["permissions"] == world.expected_labels(path)
        assert info["last_modified"].endswith("Z")


def test_get_sharepoint_files_keys_a_name_holding_a_slash(tmp_path: Path) -> None:
    """A file named `a/b.txt` in `Plans` and `b.txt` in a folder `Plans/a` are two entries,
    each with its own name (docs/reliability.md, "Hostile names and planted links")."""
    world = make_world(tmp_path, strict_names=False)
    world.tenant.add_file(world.drive, ["Plans", "a/b.txt"], BytesContent(b"one name"))
    world.tenant.add_file(world.drive, ["Plans", "a", "b.txt"], BytesContent(b"in folder a"))
    with _api(world) as api:
        files = api.get_sharepoint_files()
    assert files["Plans/a\\/b.txt"]["name"] == "a/b.txt"
    assert files["Plans/a/b.txt"]["name"] == "b.txt"
    assert files["Plans/a\\/b.txt"]["item_id"] != files["Plans/a/b.txt"]["item_id"]


def test_get_local_files(world: World) -> None:
    with _api(world) as api:
        assert api.get_local_files() == {}
        api.sync()
        (world.root / "data" / "mine.txt").write_text("not from SharePoint")
        local = api.get_local_files()
        remote = api.get_sharepoint_files()
    assert set(local) == {*FIRST_FILES, "mine.txt"}
    for path in FIRST_FILES:
        assert local[path]["size"] == len(FIRST_FILES[path])
        assert local[path]["last_modified"] == remote[path]["last_modified"]


def test_compare_files_as_the_readme_shows(world: World) -> None:
    with _api(world) as api:
        before = api.compare_files(api.get_sharepoint_files(), api.get_local_files())
        assert before == (sorted(FIRST_FILES), [], [])
        api.sync()
        assert api.compare_files(api.get_sharepoint_files(), api.get_local_files()) == (
            [],
            [],
            [],
        )
        t, d = world.tenant, world.drive
        t.edit_file(d, "readme.md", BytesContent(b"# Marketing?\n"))  # same size
        t.touch(d, "Finance/q1.txt")  # metadata only
        t.rename(d, "Plans/budget.csv", "budget-2026.csv")
        t.add_file(d, "new.txt", BytesContent(b"n"))
        data = world.root / "data"
        os.utime(data / "Plans" / "2026" / "plan.txt", (1, 1))  # older copy, same bytes
        added, modified, deleted = api.compare_files(
            api.get_sharepoint_files(), api.get_local_files()
        )
        assert added == ["Plans/budget-2026.csv", "new.txt"]
        assert modified == ["readme.md"]
        assert deleted == ["Plans/budget.csv"]
        # compare_files only looked: a sync now reports the same.
        changes = api.sync()
    assert sorted(changes["added"]) == added and changes["modified"] == modified


def test_dry_run_through_the_api(world: World) -> None:
    with _api(world) as api:
        changes = api.sync(dry_run=True)
    assert sorted(changes["added"]) == sorted(FIRST_FILES)
    assert changes["changes_file"] is None
    assert not world.root.exists()


def test_typed_api(world: World) -> None:
    with world.client() as client:
        result = sync_target(world.spec(), client)
        again = sync_target(world.spec(), client, dry_run=True)
    assert isinstance(result, ms365sync.SyncResult)
    assert result.ok and result.log is not None and result.log_path is not None
    assert set(result.log.changes.added) == set(FIRST_FILES)
    assert again.ok and again.log is not None and not again.log.has_changes


def test_a_stop_ends_a_library_run_as_a_signal_ends_the_commands(tmp_path: Path) -> None:
    """A stop requested before the run (as from another thread) records nothing; the next
    run does everything."""
    world = make_world(tmp_path)
    stop = ms365sync.Stop(grace=0.0)
    stop.request("the application is shutting down")
    with world.client() as client:
        stopped = sync_target(world.spec(), client, stop=stop)
        assert stopped.ok and stopped.interrupted and stopped.log_path is None
        assert not (world.root / "data").exists()
        done = sync_target(world.spec(), client)
    assert done.ok and not done.interrupted and done.log is not None
    assert set(done.log.changes.added) == set(FIRST_FILES)


def test_public_names() -> None:
    for name in ("SharePointSync", "sync_target", "TargetSpec", "SyncResult", "SiteRef"):
        assert name in ms365sync.__all__
        assert getattr(ms365sync, name) is not None


@pytest.mark.parametrize(
    ("cloud", "graph_host"),
    [("us-gov", "graph.microsoft.us"), ("china", "microsoftgraph.chinacloudapi.cn")],
)
def test_national_clouds_by_a_setting(world: World, cloud: str, graph_host: str) -> None:
    with _api(world, cloud=cloud) as api:
        assert sorted(api.sync()["added"]) == sorted(FIRST_FILES)
    hosts = {call.url.split("/")[2] for call in world.recorder.calls}
    assert graph_host in hosts and "graph.microsoft.com" not in hosts


def test_metadata_through_the_public_api(tmp_path: Path) -> None:
    """The typed API reads document metadata as sites.toml does, and the sidecar reads
    back through the public model."""
    world = make_world(tmp_path)
    world.tenant.set_columns(world.drive, "readme.md", {"Status": "Draft"})
    spec = world.spec(
        metadata=ms365sync.MetadataSpec(
            columns=("Status",), where=ms365sync.parse_where("Status != 'Draft'")
        )
    )
    result = ms365sync.sync_target(spec, world.client())
    assert result.ok and result.log is not None
    assert "readme.md" not in result.log.changes.added
    text = (spec.local_root / ".metadata.json").read_text("utf-8")
    sidecar = ms365sync.MetadataFile.model_validate_json(text).root
    assert set(sidecar) == set(result.log.changes.added)
    assert all(entry.content_type == "Document" for entry in sidecar.values())
