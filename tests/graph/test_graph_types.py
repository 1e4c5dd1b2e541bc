"""The Graph wire models accept every real and documented payload in tests/data/graph-samples."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ms365sync.graph.types import (
    BatchResponse,
    CollectionPage,
    DeltaPage,
    Drive,
    DriveItem,
    ErrorEnvelope,
    Permission,
    PermissionPage,
    Site,
)


def test_site_by_path_docs_sample(load) -> None:
    site = Site.model_validate(load("01-site-getbypath-200.docs.json"))
    assert site.id == (
        "contoso.sharepoint.com,2C712604-1370-44E7-A1F5-426573FDA80A,"
        "2D2244C3-251A-49EA-93A8-39E1C3A060FE"
    )
    assert site.display_name == "OneDrive Team Site"
    assert site.name == "1drvteam"
    assert site.root is None


def test_site_search_page_items_parse_with_lower_case_guids(load) -> None:
    page = CollectionPage.model_validate(load("01-site-search-200.docs.json"))
    sites = [Site.model_validate(item) for item in page.value]
    assert [site.web_url for site in sites] == [
        "https://contoso.sharepoint.com/sites/siteA",
        "https://contoso.sharepoint.com/sites/siteB",
    ]
    assert sites[0].id.split(",")[1] == "da60e844-ba1d-49bc-b4d4-d5e36bae9019"
    assert page.next_link is None


def test_sites_list_page_keeps_skiptoken_next_link(load) -> None:
    page = CollectionPage.model_validate(load("01-sites-list-nextlink.real-fragment.json"))
    assert page.next_link is not None
    assert page.next_link.endswith(
        "$skiptoken=UGFnZWQ9VFJVRSZwX0ZpbGVMZWFmUmVmPTE3MjgyXy4wMDAmcF9JRD0xNzI4Mg"
    )
    assert Site.model_validate(page.value[0]).name is None


def test_drive_list_docs_sample(load) -> None:
    page = CollectionPage.model_validate(load("02-drives-list-200.docs.json"))
    drive = Drive.model_validate(page.value[0])
    assert drive.id.startswith("b!")
    assert drive.drive_type == "business"
    assert drive.quota is not None
    assert drive.quota.total == 1099511627776
    assert drive.owner is not None
    assert drive.owner.user is not None
    assert drive.owner.user.email == "MeganB@M365x214355.onmicrosoft.com"


def test_drive_names_odb_bug_sample_parses_as_raw_page(load) -> None:
    # $select=name,webUrl drops the id: the page parses, the items are not Drives.
    page = CollectionPage.model_validate(load("02-drives-names-odb-bug.real.json"))
    assert [item["name"] for item in page.value] == ["OneDrive"] * 3


def test_root_item_has_root_facet_and_tolerates_a_missing_etag(load) -> None:
    raw = load("02-drive-root-200.docs.json")
    root = DriveItem.model_validate(raw)
    assert root.is_root
    assert root.folder is not None
    assert root.folder.child_count == 120
    del raw["eTag"], raw["cTag"]  # OneDrive for Business roots come without eTag
    bare = DriveItem.model_validate(raw)
    assert bare.e_tag is None
    assert bare.c_tag is None
    assert bare.is_root


def test_real_2024_sharepoint_file(load) -> None:
    item = DriveItem.model_validate(load("03-driveitem-sharepoint-file.real-2024.json"))
    assert item.quick_xor_hash == "S3IkNDfzFTntRKk90ttbIB2/PJw="
    assert item.e_tag == '"{6CA0DB30-C3F8-404D-82DF-C396F747176A},1"'
    assert item.c_tag == '"c:{6CA0DB30-C3F8-404D-82DF-C396F747176A},2"'
    assert item.size == 21772
    assert item.parent_reference is not None
    assert item.parent_reference.site_id == "afcf2c1a-c787-4fc7-a6f2-5f80fe222949"
    assert item.parent_reference.path is not None
    assert item.parent_reference.path.endswith("/KAI DEMO V2 - Instances/LVMH DEMO")
    assert item.parent_reference.drive_type == "documentLibrary"
    assert item.shared is not None
    assert item.shared.scope == "users"
    assert item.download_url is not None
    assert "tempauth=" in item.download_url
    assert item.last_modified_date_time == datetime(2024, 6, 7, 15, 8, 17, tzinfo=timezone.utc)
    assert not item.is_deleted
    # The signed URL is a credential: never in a repr that might be logged.
    assert "tempauth" not in repr(item)
    assert "tempauth" not in repr(DeltaPage(value=(item,)))


def test_real_2020_fragment_keeps_guid_casing_of_etag_and_ctag(load) -> None:
    item = DriveItem.model_validate(load("03-driveitem-sharepoint-file.real-2020-fragment.json"))
    assert item.e_tag == '"{0E8182EC-5EE9-41E6-96BA-372340F873CB},1"'
    assert item.c_tag == '"c:{0e8182ec-5ee9-41e6-96ba-372340f873cb},1"'
    assert item.file is None  # not present in the fragment: hash unknown, not "changed"
    assert item.quick_xor_hash is None


def test_children_docs_page_is_trimmed_but_parses(load) -> None:
    page = CollectionPage.model_validate(load("03-children-200.docs.json"))
    assert len(page.value) == 4
    assert page.next_link == "https://..."


def test_delta_first_page_with_a_deleted_item_without_name(load) -> None:
    page = DeltaPage.model_validate(load("04-delta-page1-nextlink.docs.json"))
    assert (
        page.next_link
        == "https://graph.microsoft.com/v1.0/me/drive/delta(token=1230919asd190410jlka)"
    )
    assert page.delta_link is None
    assert not page.is_last
    deleted = page.value[2]
    assert deleted.is_deleted
    assert deleted.name == "file5.txt"
    folder = page.value[0]
    assert folder.folder is not None
    assert folder.folder.child_count is None


def test_delta_last_page_has_delta_link_and_deleted_folder(load) -> None:
    page = DeltaPage.model_validate(load("04-delta-lastpage-deltalink.docs.json"))
    assert page.is_last
    assert page.delta_link is not None
    assert "token=" in page.delta_link
    assert page.value[0].is_deleted
    assert page.value[0].folder is not None


def test_delta_token_latest_page_is_empty(load) -> None:
    page = DeltaPage.model_validate(load("04-delta-token-latest.docs.json"))
    assert page.value == ()
    assert (
        page.delta_link
        == "https://graph.microsoft.com/v1.0/me/drive/root/delta?token=1230919asd190410jlka"
    )


def test_delta_link_keeps_its_select(load) -> None:
    raw = load("04-delta-deltalink-scan-guidance.docs-fragment.json")
    raw["value"][0]["id"] = "01ABC"  # the public fragment lost the id; Graph always sends one
    page = DeltaPage.model_validate(raw)
    assert page.delta_link is not None
    assert "$select=*%2csharepointIds&token=" in page.delta_link


def test_delta_sharing_change_real_2021(load) -> None:
    raw = load("04-delta-sharing-change.real-2021-fragment.json")
    for index, item in enumerate(raw["value"]):
        item["id"] = f"0{index}"  # ids were cut from the public copy
    root, changed = DeltaPage.model_validate(raw).value
    assert root.is_root
    assert root.shared is not None  # empty `shared: {}` is meaningful, not "absent"
    assert root.shared.scope is None
    assert root.name == "root"
    assert not root.shared_changed
    assert changed.shared_changed
    assert changed.name is None
    assert changed.e_tag == '"{2332ECD8-2774-4832-BE71-C94DAB29D4A9},9"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("True", True),
        ("true", True),
        (False, False),
        ("False", False),
        ("false", False),
    ],
)
def test_shared_changed_accepts_bool_and_string_forms(value: object, expected: bool) -> None:
    item = DriveItem.model_validate({"id": "x", "@microsoft.graph.sharedChanged": value})
    assert item.shared_changed is expected


def test_shared_changed_absent_is_false_and_onedrive_spelling_is_accepted() -> None:
    assert DriveItem.model_validate({"id": "x"}).shared_changed is False
    item = DriveItem.model_validate({"id": "x", "@oneDrive.sharedChanged": "True"})
    assert item.shared_changed is True


def test_deleted_item_sharepoint_shape() -> None:
    item = DriveItem.model_validate(
        {
            "id": "01DEL",
            "deleted": {"state": "deleted"},
            "size": 0,
            "file": {"hashes": {"quickXorHash": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
            "parentReference": {"driveId": "b!x", "id": "01PARENT"},
        }
    )
    assert item.is_deleted
    assert item.name is None
    assert item.c_tag is None
    assert item.parent_reference is not None
    assert item.parent_reference.path is None


def test_download_url_is_optional_and_read_from_the_annotation(load) -> None:
    """Docs-shaped delta pages carry no URL; a `content.downloadUrl` selection returns it
    under `@microsoft.graph.downloadUrl` (graph-facts §3.7)."""
    for name in ("04-delta-page1-nextlink.docs.json", "04-delta-lastpage-deltalink.docs.json"):
        page = DeltaPage.model_validate(load(name))
        assert all(entry.download_url is None for entry in page.value)
    url = "https://contoso.sharepoint.com/_layouts/15/download.aspx?UniqueId=1&tempauth=v1.x"
    page = DeltaPage.model_validate(
        {
            "value": [
                {"id": "01F", "name": "a.txt", "file": {}, "@microsoft.graph.downloadUrl": url},
                {"id": "01D", "name": "d", "folder": {"childCount": 1}},
                {"id": "01X", "deleted": {"state": "deleted"}, "file": {}, "size": 0},
            ],
            "@odata.deltaLink": "https://graph.microsoft.com/v1.0/drives/b/root/delta?token=t",
        }
    )
    assert [entry.download_url for entry in page.value] == [url, None, None]


def test_unknown_fields_and_annotations_are_ignored() -> None:
    item = DriveItem.model_validate(
        {"id": "x", "@odata.etag": '"{A},1"', "@odata.type": "#microsoft.graph.driveItem", "x": 1}
    )
    assert item.id == "x"


def test_package_item_is_neither_file_nor_folder() -> None:
    item = DriveItem.model_validate({"id": "n", "name": "Notebook", "package": {"type": "oneNote"}})
    assert item.package is not None
    assert item.package.type == "oneNote"
    assert item.file is None
    assert item.folder is None


def test_delta_410_bodies_parse_to_resync_required(load) -> None:
    for name in (
        "04-delta-410-resyncRequired.real-2020.json",
        "04-delta-410-resyncRequired.real-2022.json",
    ):
        error = ErrorEnvelope.model_validate(load(name)).error
        assert error.code_chain() == ("resyncRequired",)
        assert error.request_id() is not None


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("01-site-getbypath-404.real.json", ("itemNotFound",)),
        ("04-delta-expand-permissions-notSupported.real.json", ("notSupported",)),
        ("04-delta-nonroot-odb-notSupported.real-2018.json", ("notSupported",)),
        ("08-error-401-expired-token.real-2023.json", ("InvalidAuthenticationToken",)),
        ("08-error-403-no-roles-claim.real-2020.json", ("AccessDenied",)),
        ("08-error-404-itemNotFound.real-2017.json", ("itemNotFound",)),
        ("08-error-accessDenied-sp.real-2017.json", ("unauthenticated",)),
        ("08-error-generic-shape.docs.json", ("invalidRange",)),
        ("08-throttle-429-generic-graph.docs.json", ("TooManyRequests", "429")),
        ("09-upload-session-expired-401.real-2019.json", ("unauthenticated", "expiredToken")),
    ],
)
def test_error_envelopes(load, name: str, codes: tuple[str, ...]) -> None:
    assert ErrorEnvelope.model_validate(load(name)).error.code_chain() == codes


def test_batch_429_fixture_code_chain_and_headers(load) -> None:
    batch = BatchResponse.model_validate(load("06-batch-429-subresponse.real-fixture.json"))
    entry = batch.responses[0]
    assert entry.status == 429
    assert entry.headers["Retry-After"] == "28"
    error = ErrorEnvelope.model_validate(entry.body).error
    assert error.code_chain() == ("activityLimitReached", "throttledRequest", "quota")
    assert error.request_id() == "b4e31937-edce-43cc-a32b-dcf664ddc754"


def test_batch_docs_response_mixed_statuses(load) -> None:
    batch = BatchResponse.model_validate(load("06-batch-response.docs.json"))
    assert [entry.status for entry in batch.responses] == [200, 403, 403, 405, 200]
    # An empty code ("") in an error body is kept as "no code".
    assert ErrorEnvelope.model_validate(batch.responses[1].body).error.code_chain() == ()


def test_permissions_docs_list_with_inherited_from_path(load) -> None:
    page = PermissionPage.model_validate(load("05-permissions-list.docs.json"))
    link, user, app_link = page.value
    assert link.link is not None
    assert link.link.type == "edit"
    assert user.granted_to is not None
    assert user.granted_to.user is not None
    assert user.granted_to.user.display_name == "John Doe"
    assert user.inherited_from is not None
    assert user.inherited_from.path == "/drive/root:/Documents"
    assert app_link.link is not None
    assert app_link.link.application is not None


def test_permission_examples_docs(load) -> None:
    examples = {
        key: Permission.model_validate(value)
        for key, value in load("05-permission-examples.docs.json").items()
    }
    people = examples["specificPeopleLink"]
    assert [
        identity.site_user.login_name
        for identity in people.granted_to_identities_v2
        if identity.site_user
    ] == [
        "Misty Suarez",
        "Judith Clemons",
    ]
    assert len(people.granted_to_identities) == 2
    existing = examples["existingAccessLink"]
    assert existing.link is not None
    assert existing.link.scope == "existingAccess"
    assert existing.expiration_date_time == datetime(1, 1, 1, tzinfo=timezone.utc)
    invitation = examples["invitationRedeemed"]
    assert invitation.invitation is not None
    assert invitation.invitation.sign_in_required is True
    assert invitation.granted_to_v2 is not None
    assert invitation.granted_to_v2.site_user is not None
    assert invitation.granted_to_v2.site_user.id == "1"


def test_real_sharepoint_site_group_permissions(load) -> None:
    page = PermissionPage.model_validate(
        load("05-permissions-sharepoint-sitegroups.real-2021-fragment.json")
    )
    owners, group_owners = page.value
    assert owners.id == "Y2xhc3MzIE93bmVycw"
    assert owners.roles == ("owner",)
    assert owners.inherited_from is not None  # `{}`: present but says nothing
    assert owners.inherited_from.id is None
    assert group_owners.granted_to is not None
    assert group_owners.granted_to.user is not None
    assert group_owners.granted_to.user.id == "e1b5c7cd-9274-4276-953d-b363d377f41d"


def test_real_invite_response_is_a_list_of_permissions(load) -> None:
    permissions = [
        Permission.model_validate(entry)
        for entry in load("05-permission-invite-response.real-2021.json")
    ]
    assert permissions[0].roles == ("read",)
    assert permissions[0].granted_to is not None
    assert permissions[0].granted_to.user is not None
    assert permissions[0].granted_to.user.email == "mig@domain.onmicrosoft.com"


def test_v2_identity_set_with_sharepoint_group_and_numeric_ids() -> None:
    permission = Permission.model_validate(
        {
            "id": "p",
            "roles": ["read"],
            "grantedToV2": {
                "siteGroup": {
                    "id": 4,
                    "displayName": "Site Visitors",
                    "loginName": "Site Visitors",
                },
                "sharePointGroup": {"id": "a1b2", "principalId": 4, "title": "Site Visitors"},
            },
            "grantedToIdentitiesV2": None,
        }
    )
    assert permission.granted_to_v2 is not None
    assert permission.granted_to_v2.site_group is not None
    assert permission.granted_to_v2.site_group.id == "4"
    assert permission.granted_to_v2.share_point_group is not None
    assert permission.granted_to_v2.share_point_group.principal_id == "4"
    assert permission.granted_to_identities_v2 == ()
