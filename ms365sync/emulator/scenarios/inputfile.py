"""Reading TOML and JSON input files, every syntax or schema problem a one-line InputError."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from ms365sync.emulator.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    # Not installed where mypy runs on 3.11+; it then checks this branch against nothing.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

Format = Literal["toml", "json"]
ModelT = TypeVar("ModelT", bound=BaseModel)

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_KINDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


class StrictModel(BaseModel):
    """Base of every input-file model: unknown keys are errors and types are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def format_of(path: Path) -> Format:
    """The format named by a file's suffix; raises InputError for anything but .toml and .json."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise InputError(f"{path}: expected a .toml or .json file")


def read_text(path: Path) -> str:
    """The file's text; raises InputError when it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def parse_document(text: str, *, name: str, fmt: Format) -> dict[str, Any]:
    """Parse TOML or JSON text into its top-level table.

    Raises InputError naming the line and column of a syntax error.
    """
    if fmt == "toml":
        try:
            table: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{name}: {_toml_problem(exc)}") from exc
        return table
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InputError(f"{name}: {where}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{name}: expected a JSON object at the top level")
    return data


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc).splitlines()[0] if str(exc) else "syntax error"
    found = _TOML_POSITION.search(message)
    if found is None:
        return f"invalid TOML: {message}"
    where = f"line {found.group(1)}, column {found.group(2)}"
    return f"{where}: invalid TOML: {message[: found.start()]}"


def validate(model: type[ModelT], data: dict[str, Any], *, name: str) -> ModelT:
    """Validate a parsed document; raises InputError describing the first problem found."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc.errors()[0], data, name=name, model=model)) from exc


def describe(
    error: ErrorDetails, data: object, *, name: str, model: type[BaseModel] | None = None
) -> str:
    """One line: the file, the key's location (e.g. change[3].role) and what was wrong."""
    location = locate(error["loc"], data)
    message = _message(error)
    if error["type"] == "extra_forbidden" and model is not None:
        allowed = _keys_at(model, error["loc"][:-1])
        message += f"; allowed: {', '.join(allowed)}" if allowed else ""
    return f"{name}: {location}: {message}" if location else f"{name}: {message}"


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at `loc` (empty when the location cannot be followed)."""
    current: object = model
    for part in loc:
        current = _step(current, part)
    models = [tp for tp in _members(current) if isinstance(tp, type) and issubclass(tp, BaseModel)]
    if len(models) != 1:
        return []
    keys = [info.alias or field for field, info in models[0].model_fields.items()]
    return sorted(keys, key=lambda key: key != "op")  # the discriminator first, then as declared


def _step(tp: object, part: int | str) -> object:
    for member in _members(tp):
        if isinstance(part, int):
            if get_origin(member) is list:
                return get_args(member)[0]
        elif isinstance(member, type) and issubclass(member, BaseModel):
            for field, info in member.model_fields.items():
                if part in (field, info.alias):
                    return info.annotation
            tag = member.model_fields.get("op")
            if tag is not None and (part,) == get_args(tag.annotation):
                return member
    return None


def _members(tp: object) -> list[object]:
    """A type with Annotated and unions unwrapped into its alternatives."""
    if get_origin(tp) is Annotated:
        return _members(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return [member for arg in get_args(tp) for member in _members(arg)]
    return [tp]


def locate(loc: tuple[int | str, ...], data: object) -> str:
    """Render a pydantic location as keys of the input, leaving out discriminator tags.

    Pydantic puts the tag of a discriminated union (the change's `op`) in the location;
    the input has no such key, so it is recognised by walking the input alongside.
    """
    text = ""
    node: object = data
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif isinstance(node, dict) and part not in node and part == node.get("op"):
            continue
        else:
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
    return text


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = shown(error["input"])
    if kind in _KINDS:
        return f"expected {_KINDS[kind]}, got {got}"
    if kind == "literal_error":
        return f"expected one of {_choices(str(ctx['expected']))}, got {got}"
    if kind == "union_tag_invalid":
        field = _unquote(str(ctx["discriminator"]))
        expected = _choices(str(ctx["expected_tags"]))
        return f"unknown {field} {ctx['tag']!r}; expected one of {expected}"
    if kind in ("greater_than_equal", "greater_than"):
        sign, bound = (">=", ctx["ge"]) if kind == "greater_than_equal" else (">", ctx["gt"])
        return f"expected a number {sign} {shown(bound)}, got {got}"
    return _fixed_message(kind, ctx) or f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {got}"


def _fixed_message(kind: str, ctx: dict[str, Any]) -> str | None:
    if kind == "value_error":
        return str(ctx["error"])
    return {
        "missing": "missing required key",
        "extra_forbidden": "unknown key",
        "union_tag_not_found": f"missing key {_unquote(str(ctx.get('discriminator', '')))}",
    }.get(kind)


def shown(value: object) -> str:
    """A short rendering of an input value in file terms (tables and lists are not spelled out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(expected: str) -> str:
    """ "'a', 'b' or 'c'" (pydantic's wording) as "a, b, c"."""
    return ", ".join(_unquote(part) for part in re.split(r", | or ", expected))


def _unquote(text: str) -> str:
    return text.strip().strip("'\"")
