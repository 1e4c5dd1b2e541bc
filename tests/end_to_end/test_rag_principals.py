"""examples/rag_sync_example.py answering `search QUERY --user ID-or-EMAIL` from the principals
snapshot alone, over real HTTPS on loopback: site group membership reaches the index after the
next sync and ingest, and links reach whom their audience says (guests and unknown people
included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ms365sync.emulator import BytesContent, Role
from support.demo import load_example
from support.principals import Served, serve

JORDAN = "jordan.blake@brightline.example"  # the demo's guest
NIA = "nia.okafor@contoso.onmicrosoft.com"  # a member in no group
STRANGER = "someone@elsewhere.example"  # nobody the tenant knows
ONLY_MEMBERS = "Restricted/members-only.txt"
ORGANIZATION = "Restricted/organization-link.txt"
PUBLIC = "Restricted/public-link.txt"


@pytest.fixture(scope="module")
def rag() -> ModuleType:
    return load_example()


def restricted(tmp_path: Path, *, certificate: bool) -> Iterator[Served]:
    """The demo tenant with three files granted to one principal each (set before the first
    sync) and a member, Nia, whom a grant names (so the snapshot knows her) but no group holds."""
    for session in serve(tmp_path, certificate=certificate):
        tenant = session.emulator.tenant
        drive = tenant.library("marketing", "Shared Documents")
        tenant.add_user("Nia Okafor", NIA)
        files = {
            ONLY_MEMBERS: ("sitegroup:Members", b"quasar ledger"),
            ORGANIZATION: ("sitegroup:Owners", b"nebula roster"),
            PUBLIC: ("sitegroup:Owners", b"pulsar brochure"),
            "Restricted/nia.txt": (f"user:{NIA}", b"nia notes"),
        }
        for path, (principal, text) in files.items():
            item = tenant.add_file(drive, path, BytesContent(text))
            item.grants = {tenant.principal(drive.site, principal): Role.READ}
        tenant.add_link(drive, ORGANIZATION, "view", "organization")
        tenant.add_link(drive, PUBLIC, "view", "anonymous")
        yield session


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from restricted(tmp_path, certificate=True)


@pytest.fixture
def served_with_a_secret(tmp_path: Path) -> Iterator[Served]:
    """Site groups cannot be read with a client secret: the snapshot leaves them unexpanded."""
    yield from restricted(tmp_path, certificate=False)


def refresh(rag: ModuleType, served: Served, db: Path) -> None:
    """Sync (refreshing the snapshot) and ingest the change logs."""
    served.run()
    assert rag.main(["--db", str(db), "ingest", "--config", str(served.config)]) == 0


def found(
    rag: ModuleType, db: Path, query: str, user: str, capsys: pytest.CaptureFixture[str]
) -> set[str]:
    """The paths `search QUERY --user USER` prints, with no other option."""
    capsys.readouterr()
    assert rag.main(["--db", str(db), "search", query, "--user", user]) == 0
    return {line.split(": ", 1)[1].split("  [")[0] for line in capsys.readouterr().out.splitlines()}


def test_site_group_membership_reaches_the_index_after_the_next_sync(
    rag: ModuleType, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "index.db"
    refresh(rag, served, db)
    tenant = served.emulator.tenant
    site = tenant.library("marketing", "Shared Documents").site
    nia = tenant.user(NIA).id
    assert found(rag, db, "quasar ledger", NIA, capsys) == set()
    tenant.add_site_group_member(site, "Members", f"user:{NIA}")
    refresh(rag, served, db)
    assert found(rag, db, "quasar ledger", NIA, capsys) == {ONLY_MEMBERS}
    assert found(rag, db, "quasar ledger", nia, capsys) == {ONLY_MEMBERS}  # by id too
    tenant.remove_site_group_member(site, "Members", f"user:{NIA}")
    refresh(rag, served, db)
    assert found(rag, db, "quasar ledger", NIA, capsys) == set()


def test_a_site_group_left_unexpanded_reaches_nobody(
    rag: ModuleType,
    served_with_a_secret: Served,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served, db = served_with_a_secret, tmp_path / "index.db"
    tenant = served.emulator.tenant
    site = tenant.library("marketing", "Shared Documents").site
    tenant.add_site_group_member(site, "Members", f"user:{NIA}")
    refresh(rag, served, db)
    assert found(rag, db, "quasar ledger", NIA, capsys) == set()
    assert rag.main(["--db", str(db), "search", "quasar", "--user", NIA]) == 0
    assert "(unexpanded): nobody is taken to be in them" in capsys.readouterr().err
    missing = ["--principals", str(tmp_path / "none.json"), "--user", NIA]
    assert rag.main(["--db", str(db), "search", "quasar", *missing]) == 1  # never a guess
    # The manual fallback still answers for whoever the options say is in the site group.
    members = f"{site.id}/sitegroups/5"
    manual = ["--user", tenant.user(NIA).id, "--site-group", members]
    assert rag.main(["--db", str(db), "search", "quasar", *manual]) == 0
    assert ONLY_MEMBERS in capsys.readouterr().out


def test_links_reach_whom_their_audience_says(
    rag: ModuleType, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "index.db"
    refresh(rag, served, db)
    assert found(rag, db, "nebula roster", NIA, capsys) == {ORGANIZATION}
    assert found(rag, db, "nebula roster", JORDAN.upper(), capsys) == set()  # a guest
    assert found(rag, db, "nebula roster", STRANGER, capsys) == set()
    for who in (NIA, JORDAN, STRANGER):
        assert found(rag, db, "pulsar brochure", who, capsys) == {PUBLIC}, who
    capsys.readouterr()
    assert rag.main(["--db", str(db), "search", "pulsar", "--user", STRANGER]) == 0
    assert f"{STRANGER} is not in" in capsys.readouterr().err


def test_reach_expands_a_person_through_groups_owners_and_claims_and_fails_closed(
    rag: ModuleType,
) -> None:
    """A site group reaches a person through a group they are in, a Microsoft 365 group
    they own or a claim they hold; an entry under `unexpanded` reaches nobody."""
    site = "contoso.sharepoint.com,1,2"

    def site_group(**members: list[str]) -> dict[str, object]:
        return {"display_name": "g", "users": [], "groups": [], "claims": [], **members}

    snapshot = rag.PrincipalsFile.model_validate(
        {
            "version": 1, "tenant_id": "t", "refreshed": "2026-01-01T00:00:00Z",
            "users": {
                "ann": {"display_name": "Ann", "email": "Ann@x.example", "guest": False},
                "gus": {"display_name": "Gus", "user_principal_name": "gus#EXT#", "guest": True},
            },
            "groups": {
                "team": {"display_name": "Team", "members": ["ann", "gus"], "owners": ["ann"]},
                "hidden": {"display_name": "Hidden", "members": None},
            },
            "site_groups": {
                f"{site}/sitegroups/3": site_group(group_owners=["team"]),
                f"{site}/sitegroups/4": site_group(claims=["all_members"]),
                f"{site}/sitegroups/5": site_group(groups=["team"]),
                f"{site}/sitegroups/6": site_group(users=["ann", "gus"]),
            },
            "unexpanded": {f"site_group:{site}/sitegroups/6": "refused", "group:hidden": "no"},
        }
    )  # fmt: skip
    ann = set(rag.reach(snapshot, "ann@X.example").tokens())
    assert ann == {
        "user:ann", "group:team", "groupowners:team", "members", "everyone",
        f"sitegroup:{site}/sitegroups/3", f"sitegroup:{site}/sitegroups/4",
        f"sitegroup:{site}/sitegroups/5", "link:public", "link:organization",
    }  # fmt: skip
    gus = set(rag.reach(snapshot, "GUS#ext#").tokens())
    assert gus == {"user:gus", "group:team", f"sitegroup:{site}/sitegroups/5", "link:public"}
    assert rag.reach(snapshot, "nobody").tokens() == ["link:public"]
