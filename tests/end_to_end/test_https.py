"""The engine over real HTTPS on loopback: a first sync, an incremental one, a run with faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ms365sync.emulator import BytesContent, EmulatorServer, GeneratedContent, Role
from ms365sync.outputs.changelog import ChangeLog
from ms365sync.target import GRANTS_FILE, METADATA_FILE, MetadataSpec
from support.certificates import make_certificate
from support.harness import FIRST_FILES, World, add_many, make_world


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, EmulatorServer, Path]]:
    world = make_world(tmp_path, page_size=4)
    ca = tmp_path / "emulator-ca.pem"
    with world.emulator.server(ca_bundle_path=ca) as server:
        yield world, server, ca


def _sync(world: World, server: EmulatorServer, ca: Path, **options: Any) -> ChangeLog:
    with world.https_client(server.base_url, ca, max_attempts=8) as client:
        result = world.sync(client=client, **options)
    assert result.ok, result.error
    assert result.log is not None
    return result.log


def test_first_and_incremental_sync_over_https(served: tuple[World, EmulatorServer, Path]) -> None:
    world, server, ca = served
    add_many(world, 6)
    first = _sync(world, server, ca)
    assert set(first.changes.added) == set(world.remote_files())
    assert world.data() == world.remote_files()
    assert all(c.url.startswith("https://") for c in world.recorder.calls)
    assert any(c.is_download and "localhost" in c.url for c in world.recorder.calls)
    t, d = world.tenant, world.drive
    t.edit_file(d, "readme.md", BytesContent(b"v2 over https"))
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    t.grant(d, "Finance/q1.txt", "user:alice@contoso.onmicrosoft.com", Role.READ)
    t.delete(d, "bulk/file-000.txt")
    world.recorder.reset()
    second = _sync(world, server, ca)
    changes = second.changes
    assert set(changes.modified) == {"readme.md"}
    assert changes.added["Plans/budget-2026.csv"].moved_from == "Plans/budget.csv"
    assert set(changes.permission_only_changes) == {"Finance/q1.txt"}
    assert set(changes.deleted) == {"Plans/budget.csv", "bulk/file-000.txt"}
    assert len(world.recorder.downloads()) == 1
    assert world.data() == world.remote_files()
    assert world.permissions_json()["Finance/q1.txt"] == world.expected_labels("Finance/q1.txt")


def test_special_principals_and_link_audiences_over_https(
    served: tuple[World, EmulatorServer, Path],
) -> None:
    """Everyone except external users, a guest and an organization link, served over HTTPS,
    reach the grants file as their kinds and .permissions.json as their labels."""
    world, server, ca = served
    t, d = world.tenant, world.drive
    guest = t.add_user("Jordan Blake", "jordan@brightline.example", guest=True)
    t.grant(d, "Plans", "everyone_except_external", Role.READ)
    t.grant(d, "readme.md", "user:jordan@brightline.example", Role.READ)
    t.add_link(d, "readme.md", "view", "organization")
    _sync(world, server, ca)
    files = json.loads((world.root / GRANTS_FILE).read_text("utf-8"))["files"]
    kinds = {(g["kind"], g.get("audience")) for g in files["readme.md"]["grants"]}
    assert {("guest", None), ("link", "organization")} <= kinds
    assert guest.id in {g["id"] for g in files["readme.md"]["grants"]}
    assert "all_members" in {g["kind"] for g in files["Plans/budget.csv"]["grants"]}
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_faults_over_https(served: tuple[World, EmulatorServer, Path]) -> None:
    world, server, ca = served
    for index in range(2):
        world.tenant.add_file(world.drive, f"big/{index}.bin", GeneratedContent(index, 2_500_000))
    add_many(world, 25)
    world.faults("429=0.1,503=0.05,drop=0.05,truncate=0.3,expire-url=0.2,retry-after=0")
    log = _sync(world, server, ca, prefer_sharing=False)
    stats = world.emulator.app.faults.stats()
    assert stats["truncate"] and stats["expire-url"] and (stats["429"] or stats["503"])
    assert not log.errors
    assert world.data() == world.remote_files()
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)
    world.faults("")
    again = _sync(world, server, ca, prefer_sharing=False)
    assert not again.has_changes
    assert set(FIRST_FILES) <= set(world.data())


def test_library_api_over_https_with_a_certificate(
    served: tuple[World, EmulatorServer, Path], tmp_path: Path
) -> None:
    """What a user configures: explicit authority and Graph URLs, a CA bundle, a certificate."""
    from ms365sync import SharePointSync

    world, server, ca = served
    pem_path, cert_pem = make_certificate(tmp_path)
    app = world.tenant.add_app("cert-app", certificates=[cert_pem])
    with SharePointSync(
        "contoso.sharepoint.com",
        "Marketing",
        "Documents",
        world.root,
        world.emulator.credentials.tenant_id,
        app.client_id,
        certificate_path=pem_path,
        authority_url=server.base_url,
        graph_url=server.base_url,
        ca_bundle=ca,
        env_file=None,
    ) as api:
        changes = api.sync()
    assert sorted(changes["added"]) == sorted(FIRST_FILES)
    assert world.data() == FIRST_FILES


def test_a_changed_graph_endpoint_relists_instead_of_refusing_the_stored_link(
    served: tuple[World, EmulatorServer, Path],
) -> None:
    """The same server under another origin (127.0.0.1 -> localhost): the stored delta link
    would send the token to the old origin, so it is dropped and the library listed again;
    the stored ids keep the mirror, so nothing is downloaded or reported again."""
    world, server, ca = served
    first = _sync(world, server, ca)
    assert set(first.changes.added) == set(world.remote_files())
    world.recorder.reset()
    renamed = server.base_url.replace("127.0.0.1", "localhost")
    with world.https_client(renamed, ca, max_attempts=8) as client:
        result = world.sync(client=client)
    assert result.ok, result.error
    assert result.log is not None and result.log.full_resync and not result.log.has_changes
    assert any("not on the configured Graph endpoint" in note for note in result.counters.notes)
    assert world.recorder.downloads() == []
    assert world.data() == world.remote_files()
    with world.https_client(renamed, ca, max_attempts=8) as client:
        again = world.sync(client=client)  # the new origin's link is kept from now on
    assert again.ok and again.log is not None and not again.log.full_resync


def test_document_metadata_over_https(served: tuple[World, EmulatorServer, Path]) -> None:
    """Columns, a label and a metadata-only edit over HTTPS with a page size of 4: the
    list's delta pages through its nextLinks and is continued from its deltaLink."""
    world, server, ca = served
    add_many(world, 6)
    t, d = world.tenant, world.drive
    t.define_column(d, "Status", "choice", choices=("Draft", "Final"))
    t.set_columns(d, "readme.md", {"Status": "Draft"})
    t.set_label(d, "Finance/q1.txt", "6f2a0d6e-1c3b-4b7e-9b8a-2b4c1c9e0d11", "Confidential")
    spec = MetadataSpec(columns=("Status",), exclude_labels=("confidential",))
    first = _sync(world, server, ca, metadata=spec)
    assert "Finance/q1.txt" not in first.changes.added
    assert first.changes.added["readme.md"].metadata == {
        "content_type": "Document",
        "created_by": first.changes.added["readme.md"].metadata["created_by"],
        "modified_by": first.changes.added["readme.md"].metadata["modified_by"],
        "fields": {"Status": "Draft"},
    }
    pages = [c for c in world.recorder.calls if "/items/delta" in c.url]
    assert len(pages) > 2  # 10 list items, 4 a page
    t.set_columns(d, "readme.md", {"Status": "Final"})
    world.recorder.reset()
    second = _sync(world, server, ca, metadata=spec)
    assert second.metadata_only_changes is not None
    assert second.metadata_only_changes["readme.md"].changes == {
        "Status": {"old": "Draft", "new": "Final"}
    }
    sidecar = json.loads((world.root / METADATA_FILE).read_text("utf-8"))
    assert sidecar["readme.md"]["fields"] == {"Status": "Final"}
    assert "Finance/q1.txt" not in sidecar
