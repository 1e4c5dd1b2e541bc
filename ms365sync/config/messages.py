"""Pydantic's validation errors -> one-line `ConfigError`s: file, key path, problem, expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from ms365sync.errors import REDACTED, ConfigError

__all__ = ["CUSTOM_ERROR", "invalid", "key_path", "secret_values", "translate"]

CUSTOM_ERROR = "ms365sync_config"
"""The pydantic error type of the configuration's own checks (see `invalid`)."""

_SECRET_KEYS = ("client_secret", "certificate_passphrase")
_SHOWN_CHARS = 60
# Shorter "secrets" occur in any text; scrubbing them would only garble the message.
_MIN_SCRUBBED = 4
_WRONG_TYPE = frozenset(
    {
        "string_type",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "list_type",
        "tuple_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "path_type",
        "finite_number",
    }
)
_RANGE = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_TYPE_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
}


def invalid(problem: str, expected: str, *, key: str | None = None) -> PydanticCustomError:
    """A validation error carrying its own wording; `key` overrides the key path pydantic knows.

    The problem travels in the context, not the template, so braces in it are never formatted.
    """
    context = {"problem": problem, "expected": expected}
    if key is not None:
        context["key"] = key
    return PydanticCustomError(CUSTOM_ERROR, "{problem}", context)


def secret_values(data: Mapping[str, Any]) -> list[str]:
    """The secret strings in `[auth]`, so error messages can be scrubbed of them."""
    auth = data.get("auth")
    if not isinstance(auth, dict):
        return []
    return [auth[key] for key in _SECRET_KEYS if isinstance(auth.get(key), str) and auth[key]]


def key_path(loc: Iterable[str | int]) -> str:
    """`("sites", 1, "name")` -> `sites[1].name`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def translate(
    exc: ValidationError, *, file: Path, root: type[BaseModel], secrets: Sequence[str] = ()
) -> ConfigError:
    """One ConfigError for pydantic's errors: its message the first one, plus how many more
    there were; its `problems` every one, a line each.

    Raise it `from None`: pydantic's own message shows input values, which may be secret.
    """
    described = [_describe(error, root) for error in exc.errors(include_url=False)]
    problems = [
        str(ConfigError(_scrub(problem, secrets), file=file, key=key or None,
                        expected=_scrub(expected, secrets) or None))
        for key, problem, expected in described
    ]  # fmt: skip
    key, problem, expected = described[0]
    if len(described) > 1:
        more = len(described) - 1
        problem = f"{problem} (expected {expected}) (and {more} more problem{'s' * (more > 1)})"
        expected = ""
    return ConfigError(
        _scrub(problem, secrets),
        file=file,
        key=key or None,
        expected=_scrub(expected, secrets) or None,
        problems=problems,
    )


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= _MIN_SCRUBBED:
            text = text.replace(secret, REDACTED)
    return text


def _describe(error: ErrorDetails, root: type[BaseModel]) -> tuple[str, str, str]:
    """The key path, the problem (with what was found) and what was expected."""
    loc, kind = tuple(error["loc"]), error["type"]
    context = error.get("ctx") or {}
    if kind == CUSTOM_ERROR:
        key = context.get("key") or key_path(loc)
        found = "" if isinstance(error["input"], dict) else _found(error["input"], loc)
        problem = f"{context['problem']}: found {found}" if found else str(context["problem"])
        return key, problem, str(context["expected"])
    if kind == "extra_forbidden":
        return key_path(loc), _unknown_key(loc, root), _valid_keys(loc, root)
    expected = _field_description(loc, root) or _TYPE_EXPECTED.get(kind, "a valid value")
    if kind == "missing":
        return key_path(loc), "missing", expected
    if kind in _WRONG_TYPE:
        problem = "wrong type"
    elif kind in _RANGE:
        problem = "out of range"
    elif kind in {"too_short", "string_too_short"}:
        problem = "empty"
    else:
        problem = error["msg"]
    return key_path(loc), f"{problem}: found {_found(error['input'], loc)}", expected


def _found(value: Any, loc: tuple[str | int, ...]) -> str:
    if loc and loc[-1] in _SECRET_KEYS:
        text = "a hidden value"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int | float):
        text = f"the number {value}"
    elif isinstance(value, str):
        shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "..."
        text = f"the string {shown!r}"
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = f"an array of {len(value)} item{'s' * (len(value) != 1)}" if value else "[]"
    else:
        text = f"a {type(value).__name__}"
    return text


def _model_at(loc: Sequence[str | int], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that validates the table at `loc` (list indices skipped)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _inner_model(model.model_fields[part].annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _inner_model(argument)
        if found is not None:
            return found
    return None


def _field_description(loc: tuple[str | int, ...], root: type[BaseModel]) -> str | None:
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return None
    model = _model_at(loc[: _last_name_index(loc)], root)
    field = None if model is None else model.model_fields.get(names[-1])
    return None if field is None else field.description


def _last_name_index(loc: tuple[str | int, ...]) -> int:
    return max(i for i, part in enumerate(loc) if isinstance(part, str))


def _valid_keys(loc: tuple[str | int, ...], root: type[BaseModel]) -> str:
    model = _model_at(loc[:-1], root)
    keys = [] if model is None else list(model.model_fields)
    return "one of " + ", ".join(keys) if keys else "no keys here"


def _unknown_key(loc: tuple[str | int, ...], root: type[BaseModel]) -> str:
    name = str(loc[-1])
    model = _model_at(loc[:-1], root)
    keys = [] if model is None else list(model.model_fields)
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
    problem = f"unknown key {name!r}"
    if close:
        return f"{problem}; did you mean {close[0]!r}?"
    elsewhere = _sections_with(name, root)
    if elsewhere:
        return f"{problem}; it belongs in {' or '.join(elsewhere)}"
    return problem


def _sections_with(name: str, root: type[BaseModel]) -> list[str]:
    """Where else `name` is a valid key, as TOML headers: `[defaults]`, `[[sites.libraries]]`."""
    found: list[str] = []
    stack: list[tuple[str, bool, type[BaseModel]]] = [("", False, root)]
    while stack:
        where, array, model = stack.pop()
        if where and name in model.model_fields:
            found.append(f"[[{where}]]" if array else f"[{where}]")
        for field_name, field in model.model_fields.items():
            inner = _inner_model(field.annotation)
            if inner is not None:
                path = f"{where}.{field_name}" if where else field_name
                stack.append((path, get_origin(field.annotation) is list, inner))
    return sorted(found)
