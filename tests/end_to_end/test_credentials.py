"""Credentials in whole syncs: a token revoked or expiring mid-run (also inside a $batch) is
renewed once and the run goes on, tokens are cached between runs, a wrong secret is an auth
error, and certificate credentials work (an unregistered certificate is refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent
from ms365sync.errors import AuthError
from ms365sync.graph import ClientCertificate
from support.certificates import make_certificate
from support.harness import FIRST_FILES, Call, World, make_world, once


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
