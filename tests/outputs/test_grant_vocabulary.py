"""One grant vocabulary: the published grant entries use the model's field names and kinds,
and the state stores and reads grants through one codec."""

from __future__ import annotations

import dataclasses
from typing import get_args

from ms365sync.models import Grant, LinkAudience, PermissionSet, PrincipalKind
from ms365sync.outputs.grants import GrantEntry, LinkAudienceName, PrincipalKindName, grant_entry
from ms365sync.state.perms import decode_grants, decode_permissions, encode_grants, encode_labels


def test_the_published_kinds_and_audiences_are_the_models() -> None:
    assert set(get_args(PrincipalKindName)) == {kind.value for kind in PrincipalKind}
    assert set(get_args(LinkAudienceName)) == {audience.value for audience in LinkAudience}


def test_a_published_entry_names_the_models_fields_plus_id_inheritance_and_audience() -> None:
    """`audience` is not stored: it is the model's `Grant.audience`, made from the scope."""
    model = {field.name for field in dataclasses.fields(Grant)}
    published = (model - {"principal_id"}) | {"id", "inherited", "audience"}
    assert set(GrantEntry.model_fields) == published


def test_the_stored_form_round_trips_every_field() -> None:
    grants = (
        Grant(
            PrincipalKind.USER,
            "0d4b2a9e-1111-2222-3333-444455556666",
            "Ann",
            "read",
            email="ann@x",
            login_name="i:0#.f|membership|ann@x",
        ),
        Grant(PrincipalKind.SITE_GROUP, "sitegroup:3", "Members", "write"),
        Grant(
            PrincipalKind.LINK,
            "l1",
            "link",
            "read",
            link_type="view",
            link_scope="users",
            recipients=("u1", "u2"),
        ),
    )
    stored = encode_grants(grants)
    assert decode_grants(stored) == grants
    labels = ("Ann:::Read", "Members:::Edit")
    assert decode_permissions(encode_labels(labels), stored) == PermissionSet(labels, grants)


def test_a_published_entry_is_made_from_the_model_field_for_field() -> None:
    grant = Grant(
        PrincipalKind.LINK,
        "l1",
        "link",
        "read",
        link_type="view",
        link_scope="users",
        recipients=("u1",),
    )
    entry = grant_entry(grant, site_id="site", inherited=True)
    assert entry.model_dump(exclude_none=True) == {
        "kind": "link",
        "id": "l1",
        "display_name": "link",
        "role": "read",
        "inherited": True,
        "link_type": "view",
        "link_scope": "users",
        "audience": "recipients",
        "recipients": ["u1"],
    }
