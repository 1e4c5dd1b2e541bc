"""SharePoint REST's JSON, in the shape the `Accept` header asks for (graph-facts §16.5).

- `odata=nometadata`: `{"value": [...]}`, entities as plain properties;
- `odata=minimalmetadata` (also plain `application/json`): `odata.metadata` on the answer,
  `odata.type`, `odata.id` and `odata.editLink` on each entity;
- `odata=fullmetadata`: as minimal, plus a `…@odata.navigationLinkUrl` per navigation;
- `odata=verbose`: `{"d": {"results": [...]}}`, each entity with `__metadata` {id, uri, type}
  and every navigation property as `{"__deferred": {"uri": …}}`.

An Accept without JSON would get Atom XML from SharePoint; the emulator refuses it (406).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ms365sync.emulator.sprest.exceptions import InvalidClientQuery, NotAcceptable

JSON = dict[str, Any]


class ODataFormat(enum.Enum):
    NOMETADATA = "nometadata"
    MINIMAL = "minimalmetadata"
    FULL = "fullmetadata"
    VERBOSE = "verbose"

    @property
    def content_type(self) -> str:
        streaming = "" if self is ODataFormat.VERBOSE else "streaming=true;"
        return f"application/json;odata={self.value};{streaming}charset=utf-8"


def negotiate(accept: str | None) -> ODataFormat:
    """The JSON flavour an Accept header asks for; raises NotAcceptable without JSON."""
    for media_range in (accept or "").split(","):
        kind, *params = (part.strip().lower() for part in media_range.split(";"))
        if kind != "application/json":
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "odata":
                for flavour in ODataFormat:
                    if value.strip() == flavour.value:
                        return flavour
        return ODataFormat.MINIMAL
    raise NotAcceptable()


@dataclass(frozen=True)
class Complex:
    """A value of a complex type (SP.UserIdInfo), which verbose JSON annotates."""

    type_name: str
    values: JSON


@dataclass
class Entity:
    """One SharePoint object: its type, its address relative to `_api/`, its properties in
    SharePoint's order, its navigation properties and the ones `$expand` filled in."""

    type_name: str
    path: str
    properties: JSON
    navigation: tuple[str, ...] = ()
    expanded: dict[str, list[Entity] | Entity] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """`$select`: the names kept (None: all) and, per expanded navigation, its own names."""

    names: frozenset[str] | None = None
    nested: dict[str, frozenset[str]] = field(default_factory=dict)


def parse_select(raw: str | None, entity: Entity | None) -> Selection:
    """`$select` checked against an entity of the answer (property or navigation names, any
    case, "Nav/Prop" for expanded ones); raises InvalidClientQuery for an unknown name."""
    if raw is None or entity is None:
        return Selection()
    names: set[str] = set()
    nested: dict[str, set[str]] = {}
    known = {name.lower(): name for name in (*entity.properties, *entity.navigation)}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        if part == "*":
            return Selection()
        head, _, rest = part.partition("/")
        name = known.get(head.lower())
        if name is None:
            raise InvalidClientQuery(
                f"The property '{head}' does not exist on type '{entity.type_name}'. Make sure "
                "to only use property names that are defined by the type."
            )
        names.add(name)
        if rest:
            nested.setdefault(name, set()).add(rest)
    return Selection(frozenset(names), {k: frozenset(v) for k, v in nested.items()})


def collection(
    fmt: ODataFormat, web: str, entity_set: str, entities: list[Entity], selection: Selection
) -> JSON:
    """A collection answer (`value` or `d.results`)."""
    rendered = [_entity(fmt, web, e, selection) for e in entities]
    if fmt is ODataFormat.VERBOSE:
        return {"d": {"results": rendered}}
    if fmt is ODataFormat.NOMETADATA:
        return {"value": rendered}
    return {"odata.metadata": f"{web}/_api/$metadata#{entity_set}", "value": rendered}


def single(
    fmt: ODataFormat, web: str, entity_set: str, entity: Entity, selection: Selection
) -> JSON:
    """A one-entity answer."""
    rendered = _entity(fmt, web, entity, selection)
    if fmt is ODataFormat.VERBOSE:
        return {"d": rendered}
    if fmt is ODataFormat.NOMETADATA:
        return rendered
    return {"odata.metadata": f"{web}/_api/$metadata#{entity_set}/@Element", **rendered}


def _entity(fmt: ODataFormat, web: str, entity: Entity, selection: Selection) -> JSON:
    uri = f"{web}/_api/{entity.path}"
    data: JSON = {}
    if fmt is ODataFormat.VERBOSE:
        data["__metadata"] = {"id": uri, "uri": uri, "type": entity.type_name}
    elif fmt is not ODataFormat.NOMETADATA:
        data["odata.type"] = entity.type_name
        data["odata.id"] = uri
        data["odata.editLink"] = entity.path
    for name in entity.navigation:
        data.update(_navigation(fmt, web, entity, name, selection))
    for name, value in entity.properties.items():
        if selection.names is None or name in selection.names:
            data[name] = _value(fmt, value)
    return data


def _navigation(
    fmt: ODataFormat, web: str, entity: Entity, name: str, selection: Selection
) -> JSON:
    link = f"{entity.path}/{name}"
    expanded = entity.expanded.get(name)
    if expanded is not None and (selection.names is None or name in selection.names):
        inner = Selection(selection.nested.get(name))
        value: Any
        if isinstance(expanded, Entity):
            value = _entity(fmt, web, expanded, inner)
        else:
            items = [_entity(fmt, web, e, inner) for e in expanded]
            value = {"results": items} if fmt is ODataFormat.VERBOSE else items
        result: JSON = {name: value}
        if fmt is ODataFormat.FULL:
            result = {f"{name}@odata.navigationLinkUrl": link, **result}
        return result
    if fmt is ODataFormat.VERBOSE and selection.names is None:
        return {name: {"__deferred": {"uri": f"{web}/_api/{link}"}}}
    if fmt is ODataFormat.FULL and selection.names is None:
        return {f"{name}@odata.navigationLinkUrl": link}
    return {}


def _value(fmt: ODataFormat, value: Any) -> Any:
    if not isinstance(value, Complex):
        return value
    if fmt is ODataFormat.VERBOSE:
        return {"__metadata": {"type": value.type_name}, **value.values}
    if fmt is ODataFormat.FULL:
        return {"odata.type": value.type_name, **value.values}
    return dict(value.values)
