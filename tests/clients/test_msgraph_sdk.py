"""Microsoft's own Python SDK (msgraph-sdk 1.65, kiota over httpx) with azure-identity's
ClientSecretCredential, unmodified, against the emulator on its public names: the site by
its path, its drives, every folder's children page by page through `PageIterator`, a
delta round to its deltaLink through the SDK's request builders, each file's permissions,
and every file's content, byte for byte what `emulator export` holds, its quickXorHash the
listed one wherever the service serves a file as listed.

Its requests have the SDK's own shapes, e.g. delta's
`{+baseurl}/drives/{drive%2Did}/items/{driveItem%2Did}/delta()`
(msgraph/generated/drives/item/items/item/delta/delta_request_builder.py), under a base
URL ending in "/", so every path starts `/v1.0//`."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest

from ms365sync.quickxorhash import QuickXorHash
from support.clients import Served, exported, served_otherwise

pytestmark = pytest.mark.clients

identity = pytest.importorskip("azure.identity.aio", reason="pip install '.[clients]'")
msgraph = pytest.importorskip("msgraph", reason="pip install '.[clients]'")
page_iterator = pytest.importorskip("msgraph_core.tasks.page_iterator")
children_builder = pytest.importorskip(
    "msgraph.generated.drives.item.items.item.children.children_request_builder"
)
kiota = pytest.importorskip("kiota_abstractions.base_request_configuration")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PAGE = 2  # items per children page: every folder of the demo is read over several pages


@dataclass
class Walk:
    """What the SDK saw: files by "<site>/<library>/<path>", pages read, hashes listed."""

    files: dict[str, bytes] = field(default_factory=dict)
    listed_hashes: dict[str, str | None] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # content the service refused
    pages: int = 0
    permissions: int = 0
    delta_items: int = 0
    delta_link: str = ""


def _qxh(data: bytes) -> str:
    hasher = QuickXorHash()
    hasher.update(data)
    return base64.b64encode(hasher.digest()).decode()


async def _walk(served: Served) -> Walk:
    creds = served.emulator.credentials
    credential = identity.ClientSecretCredential(
        creds.tenant_id, creds.client_id, creds.client_secret
    )
    client = msgraph.GraphServiceClient(credential, scopes=[GRAPH_SCOPE])
    walk = Walk()
    try:
        for site in served.emulator.tenant.sites.values():
            # The SDK's usual idiom for a site by path: "host:/sites/name:" (the closing
            # colon lets further segments follow).
            found = await client.sites.by_site_id(f"{site.hostname}:{site.path}:").get()
            drives = await client.sites.by_site_id(found.id).drives.get()
            for drive in drives.value:
                segment = unquote(drive.web_url.rsplit("/", 1)[-1])
                prefix = f"{site.name}/{segment}"
                await _folder(client, drive.id, "root", prefix=prefix, path="", walk=walk)
                await _delta(client, drive.id, walk)
    finally:
        await credential.close()
    return walk


async def _folder(
    client: Any, drive_id: str, item_id: str, *, prefix: str, path: str, walk: Walk
) -> None:
    items = client.drives.by_drive_id(drive_id).items
    query = children_builder.ChildrenRequestBuilder.ChildrenRequestBuilderGetQueryParameters(
        top=PAGE
    )
    config = kiota.RequestConfiguration(query_parameters=query)
    first = await items.by_drive_item_id(item_id).children.get(request_configuration=config)
    children: list[Any] = []

    def keep(item: Any) -> bool:
        children.append(item)
        return True

    iterator = page_iterator.PageIterator(first, client.request_adapter)
    await iterator.iterate(keep)
    walk.pages += 1 + len(children) // PAGE
    for child in children:
        key = f"{path}{child.name}"
        if child.folder is not None or child.package is not None:
            await _folder(client, drive_id, child.id, prefix=prefix, path=f"{key}/", walk=walk)
            continue
        one = items.by_drive_item_id(child.id)
        permissions = await one.permissions.get()
        walk.permissions += len(permissions.value)
        hashes = child.file.hashes if child.file is not None else None
        walk.listed_hashes[f"{prefix}/{key}"] = hashes.quick_xor_hash if hashes else None
        try:
            walk.files[f"{prefix}/{key}"] = await one.content.get() or b""
        except Exception as exc:  # the SDK raises its ODataError for a refused download
            walk.refused[f"{prefix}/{key}"] = int(getattr(exc, "response_status_code", 0))


async def _delta(client: Any, drive_id: str, walk: Walk) -> None:
    builder = client.drives.by_drive_id(drive_id).items.by_drive_item_id("root").delta
    page = await builder.get()
    while True:
        walk.delta_items += len(page.value)
        if page.odata_next_link:
            page = await builder.with_url(page.odata_next_link).get()
            continue
        assert page.odata_delta_link, "a delta round ends with its deltaLink"
        walk.delta_link = page.odata_delta_link
        return


def test_msgraph_sdk_reads_every_library_as_exported(served: Served) -> None:
    walk = asyncio.run(_walk(served))
    export = exported(served.export)
    assert export, "the export holds files"
    for key, data in export.items():
        assert walk.files.get(key) == data, key  # byte for byte what a mirror holds
    otherwise = served_otherwise(served.emulator)
    for key, data in walk.files.items():
        listed = walk.listed_hashes[key]
        if listed is not None:  # only a file served other than listed differs (§17.1)
            assert (_qxh(data) == listed) == (key not in otherwise), key
    assert set(walk.refused.values()) <= {403, 404}  # malware, a package's own content
    assert walk.pages > len(walk.files) // PAGE  # children were read page by page
    assert walk.permissions >= len(walk.files)
    assert walk.delta_items >= len(walk.files)
    assert walk.delta_link.startswith("https://graph.microsoft.com/v1.0/")
