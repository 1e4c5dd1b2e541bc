"""Dry runs, token renewal and certificate credentials."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ms365sync.emulator.content import BytesContent
from ms365sync.emulator.model import Role
from ms365sync.errors import AuthError, SafetyError
from ms365sync.graph import ClientCertificate
from ms365sync.sync.result import SyncResult
from ms365sync.target import Filters
from support.certificates import make_certificate
from support.harness import FIRST_FILES, Call, World, make_world, once, tree_snapshot


def _dry_then_real(world: World, **options: object) -> tuple[SyncResult, SyncResult]:
    before = tree_snapshot(world.root)
    world.recorder.reset()
    dry = world.ok(dry_run=True, **options)
    assert tree_snapshot(world.root) == before  # nothing on disk, .ms365sync included
    assert world.recorder.downloads(status=None) == []
    assert dry.log_path is None and dry.log is not None and dry.log.dry_run
    real = world.ok(**options)
    assert real.log is not None
    assert dry.log.changes == real.log.changes
    assert dry.log.errors == real.log.errors
    assert dry.log.repairs == real.log.repairs
    assert dry.log.summary == real.log.summary
    return dry, real


def test_dry_run_of_a_first_sync(world: World) -> None:
    _dry, real = _dry_then_real(world)
    assert real.log is not None and set(real.log.changes.added) == set(FIRST_FILES)


def test_dry_run_touches_nothing_on_a_fresh_target(world: World) -> None:
    world.ok(dry_run=True)
    assert not world.root.exists()


def test_dry_run_of_every_kind_of_change(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.add_file(d, "Plans/new.txt", BytesContent(b"new"))
    t.edit_file(d, "readme.md", BytesContent(b"# v2\n"))
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    t.grant(d, "Finance", "user:alice@contoso.onmicrosoft.com", Role.READ)
    t.delete(d, "Plans/2026")
    t.add_file(d, "blocked.txt", BytesContent(b"remote"))
    data = world.root / "data"
    (data / "blocked.txt").write_text("someone else's")  # in the way: an error in both runs
    (data / "Finance" / "q1.txt").write_text("local edit")  # a repair
    _dry, real = _dry_then_real(world)
    log = real.log
    assert log is not None
    assert set(log.changes.added) == {"Plans/new.txt", "Plans/budget-2026.csv"}
    assert set(log.changes.deleted) == {"Plans/budget.csv", "Plans/2026/plan.txt"}
    assert set(log.changes.modified) == {"readme.md"}
    assert set(log.changes.permission_only_changes) == {"Finance/q1.txt"}
    assert set(log.errors) == {"blocked.txt"} and set(log.repairs) == {"Finance/q1.txt"}


def test_dry_run_with_a_symlink_in_the_way(world: World, tmp_path: Path) -> None:
    world.ok()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = world.root / "data"
    shutil.rmtree(data / "Plans")
    (data / "Plans").symlink_to(elsewhere, target_is_directory=True)
    world.tenant.add_file(world.drive, "Plans/new.txt", BytesContent(b"n"))
    world.tenant.delete(world.drive, "Plans/budget.csv")
    _dry, real = _dry_then_real(world)
    assert real.log is not None and "Plans/new.txt" in real.log.errors
    assert list(elsewhere.iterdir()) == []


def test_dry_run_of_a_filter_change(world: World) -> None:
    world.ok()
    _dry, real = _dry_then_real(world, filters=Filters(exclude=("*.md",)))
    assert real.log is not None and set(real.log.changes.deleted) == {"readme.md"}


def test_dry_run_stops_at_the_guard_like_a_real_run(world: World) -> None:
    world.ok()
    for path in ("readme.md", "Plans", "Finance"):
        world.tenant.delete(world.drive, path)
    before = tree_snapshot(world.root)
    dry = world.sync(dry_run=True)
    assert isinstance(dry.error, SafetyError)
    assert tree_snapshot(world.root) == before
    forced = world.ok(dry_run=True, force=True)
    assert forced.log is not None and len(forced.log.changes.deleted) == len(FIRST_FILES)
    assert tree_snapshot(world.root) == before


def _first_delta_page(call: Call) -> bool:
    return call.is_delta and call.status == 200


def test_token_revoked_mid_run_is_renewed_once(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    world.recorder.reactions.append(once(_first_delta_page, lambda: world.faults("expire-token=1")))
    world.recorder.reactions.append(once(lambda c: c.status == 401, lambda: world.faults("")))
    result = world.ok()
    assert world.emulator.app.faults.stats()["expire-token"] == 1
    assert len(world.recorder.token_requests()) == 2  # the first token and one renewal
    assert result.log is not None and set(result.log.changes.added) == set(FIRST_FILES)
    assert world.data() == FIRST_FILES


def test_a_token_expiring_inside_a_batch_is_renewed_and_its_members_retried(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    # The listing is one page; the next Graph request is the $batch of permission reads,
    # whose envelope is accepted and whose members then meet a revoked token (401).
    world.recorder.reactions.append(once(_first_delta_page, lambda: world.faults("expire-token=1")))
    world.recorder.reactions.append(
        once(lambda c: c.path.endswith("/$batch"), lambda: world.faults(""))
    )
    result = world.ok()
    assert world.emulator.app.faults.stats()["expire-token"] >= 1
    (first, *_) = world.recorder.batches()
    assert any(status == 401 for _url, status in first.batch_results)
    assert len(world.recorder.token_requests()) == 2  # the first token and one renewal
    assert result.log is not None and not result.log.errors
    assert world.data() == FIRST_FILES
    for path, labels in world.permissions_json().items():
        assert labels == world.expected_labels(path)


def test_token_revoked_twice_in_one_run(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    revocations: list[int] = []

    def revoke_on_every_other_page(call: Call) -> None:
        if call.status == 401:
            world.faults("")
        elif _first_delta_page(call) and len(revocations) < 2:
            revocations.append(1)
            world.faults("expire-token=1")

    world.recorder.reactions.append(revoke_on_every_other_page)
    result = world.sync()
    assert world.emulator.app.faults.stats()["expire-token"] == 2
    assert result.ok, result.error


def test_token_expiring_mid_run_is_renewed(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    world.recorder.reactions.append(
        once(_first_delta_page, lambda: world.emulator.clock.advance(4000))
    )
    result = world.ok()
    assert len(world.recorder.token_requests()) == 2
    statuses = [c.status for c in world.recorder.delta_pages()]
    assert 401 in statuses
    assert result.log is not None and set(result.log.changes.added) == set(FIRST_FILES)


def test_tokens_are_cached_between_runs(world: World) -> None:
    with world.client() as client:
        for name in ("a.txt", "b.txt", "c.txt"):
            world.tenant.add_file(world.drive, name, BytesContent(name.encode()))
            result = world.sync(client=client)
            assert result.ok and result.log is not None and name in result.log.changes.added
    assert len(world.recorder.token_requests()) == 1
    assert not [c for c in world.recorder.calls if c.status == 401]


def test_wrong_secret_fails_with_an_auth_error(world: World) -> None:
    from ms365sync.graph import ClientSecret

    with world.client(credential=ClientSecret("not-the-secret")) as client:
        result = world.sync(client=client)
    assert not result.ok and isinstance(result.error, AuthError)
    assert not world.root.joinpath("data").exists()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    return make_certificate(tmp_path_factory.mktemp("cert"))


def test_certificate_credentials_end_to_end(world: World, certificate: tuple[Path, bytes]) -> None:
    pem_path, cert_pem = certificate
    app = world.tenant.add_app("cert-app", certificates=[cert_pem])
    credential = ClientCertificate(private_key_path=pem_path)
    with world.client(credential=credential, client_id=app.client_id) as client:
        result = world.sync(client=client)
    assert result.ok, result.error
    assert world.data() == FIRST_FILES
    token_calls = world.recorder.token_requests()
    assert token_calls and all(c.status == 200 for c in token_calls)


def test_unregistered_certificate_is_refused(
    world: World, certificate: tuple[Path, bytes], tmp_path: Path
) -> None:
    app = world.tenant.add_app("cert-app", certificates=[certificate[1]])
    other, _ = make_certificate(tmp_path)
    with world.client(credential=ClientCertificate(other), client_id=app.client_id) as client:
        result = world.sync(client=client)
    assert isinstance(result.error, AuthError)
