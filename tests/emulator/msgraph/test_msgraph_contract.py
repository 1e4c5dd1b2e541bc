"""Contract tests: the emulator's Graph responses have the *structure* of the recorded samples
in tests/data/graph-samples (01-05, 07, 08): the same keys recursively (bar documented
optional ones), the same JSON types, the same value formats, the status and the headers.

The identity samples (10-*), batch samples (06-*) and the 401/403 samples
(08-401-headers, 08-error-401-expired-token, 08-error-403-no-roles-claim) are covered by
login/test_login_identity, msgraph/test_msgraph_batch, control/test_control_throttle and
transport/test_transport_pipeline; uploads (09-*) are not emulated.

Values are not compared (docs examples use consumer-OneDrive values); formats are: a string
whose sample value has a recognisable format (timestamp, composite site id, drive id, item
id, eTag, cTag, hash, GUID, URL) must have that format in the emulator's response, in the
real service's variant (lower-case GUIDs in site ids, 66-char drive ids, ...).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from ms365sync.emulator.control.settings import EmulatorConfig, ThrottleConfig
from ms365sync.emulator.tenant.model import Role
from support.emulator_fakes import SAMPLES, sample
from support.emulator_graph_world import HOST, PREFER_ALL, World, make_world, share

# ---------------------------------------------------------------------- the comparator

ANY_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
LOWER_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UPPER_GUID = LOWER_GUID.replace("a-f", "A-F")


@dataclass(frozen=True)
class Format:
    """A value format: how to recognise it in a sample, and the form the emulator must use."""

    name: str
    detect: str
    emulator: str


HOST_NAME = r"[a-z0-9.-]+"
FORMATS = (
    Format(
        "composite site id",
        rf"{HOST_NAME},{ANY_GUID},{ANY_GUID}",
        rf"{HOST_NAME},{LOWER_GUID},{LOWER_GUID}",
    ),
    Format("drive id", r"b![A-Za-z0-9_-]{40,}", r"b![A-Za-z0-9_-]{64}"),
    Format("item id", r"01[A-Z2-7]{32}", r"01[A-Z2-7]{32}"),
    Format("eTag", rf'"\{{{ANY_GUID}\}},\d+"', rf'"\{{{UPPER_GUID}\}},\d+"'),
    # cTag GUIDs are upper-case in one real capture, lower-case in another (graph-facts §3.2).
    Format("cTag", rf'"c:\{{{ANY_GUID}\}},\d+"', rf'"c:\{{{ANY_GUID}\}},\d+"'),
    Format("timestamp", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
    Format("error date", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
    Format("quickXorHash", r"[A-Za-z0-9+/]{27}=", r"[A-Za-z0-9+/]{27}="),
    Format("GUID", ANY_GUID, LOWER_GUID),
    Format("URL", r"https://\S+", r"https://\S+"),
)  # fmt: skip


def format_of(value: str) -> Format | None:
    return next((f for f in FORMATS if re.fullmatch(f.detect, value)), None)


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    kinds = {dict: "object", list: "array", str: "string", type(None): "null"}
    return kinds[type(value)]


@dataclass(frozen=True)
class Allow:
    """Documented differences. A rule "a/b" matches a key `b` reached through key `a` (list
    positions are skipped); a rule "b" matches key `b` anywhere (keys may contain dots)."""

    extra: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()

    @staticmethod
    def _matches(rules: Iterable[str], path: tuple[str, ...]) -> bool:
        for rule in rules:
            parts = tuple(rule.split("/"))
            if path[-len(parts) :] == parts:
                return True
        return False

    def extra_ok(self, path: tuple[str, ...]) -> bool:
        return self._matches(self.extra, path)

    def missing_ok(self, path: tuple[str, ...]) -> bool:
        return self._matches(self.missing, path)


def shape_problems(expected: Any, actual: Any, allow: Allow = Allow()) -> list[str]:
    """Every structural difference between a sample value and the emulator's value."""
    problems: list[str] = []
    _compare(expected, actual, (), "$", allow, problems)
    return problems


def _compare(  # noqa: PLR0917 (a recursive walk threading its position)
    expected: Any, actual: Any, keys: tuple[str, ...], where: str, allow: Allow, out: list[str]
) -> None:
    if json_kind(expected) != json_kind(actual):
        out.append(f"{where}: {json_kind(actual)} where the sample has {json_kind(expected)}")
    elif isinstance(expected, dict):
        for key in expected.keys() - actual.keys():
            if not allow.missing_ok((*keys, key)):
                out.append(f"{where}.{key}: missing")
        for key in actual.keys() - expected.keys():
            if not allow.extra_ok((*keys, key)):
                out.append(f"{where}.{key}: not in the sample")
        for key in expected.keys() & actual.keys():
            _compare(expected[key], actual[key], (*keys, key), f"{where}.{key}", allow, out)
    elif isinstance(expected, list):
        if expected and not actual:
            out.append(f"{where}: empty where the sample has elements")
        for index, element in enumerate(actual):
            model = _closest(expected, element)
            if model is not None:
                _compare(model, element, keys, f"{where}[{index}]", allow, out)
    elif isinstance(expected, str):
        wanted = format_of(expected)
        if wanted is not None and not re.fullmatch(wanted.emulator, actual):
            out.append(f"{where}: {actual!r} is not a {wanted.name} like {expected!r}")


def _closest(candidates: list[Any], element: Any) -> Any:
    """The sample element most like `element` (by shared keys for objects)."""
    same_kind = [c for c in candidates if json_kind(c) == json_kind(element)]
    if not same_kind:
        return candidates[0] if candidates else None
    if not isinstance(element, dict):
        return same_kind[0]

    def score(candidate: dict[str, Any]) -> tuple[int, int]:
        present = len(candidate.keys() & element.keys())
        missing = len(candidate.keys() - element.keys())
        return present - 2 * missing, -len(element.keys() - candidate.keys())

    return max(same_kind, key=score)


def assert_shape(expected: Any, actual: Any, allow: Allow = Allow()) -> None:
    problems = shape_problems(expected, actual, allow)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------- the comparator's tests


def test_comparator_finds_each_kind_of_difference() -> None:
    upper_id = "h,2C712604-1370-44E7-A1F5-426573FDA80A,2D2244C3-251A-49EA-93A8-39E1C3A060FE"
    expected = {
        "id": upper_id,  # docs examples use upper-case GUIDs; real responses lower-case
        "when": "2017-05-09T20:56:00Z",
        "size": 1,
        "value": [{"name": "a", "file": {}}, {"name": "b", "folder": {"childCount": 1}}],
    }
    good = {
        "id": "h,2c712604-1370-44e7-a1f5-426573fda80a,2d2244c3-251a-49ea-93a8-39e1c3a060fe",
        "when": "2024-01-01T00:00:00Z",
        "size": 2.5,
        "value": [{"name": "c", "folder": {"childCount": 0}}],
    }
    assert shape_problems(expected, good) == []
    bad = {
        "id": upper_id,
        "when": "2024-01-01T00:00:00.123Z",
        "size": "2",
        "value": [{"name": "c", "folder": {"childCount": 0, "x": 1}}],
        "extra": True,
    }
    problems = shape_problems(expected, bad)
    assert len(problems) == 5, problems
    assert any("composite site id" in p for p in problems)
    assert any(p.startswith("$.when") for p in problems)
    assert any(p.startswith("$.size: string") for p in problems)
    assert "$.value[0].folder.x: not in the sample" in problems
    assert "$.extra: not in the sample" in problems
    assert shape_problems({"a": {"b": 1}}, {"a": {}}) == ["$.a.b: missing"]
    assert shape_problems({"a": {"b": 1}}, {"a": {}}, Allow(missing=frozenset({"a/b"}))) == []
    assert shape_problems({"b": 1}, {}, Allow(missing=frozenset({"a/b"}))) == ["$.b: missing"]


# ---------------------------------------------------------------------- headers and statuses

SUCCESS_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


def _text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def recorded_headers(name: str, which: int = 0) -> tuple[int, dict[str, str]]:
    """(status, headers by lower-case name) of the `which`-th response in a .http sample."""
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("HTTP/1.1 ")]
    start = starts[which]
    headers: dict[str, str] = {}
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("#"):
            break
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(lines[start].split()[1]), headers


def assert_graph_headers(response: requests.Response, status: int) -> None:
    """Status plus the headers every Graph response carries (graph-facts §1.2, 08-401-headers)."""
    assert response.status_code == status, response.text
    _, real = recorded_headers("08-401-headers.real-2022.http")
    for name in ("request-id", "client-request-id", "x-ms-ags-diagnostic",
                 "strict-transport-security", "date"):  # fmt: skip
        assert name in real
        assert response.headers.get(name), name
    assert re.fullmatch(LOWER_GUID, response.headers["request-id"])
    assert "ServerInfo" in json.loads(response.headers["x-ms-ags-diagnostic"])
    assert parsedate_to_datetime(response.headers["Date"]).tzname() == "UTC"
    if status >= 400:
        assert response.headers["Content-Type"] == "application/json"
    elif response.content:
        assert response.headers["Content-Type"] == SUCCESS_TYPE
        assert response.headers["OData-Version"] == "4.0"


# ---------------------------------------------------------------------- documented fields

IDENTITY = frozenset({"user/email", "user/id", "user/displayName"})
ITEM_FIELDS = frozenset(
    {
        "@odata.context", "@odata.type", "@odata.etag", "@microsoft.graph.downloadUrl",
        "id", "name", "size", "eTag", "cTag", "createdDateTime", "lastModifiedDateTime",
        "createdBy", "lastModifiedBy", "fileSystemInfo", "parentReference", "webUrl", "file",
        "folder", "root", "shared", "deleted", "sharepointIds",
        "file/hashes", "file/mimeType", "hashes/quickXorHash", "folder/childCount",
        "deleted/state", "createdBy/user", "lastModifiedBy/user",
        "fileSystemInfo/createdDateTime", "fileSystemInfo/lastModifiedDateTime",
        "parentReference/driveId", "parentReference/driveType", "parentReference/id",
        "parentReference/name", "parentReference/path", "parentReference/siteId",
    }
) | IDENTITY  # fmt: skip
SITE_FIELDS = frozenset(
    {
        "@odata.context", "id", "name", "displayName", "description", "webUrl",
        "createdDateTime", "lastModifiedDateTime", "root", "siteCollection",
    }
)  # fmt: skip
ERROR_INNER = frozenset({"error/innerError"})
PERMISSION_FIELDS = frozenset(
    {
        "@odata.context", "grantedToV2", "@deprecated.GrantedTo", "inheritedFrom", "shareId",
        "expirationDateTime", "link/scope", "link/type", "link/preventsDownload",
        "grantedToIdentitiesV2", "grantedToIdentities", "@deprecated.GrantedToIdentities",
        "siteUser/email",
    }
) | IDENTITY  # fmt: skip


@pytest.fixture
def world() -> World:
    return make_world()


# ---------------------------------------------------------------------- 01 sites


def test_01_site_by_path(world: World) -> None:
    response = world.get(f"/sites/{HOST}:/sites/marketing")
    assert_graph_headers(response, 200)
    assert_shape(sample("01-site-getbypath-200.docs.json"), response.json(), Allow(SITE_FIELDS))


def test_01_site_by_path_404(world: World) -> None:
    response = world.get(f"/sites/{HOST}:/root")  # the request of the capture
    assert_graph_headers(response, 404)
    expected = sample("01-site-getbypath-404.real.json")
    assert_shape(expected, response.json(), Allow(ERROR_INNER))
    assert response.json()["error"]["message"] == expected["error"]["message"]


def test_01_site_search(world: World) -> None:
    response = world.get("/sites?search=*")
    assert_graph_headers(response, 200)
    body = response.json()
    assert len(body["value"]) == 2
    assert_shape(sample("01-site-search-200.docs.json"), body, Allow(SITE_FIELDS))


def test_01_sites_list_next_link(world: World) -> None:
    response = world.get("/sites?$top=1")
    assert_graph_headers(response, 200)
    body = response.json()
    expected = sample("01-sites-list-nextlink.real-fragment.json")
    assert_shape(expected, body, Allow(SITE_FIELDS))
    assert body["@odata.context"].endswith("/v1.0/$metadata#sites")
    mine, theirs = urlsplit(body["@odata.nextLink"]), urlsplit(expected["@odata.nextLink"])
    assert mine.path == theirs.path == "/v1.0/sites"
    # The captured request had no query; this one's $top is kept before the $skiptoken.
    assert [k for k, _ in parse_qsl(theirs.query)] == ["$skiptoken"]
    assert [k for k, _ in parse_qsl(mine.query)] == ["$top", "$skiptoken"]


# ---------------------------------------------------------------------- 02 drives


def test_02_drives_list(world: World) -> None:
    response = world.get(f"/sites/{world.site.id}/drives")
    assert_graph_headers(response, 200)
    allow = Allow(
        # A library is owned by its site's Owners group, not a user (graph-facts §2.4: clients
        # ignore owner shape differences); libraries are modified by the System Account,
        # shown without id or email as in the sample's own createdBy.
        extra=frozenset({"owner/group", "group/displayName"}),
        missing=frozenset({"owner/user", "lastModifiedBy/user/email", "lastModifiedBy/user/id"}),
    )
    assert_shape(sample("02-drives-list-200.docs.json"), response.json(), allow)
    assert {d["driveType"] for d in response.json()["value"]} == {"documentLibrary"}


def test_02_drives_selected_names(world: World) -> None:
    response = world.get(f"/sites/{world.site.id}/drives?$select=name,webUrl")
    assert_graph_headers(response, 200)
    assert_shape(sample("02-drives-names-odb-bug.real.json"), response.json())


def test_02_drive_root(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root")
    assert_graph_headers(response, 200)
    allow = Allow(
        extra=ITEM_FIELDS,
        # No eTag observed on the root (graph-docs-contrib #8604); no cTag on SharePoint
        # folders (driveitem.md note) — graph-facts §2.6.
        missing=frozenset({"eTag", "cTag"}),
    )
    assert_shape(sample("02-drive-root-200.docs.json"), response.json(), allow)


# ---------------------------------------------------------------------- 03 children and items


def add_children(world: World, count: int) -> None:
    for number in range(count):
        world.tenant.add_folder(world.drive, f"Reports/Sub {number}")


def test_03_children(world: World) -> None:
    add_children(world, 3)
    response = world.get(world.item_path("Reports", "/children?$top=4"))
    assert_graph_headers(response, 200)
    body = response.json()
    assert {"file", "folder"} <= {key for child in body["value"] for key in child}
    assert_shape(sample("03-children-200.docs.json"), body, Allow(ITEM_FIELDS))


def test_03_children_next_link(world: World) -> None:
    add_children(world, 3)
    world.tenant.add_folder(world.drive, "Reports/Microsoft Teams Chat Files")
    body = world.json(world.item_path("Reports", "/children?$top=2"))
    expected = sample("03-children-nextlink-skiptoken.docs-fragment.json")
    assert_shape(expected, body, Allow(ITEM_FIELDS))
    mine, theirs = urlsplit(body["@odata.nextLink"]), urlsplit(expected["@odata.nextLink"])
    assert [k for k, _ in parse_qsl(mine.query)] == [k for k, _ in parse_qsl(theirs.query)]
    decoded = [skiptoken_fields(url.query) for url in (mine, theirs)]
    assert [list(fields) for fields in decoded] == [
        ["Paged", "p_SortBehavior", "p_FileLeafRef", "p_ID"]
    ] * 2


def skiptoken_fields(query: str) -> dict[str, str]:
    token = parse_qs(query)["$skiptoken"][0]
    raw = base64.b64decode(token + "=" * (-len(token) % 4)).decode()
    return dict(parse_qsl(raw))


def test_03_sharepoint_file_2024(world: World) -> None:
    world.tenant.add_file(world.drive, "KAI/DEMO V2/DOC 4 Assurances.docx", _bytes(b"docx"))
    share(world, "KAI/DEMO V2/DOC 4 Assurances.docx")
    response = world.get(world.item_path("KAI/DEMO V2/DOC 4 Assurances.docx"))
    assert_graph_headers(response, 200)
    expected = sample("03-driveitem-sharepoint-file.real-2024.json")
    # The one full real driveItem: nothing may be missing, only the context may be added.
    assert_shape(expected, response.json(), Allow(frozenset({"@odata.context"})))
    url = urlsplit(response.json()["@microsoft.graph.downloadUrl"])
    theirs = urlsplit(expected["@microsoft.graph.downloadUrl"])
    assert [k for k, _ in parse_qsl(url.query)] == [k for k, _ in parse_qsl(theirs.query)]


def _bytes(data: bytes) -> Any:
    from ms365sync.emulator.tenant.content import BytesContent

    return BytesContent(data)


def test_03_sharepoint_file_2020_by_path(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root:/Reports/Q1 summary.txt")
    assert_graph_headers(response, 200)
    expected = sample("03-driveitem-sharepoint-file.real-2020-fragment.json")
    assert_shape(expected, response.json(), Allow(ITEM_FIELDS))


# ---------------------------------------------------------------------- 04 delta


def test_04_first_page_with_next_link(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root/delta?$top=3")
    assert_graph_headers(response, 200)
    body = response.json()
    assert_shape(sample("04-delta-page1-nextlink.docs.json"), body, Allow(ITEM_FIELDS))
    assert "token=" in body["@odata.nextLink"]
    assert body["@odata.context"] == f"{world.url('')}/$metadata#Collection(driveItem)"


def test_04_last_page_with_delta_link(world: World) -> None:
    link = world.delta().delta_link
    world.tenant.delete(world.drive, "Reports/2025")
    world.tenant.touch(world.drive, "Notes/todo.md")
    response = world.get(link)
    assert_graph_headers(response, 200)
    body = response.json()
    expected = sample("04-delta-lastpage-deltalink.docs.json")
    deleted_model, live_file_model = expected["value"]
    envelope = {k: v for k, v in expected.items() if k != "value"}
    assert_shape(envelope, body, Allow(frozenset({"value", "@odata.context"})))
    deleted = [entry for entry in body["value"] if "deleted" in entry]
    live = [entry for entry in body["value"] if "deleted" not in entry]
    assert len(deleted) == 2 and live  # 2025 and plan.txt; todo.md and its ancestors
    # SharePoint omits the name of deleted items (graph-facts §5.5); the docs example has one.
    tombstone = {k: v for k, v in deleted_model.items() if k != "folder"}
    assert_shape([tombstone] * len(deleted), deleted, Allow(ITEM_FIELDS, frozenset({"name"})))
    live_folder_model = {k: v for k, v in deleted_model.items() if k != "deleted"}
    assert_shape([live_file_model, live_folder_model], live, Allow(ITEM_FIELDS))


def test_04_token_latest(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root/delta?token=latest")
    assert_graph_headers(response, 200)
    assert_shape(sample("04-delta-token-latest.docs.json"), response.json(), Allow(ITEM_FIELDS))
    assert response.json()["value"] == []


def test_04_delta_link_keeps_select(world: World) -> None:
    url = f"/drives/{world.drive.id}/root/delta?$select=*,sharepointIds"
    body = world.delta(url).pages[-1]
    expected = sample("04-delta-deltalink-scan-guidance.docs-fragment.json")
    assert_shape(expected, body, Allow(ITEM_FIELDS))
    assert all("sharepointIds" in entry for entry in body["value"])
    mine, theirs = urlsplit(body["@odata.deltaLink"]), urlsplit(expected["@odata.deltaLink"])
    assert [k for k, _ in parse_qsl(mine.query)] == [k for k, _ in parse_qsl(theirs.query)]
    assert (
        parse_qs(mine.query)["$select"] == parse_qs(theirs.query)["$select"] == ["*,sharepointIds"]
    )


def test_04_sharing_change(world: World) -> None:
    link = world.delta(prefer=PREFER_ALL).delta_link
    share(world, "Notes/todo.md")
    response = world.get(link, headers={"Prefer": PREFER_ALL})
    assert_graph_headers(response, 200)
    body = response.json()
    expected = sample("04-delta-sharing-change.real-2021-fragment.json")
    envelope = {k: v for k, v in expected.items() if k != "value"}
    assert_shape(envelope, body, Allow(frozenset({"value"})))
    captured_root, captured_item = expected["value"]
    entries = {entry["name"]: entry for entry in body["value"]}
    assert list(entries) == ["todo.md", "Notes", "root"]
    assert_shape(captured_root, entries["root"], Allow(ITEM_FIELDS))
    assert_shape(captured_item, entries["todo.md"], Allow(ITEM_FIELDS))
    # An ancestor is neither the root nor a permission root: no `root`, no `shared`.
    ancestor = {k: v for k, v in captured_root.items() if k not in ("root", "shared")}
    assert_shape(ancestor, entries["Notes"], Allow(ITEM_FIELDS))
    assert "shared" not in entries["Notes"]


@pytest.mark.parametrize(
    "name",
    ["04-delta-410-resyncRequired.real-2020.json", "04-delta-410-resyncRequired.real-2022.json"],
)
def test_04_resync_required(world: World, name: str) -> None:
    link = world.delta().delta_link
    world.tenant.expire_delta_tokens(world.drive)
    response = world.get(link)
    assert_graph_headers(response, 410)
    expected = sample(name)
    assert_shape(expected, response.json(), Allow(frozenset({"innerError/client-request-id"})))
    assert response.json()["error"]["message"] == expected["error"]["message"]


def test_04_expand_permissions(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root/delta?$expand=permissions")
    assert_graph_headers(response, 400)
    expected = sample("04-delta-expand-permissions-notSupported.real.json")
    assert_shape(expected, response.json(), Allow(ERROR_INNER))
    assert response.json()["error"] == {**response.json()["error"], **expected["error"]}


def test_04_non_root_delta(world: World) -> None:
    response = world.get(world.item_path("Reports", "/delta"))
    assert_graph_headers(response, 400)
    expected = sample("04-delta-nonroot-odb-notSupported.real-2018.json")
    assert_shape(expected, response.json(), Allow(frozenset({"innerError/client-request-id"})))


# ---------------------------------------------------------------------- 05 permissions


def test_05_site_group_permissions(world: World) -> None:
    world.tenant.grant(world.drive, "Notes", "group:Sales Team", Role.OWNER)
    response = world.get(world.item_path("Notes/todo.md", "/permissions"))
    assert_graph_headers(response, 200)
    expected = sample("05-permissions-sharepoint-sitegroups.real-2021-fragment.json")
    # Site groups have no Entra id or email; the captured Entra-group entry has both.
    allow = Allow(PERMISSION_FIELDS, frozenset({"grantedTo/user/email", "grantedTo/user/id"}))
    assert_shape(expected, response.json(), allow)


def test_05_documented_permission_list(world: World) -> None:
    world.tenant.add_link(world.drive, "Notes/todo.md", "edit", "users", ["Amy Adams"])
    world.tenant.grant(world.drive, "Notes/todo.md", "user:ben@contoso.onmicrosoft.com", Role.WRITE)
    body = world.json(world.item_path("Notes/todo.md", "/permissions"))
    allow = Allow(
        PERMISSION_FIELDS,
        # Consumer-OneDrive values: SharePoint sends inheritedFrom as {} (real 2021 capture,
        # graph-facts §6.6); `application` only on links an app created; site groups have no id.
        frozenset({"inheritedFrom/driveId", "inheritedFrom/id", "inheritedFrom/path",
                   "link/application", "grantedTo/user/id"}),
    )  # fmt: skip
    assert_shape(sample("05-permissions-list.docs.json"), body, allow)


def permission_entries(world: World) -> list[dict[str, Any]]:
    world.tenant.add_link(world.drive, "Notes/todo.md", "view", "organization")
    world.tenant.add_link(world.drive, "Notes/todo.md", "edit", "users", ["Amy Adams"])
    share(world, "Notes/todo.md", "user:ben@contoso.onmicrosoft.com")
    return list(world.json(world.item_path("Notes/todo.md", "/permissions"))["value"])


@pytest.mark.parametrize(
    ("example", "pick", "missing"),
    [
        ("viewLink", lambda e: e.get("link", {}).get("scope") == "organization",
         {"link/application"}),
        ("specificPeopleLink", lambda e: e.get("link", {}).get("scope") == "users",
         {"link/application"}),
        # A direct grant, not an accepted invitation: no invitation bookkeeping.
        ("invitationRedeemed", lambda e: "user" in e.get("grantedToV2", {}),
         {"invitation", "shareId", "expirationDateTime"}),
    ],
)  # fmt: skip
def test_05_documented_permission_kinds(
    world: World, example: str, pick: Any, missing: set[str]
) -> None:
    # existingAccessLink is not modelled: the emulator creates no existing-access links.
    entry = next(e for e in permission_entries(world) if pick(e))
    expected = sample("05-permission-examples.docs.json")[example]
    assert_shape(expected, entry, Allow(PERMISSION_FIELDS, frozenset(missing)))


def test_05_invite_response_id_scheme(world: World) -> None:
    # The invite endpoint is not emulated; its entry's id scheme is the one for every user.
    captured = sample("05-permission-invite-response.real-2021.json")[0]["id"]
    entries = permission_entries(world)
    user = next(e for e in entries if "user" in e.get("grantedToV2", {}))

    def login(value: str) -> str:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()

    assert login(captured).startswith("i:0#.f|membership|")
    assert login(user["id"]) == "i:0#.f|membership|ben@contoso.onmicrosoft.com"


# ---------------------------------------------------------------------- 07 downloads


def test_07_content_302(world: World) -> None:
    response = world.get(world.item_path("Reports/Q1 summary.txt", "/content"))
    status, _ = recorded_headers("07-download-302.docs.http")
    assert_graph_headers(response, status)
    url = urlsplit(response.headers["Location"])
    recorded = re.search(
        r"# (https://\{tenant\}\.sharepoint\.com/sites/\S+)", _text("07-download-302.docs.http")
    )
    assert recorded is not None
    shape = urlsplit(recorded[1])
    assert url.netloc.endswith(".sharepoint.com")
    assert url.path.endswith(shape.path.rsplit("}", 1)[1])  # /_layouts/15/download.aspx
    names = [pair.split("=")[0] for pair in url.query.split("&")]
    assert names == [pair.split("=")[0] for pair in shape.query.split("&")]
    assert re.fullmatch(LOWER_GUID, parse_qs(url.query)["UniqueId"][0])


def test_07_range_206(world: World) -> None:
    location = world.get(world.item_path("Reports/Q1 summary.txt", "/content")).headers["Location"]
    response = world.emulator.session().get(location, headers={"Range": "bytes=0-9"})
    status, headers = recorded_headers("07-download-range-206.docs.http")
    assert response.status_code == status
    for name in headers:
        assert name in {k.lower() for k in response.headers}, name
    size = world.item("Reports/Q1 summary.txt").size
    assert response.headers["Content-Range"] == f"bytes 0-9/{size}"


# ---------------------------------------------------------------------- 08 errors and throttling


def test_08_item_not_found(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/items/01AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert_graph_headers(response, 404)
    body = response.json()
    assert_shape(sample("08-error-404-itemNotFound.real-2017.json"), body, Allow(ERROR_INNER))
    assert_shape(
        sample("08-error-generic-shape.docs.json"),
        body,
        Allow(frozenset({"innerError/client-request-id"})),
    )


def test_08_access_denied(world: World) -> None:
    world.tenant.set_site_access(world.emulator.registration.client_id, world.site, allowed=False)
    response = world.get(f"/drives/{world.drive.id}/root")
    assert_graph_headers(response, 403)
    expected = sample("08-error-accessDenied-sp.real-2017.json")
    assert_shape(expected, response.json(), Allow(frozenset({"innerError/client-request-id"})))
    error = response.json()["error"]
    assert error["message"] == expected["error"]["message"]
    # The capture's `unauthenticated` was a 2017 service regression (graph-facts §10.3); the
    # documented code for a missing permission is accessDenied (graph-facts §2.3, §10.3).
    assert error["code"] == "accessDenied"


def test_08_ratelimit_headers() -> None:
    world = make_world(config=EmulatorConfig(throttle=ThrottleConfig.parse("10/min")))
    path = world.item_path("Notes/todo.md")
    responses = [world.get(path) for _ in range(11)]
    _, near = recorded_headers("08-sharepoint-ratelimit-headers.docs.http", 0)
    assert_graph_headers(responses[8], 200)  # 9 of 10 RU used: >= 80 %
    assert set(near) <= {k.lower() for k in responses[8].headers}
    assert "ratelimit-limit" not in {k.lower() for k in responses[6].headers}  # 70 %
    _, over = recorded_headers("08-sharepoint-ratelimit-headers.docs.http", 1)
    throttled = responses[10]
    assert_graph_headers(throttled, 429)
    assert set(over) <= {k.lower() for k in throttled.headers}
    assert throttled.headers["Retry-After"] == throttled.headers["RateLimit-Reset"]
    assert throttled.headers["Retry-After"].isdigit()


def test_08_throttled_without_ratelimit_headers() -> None:
    config = EmulatorConfig(throttle=ThrottleConfig.parse("1/min,ratelimit-headers=off"))
    world = make_world(config=config)
    path = world.item_path("Notes/todo.md")
    world.get(path)
    throttled = world.get(path)
    status, recorded = recorded_headers("08-sharepoint-ratelimit-headers.docs.http", 2)
    assert_graph_headers(throttled, status)
    names = {k.lower() for k in throttled.headers}
    assert set(recorded) <= names
    assert not any(name.startswith("ratelimit-") for name in names)
    status, generic = recorded_headers("08-throttle-429-generic-graph.docs.http")
    assert status == 429
    assert {"retry-after", "content-type"} <= set(generic) <= names | {"content-length"}
