"""A site-group member's login name says what it stands for (graph-facts §16.3); a name of
no known shape stands for that one account, never for more people."""

from __future__ import annotations

import pytest

from ms365sync.principals.sharepoint import SiteGroupMembers, parse_login

GROUP = "46fc8a13-c072-4598-b230-115d30406d4e"


@pytest.mark.parametrize(
    ("login", "kind", "value"),
    [
        ("i:0#.f|membership|chloe.martin@contoso.com", "people", "chloe.martin@contoso.com"),
        (f"c:0t.c|tenant|{GROUP}", "groups", GROUP),
        (f"c:0o.c|federateddirectoryclaimprovider|{GROUP}", "groups", GROUP),
        (f"c:0o.c|federateddirectoryclaimprovider|{GROUP}_o", "group_owners", GROUP),
        (f"C:0-.F|ROLEMANAGER|SPO-GRID-ALL-USERS/{GROUP}", "claims", "all_members"),
        ("c:0(.s|true", "claims", "everyone"),
        ("SHAREPOINT\\system", "site_users", "SHAREPOINT\\system"),
        ("c:0-.f|rolemanager|something-else", "site_users", "c:0-.f|rolemanager|something-else"),
        ("c:0(.s|false", "site_users", "c:0(.s|false"),
    ],
)
def test_each_login_is_filed_under_its_kind(login: str, kind: str, value: str) -> None:
    found = SiteGroupMembers()
    parse_login(login, found)
    assert getattr(found, kind) == [value]
    others = {"people", "groups", "group_owners", "claims", "site_users"} - {kind}
    assert all(getattr(found, other) == [] for other in others)
