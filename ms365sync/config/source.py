"""The configuration file as text: TOML, .env, ${VAR}, one-line errors, and the starter file."""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin
from urllib.parse import unquote, urlsplit

import tomli_w
from dotenv import dotenv_values
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from ms365sync.errors import REDACTED, ConfigError, LocalStorageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    # Not installed where mypy runs on 3.11+; it then checks this branch against nothing.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "CUSTOM_ERROR",
    "Raw",
    "StarterSite",
    "apply_auth_fallback",
    "environment",
    "interpolate",
    "invalid",
    "key_path",
    "read_toml",
    "secret_values",
    "starter_document",
    "translate",
    "write_new_file",
]

Raw = dict[str, Any]
"""A TOML document as tomllib returns it; it never leaves the configuration modules."""

CUSTOM_ERROR = "ms365sync_config"
"""The pydantic error type of the configuration's own checks (see `invalid`)."""

# What the original tool read from the environment or .env (README of ms365sync 0.1).
_AUTH_FALLBACK = {"tenant_id": "TENANT_ID", "client_id": "CLIENT_ID"}
_SECRET_FALLBACK = ("client_secret", "CLIENT_SECRET")
_SECRET_KEYS = ("client_secret", "certificate_passphrase")

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^{}]*)\}|\$\{")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
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


def read_toml(path: Path) -> Raw:
    """The parsed TOML document at `path`.

    Raises:
        ConfigError: the file is missing, unreadable, not UTF-8, or not valid TOML.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "configuration file not found",
            file=path,
            hint="create one with `ms365sync init` or copy sites.example.toml",
        ) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a configuration file", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=path) from None
    try:
        document: Raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_message(str(exc)), file=path) from None
    return document


def _toml_message(text: str) -> str:
    match = _TOML_POSITION.search(text)
    if match is None:
        return f"invalid TOML: {text}"
    detail = text[: match.start()]
    return f"invalid TOML at line {match[1]}, column {match[2]}: {detail}"


def environment(config_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` over the .env next to the configuration file, over the .env in the cwd.

    The .env values are read literally (no interpolation inside .env) and never exported.

    Raises:
        ConfigError: a .env file exists but cannot be read.
    """
    merged: dict[str, str] = {}
    for directory in (Path.cwd(), config_dir):
        merged.update(_dotenv(directory / ".env"))
    merged.update(environ)
    return merged


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        values = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the .env file: {exc}", file=path) from None
    return {name: value for name, value in values.items() if value is not None}


def interpolate(data: Raw, env: Mapping[str, str], *, file: Path) -> Raw:
    """A copy of `data` with every `${VAR}` / `${VAR:-default}` in string values replaced.

    `$${` stands for a literal `${`. Substituted text is not interpolated again.

    Raises:
        ConfigError: a variable is not set (and has no default), or a reference is malformed.
    """
    result = _substitute(data, env, file, ())
    assert isinstance(result, dict)
    return result


def _substitute(value: Any, env: Mapping[str, str], file: Path, loc: tuple[str | int, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, env, file, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, file, (*loc, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _REFERENCE.sub(lambda match: _resolve(match, env, file, loc), value)
    return value


def _resolve(
    match: re.Match[str], env: Mapping[str, str], file: Path, loc: tuple[str | int, ...]
) -> str:
    if match[0] == "$${":
        return "${"
    body = match["body"]
    name, has_default, default = (body or "").partition(":-")
    if body is None or not _VARIABLE.fullmatch(name):
        raise ConfigError(
            f"malformed reference {match[0]!r}",
            file=file,
            key=key_path(loc),
            expected="${NAME} or ${NAME:-default}; write $${ for a literal ${",
        )
    value = env.get(name)
    if has_default and not value:
        return default
    if value is None:
        raise ConfigError(
            f"environment variable {name} is not set",
            file=file,
            key=key_path(loc),
            hint=f"set {name} in the environment or a .env file, or write ${{{name}:-default}}",
        )
    return value


def apply_auth_fallback(data: Raw, env: Mapping[str, str]) -> Raw:
    """`data` with TENANT_ID / CLIENT_ID / CLIENT_SECRET filling `[auth]` keys that are absent.

    The client secret is only taken when the file names neither a secret nor a certificate.
    """
    auth = data.get("auth", {})
    if not isinstance(auth, dict):
        return data  # the schema reports the wrong type
    filled = dict(auth)
    for key, variable in _AUTH_FALLBACK.items():
        if key not in filled and variable in env:
            filled[key] = env[variable]
    key, variable = _SECRET_FALLBACK
    if key not in filled and "certificate_path" not in filled and variable in env:
        filled[key] = env[variable]
    return {**data, "auth": filled}


def secret_values(data: Raw) -> list[str]:
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
    """One ConfigError for pydantic's errors: the first one, plus how many more there were.

    Raise it `from None`: pydantic's own message shows input values, which may be secret.
    """
    errors = exc.errors(include_url=False)
    first = errors[0]
    key, problem, expected = _describe(first, root)
    if len(errors) > 1:
        more = len(errors) - 1
        problem = f"{problem} (expected {expected}) (and {more} more problem{'s' * (more > 1)})"
        expected = ""
    return ConfigError(
        _scrub(problem, secrets),
        file=file,
        key=key or None,
        expected=_scrub(expected, secrets) or None,
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


# ------------------------------------------------------------------ the starter file

_STARTER_HEADER = """\
# ms365sync configuration, written by `ms365sync init`.
# ${NAME} is read from the environment, or from a .env file next to this file or in the
# current directory. sites.example.toml in the ms365sync sources explains every key.

"""
_SITE_SEGMENT = re.compile(r"/(?:sites|teams)/([^/]+)/?$", re.IGNORECASE)


@dataclass(frozen=True)
class StarterSite:
    """A site for the starter file, found by host + path or by display name, and its libraries."""

    name: str
    host: str | None = None
    path: str | None = None
    display_name: str | None = None
    libraries: Sequence[str] = ()

    @classmethod
    def from_url(
        cls, web_url: str, *, libraries: Sequence[str] = (), display_name: str | None = None
    ) -> StarterSite:
        """The site at `web_url` (as Graph's `webUrl` gives it), named after its URL segment.

        A site outside /sites/ and /teams/ (the root site) is listed by its display name.
        """
        parts = urlsplit(web_url)
        match = _SITE_SEGMENT.search(parts.path)
        if match is None:
            label = display_name or parts.hostname or "site"
            return cls(_short_name(label), parts.hostname, None, label, tuple(libraries))
        path = unquote(parts.path).rstrip("/")
        name = _short_name(unquote(match[1]))
        return cls(name, parts.hostname, path, None, tuple(libraries))


def _short_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:64]
    return name or "site"


def starter_document(sites: Sequence[StarterSite]) -> Raw:
    """The starter file's content: placeholders for the credentials, the defaults, `sites`.

    Without sites it lists one example site to edit. Colliding site names get a -2, -3 suffix.
    """
    listed = sites or [StarterSite("example", "contoso.sharepoint.com", "/sites/example")]
    used: set[str] = set()
    return {
        "auth": {
            "tenant_id": "${TENANT_ID}",
            "client_id": "${CLIENT_ID}",
            "client_secret": "${CLIENT_SECRET}",
        },
        "cloud": {"name": "global"},
        "run": {"parallel_targets": 8, "max_connections": 32, "lock_timeout": "5m"},
        "defaults": {
            "data_root": "ms365_data",
            "include": [],
            "exclude": ["~$*", "*.tmp"],
            "concurrency": 8,
            "max_delete": 1000,
            "max_delete_percent": 50,
            "permission_sweep": "24h",
            "write_empty_logs": False,
            "on_change": "",
        },
        "sites": [_starter_site(site, used) for site in listed],
    }


def _starter_site(site: StarterSite, used: set[str]) -> Raw:
    name, suffix = site.name, 1
    while name.casefold() in used:
        suffix += 1
        name = f"{site.name}-{suffix}"
    used.add(name.casefold())
    table: Raw = {"name": name}
    for key in ("host", "path", "display_name"):
        value = getattr(site, key)
        if value:
            table[key] = value
    table["libraries"] = [{"name": library} for library in site.libraries or ("Documents",)]
    return table


def write_new_file(path: Path, document: Raw) -> None:
    """Create `path` (mode 0600: the user may paste a secret in) holding `document` as TOML.

    Raises:
        ConfigError: `path` already exists.
        LocalStorageError: the file cannot be created or written.
    """
    text = _STARTER_HEADER + tomli_w.dumps(document)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("already exists; not overwriting it", file=path) from None
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path, action="create") from exc
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path) from exc
