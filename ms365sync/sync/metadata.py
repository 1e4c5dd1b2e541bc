"""Document metadata (issue 21): the library's columns, content type, people and sensitivity
label of each file, read with the list's delta beside the drive's (graph-facts §18.2).

A list item becomes one *document*: `{"content_type", "created_by", "modified_by",
"sensitivity_label": {"id", "name"}, "fields": {column: value}}` (keys without a value left
out), stored as canonical JSON (sorted keys, no spaces) so equal metadata is equal text.
The `fields` keep the values in the shape the service sends them (strings, numbers,
booleans, arrays, lookup and taxonomy objects); the two label columns the sync adds to
the request are taken out of them unless the target asked for them by name.

A document's *values* are what a filter and the change log see: its fields, and beside
them `content_type`, `created_by`, `modified_by` and `sensitivity_label` (the label's
name, or its id when it has none), which win over a column of the same name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loguru import logger

from ms365sync.errors import DeltaExpiredError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.types import IdentitySet, ListItem
from ms365sync.state.store import StateStore
from ms365sync.sync.stop import Stop, Stopped
from ms365sync.target import LABEL_ID_COLUMN, LABEL_NAME_COLUMN, MetadataSpec

__all__ = [
    "FieldsRound",
    "changes",
    "document",
    "document_of",
    "encode",
    "label_of",
    "list_fields",
    "request_key",
    "values",
]

MAX_RESTARTS = 3
PAGE_SIZE = 200  # list items per page of the list's delta at most (graph-facts §18.2)

Document = dict[str, Any]


@dataclass(frozen=True)
class FieldsRound:
    """A completed round of the list's delta, staged."""

    link: str
    full: bool  # listed from scratch (first run, another request, or a 410)
    pages: int
    rows: int


def request_key(columns: Sequence[str]) -> str:
    """What the list's delta link is asked for: a link taken for other columns is not
    continued (its rounds would carry the old columns)."""
    return json.dumps(list(columns))


def accepts(spec: MetadataSpec, doc: Mapping[str, Any]) -> bool:
    """Whether a file with this document stays in the mirror under the target's metadata
    filters: its label not excluded, and its values matching `where`."""
    if spec.excludes_label(*label_of(doc)):
        return False
    return spec.where is None or spec.where.matches(values(doc))


def list_fields(
    client: GraphClient,
    state: StateStore,
    site_id: str,
    list_id: str,
    *,
    link: str | None,
    spec: MetadataSpec,
    columns: Sequence[str],
    page_size: int = PAGE_SIZE,
    stop: Stop | None = None,
) -> FieldsRound:
    """Stream one round of the list's delta, asked for `columns`, into the state's fields
    stage; a 410 starts
    over from scratch (at most `MAX_RESTARTS` times); a requested `stop` ends it between
    pages (raising Stopped).

    Raises:
        Stopped: `stop` was requested; the stage holds a partial round.
        DeltaExpiredError: the service kept answering 410.
        GraphError, TransportError, AuthError: the round could not be completed.
    """
    for _ in range(MAX_RESTARTS + 1):
        try:
            where = (site_id, list_id)
            pages = (columns, page_size)
            return _round(client, state, where, link, spec=spec, pages=pages, stop=stop)
        except DeltaExpiredError:
            logger.info("the list's delta answered 410: reading every list item again")
            link = None
    raise DeltaExpiredError(f"the list's delta kept answering 410 after {MAX_RESTARTS} restarts")


def _round(
    client: GraphClient,
    state: StateStore,
    where: tuple[str, str],
    link: str | None,
    *,
    spec: MetadataSpec,
    pages: tuple[Sequence[str], int],
    stop: Stop | None,
) -> FieldsRound:
    state.clear_fields_stage()
    rows = 0
    site_id, list_id = where
    columns, top = pages
    found = client.list_delta(site_id, list_id, link, columns=columns, page_size=top)
    for number, page in enumerate(found, 1):
        rows += state.stage_fields(
            (item.id, None if item.is_deleted else encode(document_of(item, spec)))
            for item in page.value
        )
        if page.delta_link is not None:
            logger.debug("list delta round complete: {} pages, {} rows", number, rows)
            return FieldsRound(page.delta_link, link is None, number, rows)
        if stop is not None and stop.requested:
            raise Stopped("listing")
    raise AssertionError("GraphClient.list_delta ends with a deltaLink page or raises")


def document_of(item: ListItem, spec: MetadataSpec) -> Document:
    """The document a list item describes (see the module's docstring)."""
    fields = {
        name: value
        for name, value in (item.fields or {}).items()
        if not name.startswith("@") and "@odata." not in name
    }
    label_id = _text(fields.get(LABEL_ID_COLUMN))
    label_name = _text(fields.get(LABEL_NAME_COLUMN))
    for name in (LABEL_ID_COLUMN, LABEL_NAME_COLUMN):  # in fields only when named
        if spec.columns is None or name not in spec.columns:
            fields.pop(name, None)
    doc: Document = {
        "content_type": item.content_type.name if item.content_type else None,
        "created_by": _person(item.created_by),
        "modified_by": _person(item.last_modified_by),
        "fields": fields,
    }
    if label_id is not None or label_name is not None:
        doc["sensitivity_label"] = {"id": label_id, "name": label_name}
    return {key: value for key, value in doc.items() if value is not None}


def _text(value: Any) -> str | None:
    """A label column's value as text (None for an empty one)."""
    if value is None or value == "":
        return None
    return str(value)


def _person(identities: IdentitySet | None) -> str | None:
    """The display name of whoever an identity set names (a user, else an application)."""
    if identities is None:
        return None
    for identity in (identities.user, identities.application, identities.site_user):
        if identity is not None and identity.display_name:
            return identity.display_name
    return None


def encode(doc: object) -> str:
    """The one stored and compared form of a document."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document(text: str) -> Document:
    """A stored document, decoded."""
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def label_of(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A document's sensitivity label: (id, name), each None when not known."""
    label = doc.get("sensitivity_label") or {}
    return label.get("id"), label.get("name")


def values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a filter and the change log see of a document (see the module's docstring)."""
    seen = dict(doc.get("fields") or {})
    for name in ("content_type", "created_by", "modified_by"):
        seen[name] = doc.get(name)
    label_id, label_name = label_of(doc)
    seen["sensitivity_label"] = label_name or label_id
    return seen


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each value that differs between two documents: name -> {"old", "new"} (null for a
    value one of them lacks), sorted by name."""
    before = values(old) if old is not None else {}
    after = values(new)
    return {
        name: {"old": before.get(name), "new": after.get(name)}
        for name in sorted(set(before) | set(after))
        if encode(before.get(name)) != encode(after.get(name))  # 1 and true differ
    }


def iter_documents(rows: Iterator[tuple[str, str, str]]) -> Iterator[tuple[str, str, Document]]:
    """(path, item id, document) for stored (path, item id, text) rows."""
    for path, item_id, text in rows:
        yield path, item_id, document(text)
