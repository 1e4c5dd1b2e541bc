"""LibraryClaims: two targets naming one library are settled in the configuration's order."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ms365sync.errors import ConfigError
from ms365sync.sync.claims import LibraryClaims
from ms365sync.target import SiteRef, TargetSpec

HOST = "contoso.sharepoint.com"


def spec(name: str, site: SiteRef) -> TargetSpec:
    return TargetSpec(name=name, site=site, library=name, local_root=Path("/nowhere") / name)


MARKETING = SiteRef(host=HOST, path="/sites/marketing")


def test_the_earlier_target_keeps_the_library_even_when_the_later_claims_first() -> None:
    claims = LibraryClaims([spec("a", MARKETING), spec("b", MARKETING)])
    outcome: dict[str, BaseException | None] = {}

    def later() -> None:
        try:
            claims.claim("b", "drive-1")
            outcome["b"] = None
        except ConfigError as exc:
            outcome["b"] = exc

    thread = threading.Thread(target=later)
    thread.start()  # "b" waits for "a" to settle, however early it asks
    claims.claim("a", "drive-1")
    thread.join()
    assert isinstance(outcome["b"], ConfigError)
    assert "'b' is the same library as target 'a'" in str(outcome["b"])
    claims.claim("a", "drive-1")  # claiming again is fine


def test_a_target_that_stopped_before_claiming_does_not_hold_anything_up() -> None:
    claims = LibraryClaims([spec("a", MARKETING), spec("b", MARKETING)])
    claims.settle("a")  # failed before it could claim (a lock held elsewhere, ...)
    claims.claim("b", "drive-1")


@pytest.mark.parametrize(
    ("first", "second", "rivals"),
    [
        (MARKETING, SiteRef(host=HOST, path="/sites/Marketing/"), True),
        (MARKETING, SiteRef(host=HOST, path="/sites/hr"), False),
        (MARKETING, SiteRef(host="fabrikam.sharepoint.com", path="/sites/marketing"), False),
        (MARKETING, SiteRef(display_name="Marketing"), True),
        (SiteRef(host=HOST, display_name="HR"), SiteRef(host=HOST, path="/sites/hr"), True),
    ],
)
def test_only_targets_that_could_name_one_site_wait_for_each_other(
    first: SiteRef, second: SiteRef, rivals: bool
) -> None:
    claims = LibraryClaims([spec("a", first), spec("b", second)])
    assert claims.waits_for("b") == (("a",) if rivals else ())
    assert claims.waits_for("a") == ()
