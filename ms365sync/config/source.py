"""The configuration file as text: TOML, the environment and .env files, ${VAR} references."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ms365sync.config.messages import key_path
from ms365sync.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    # Not installed where mypy runs on 3.11+; it then checks this branch against nothing.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "Raw",
    "apply_auth_fallback",
    "config_environment",
    "environment",
    "interpolate",
    "read_toml",
]

Raw = dict[str, Any]
"""A TOML document as tomllib returns it; it never leaves the configuration modules."""

# What the original tool read from the environment or .env (README of ms365sync 0.1).
_AUTH_FALLBACK = {"tenant_id": "TENANT_ID", "client_id": "CLIENT_ID"}
_SECRET_FALLBACK = ("client_secret", "CLIENT_SECRET")

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^{}]*)\}|\$\{")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def read_toml(path: Path) -> Raw:
    """The parsed TOML document at `path`.

    Raises:
        ConfigError: the file is missing, unreadable, not UTF-8, or not valid TOML.
    """
    try:
        text = _read_regular(path).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "configuration file not found",
            file=path,
            hint="write a starter file with `ms365sync init`, or the commented example of "
            "every key with `ms365sync init --example`",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=path) from None
    try:
        document: Raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_message(str(exc)), file=path) from None
    except RecursionError:
        raise ConfigError(
            "arrays or tables nested too deeply to be a configuration", file=path
        ) from None
    return document


MAX_CONFIG_BYTES = 1 << 20
"""The largest configuration file read (a thousand libraries take about 100 KB)."""


def _read_regular(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file of at most MAX_CONFIG_BYTES; a FIFO or a
    device (/dev/zero) is refused before it is opened, so reading never blocks or runs on.

    Raises:
        ConfigError: not a regular file, or too large. OSError: as open and read raise it.
    """
    found = path.stat()
    if stat.S_ISDIR(found.st_mode):
        raise ConfigError("is a directory, not a configuration file", file=path)
    if not stat.S_ISREG(found.st_mode):
        raise ConfigError("not a regular file (a pipe, socket or device)", file=path)
    with path.open("rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES // 1024} KiB", file=path)
    return data


def _toml_message(text: str) -> str:
    match = _TOML_POSITION.search(text)
    if match is None:
        return f"invalid TOML: {text}"
    detail = text[: match.start()]
    return f"invalid TOML at line {match[1]}, column {match[2]}: {detail}"


def environment(
    dotenv_files: Sequence[Path], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The process environment over the `.env` files, an earlier file over a later one.

    This is ms365sync's one `.env` reader (the configuration file, `init --discover` and the
    library API all use it), with python-dotenv's own precedence: a variable already set in
    the environment wins. `environ` defaults to `os.environ`. A missing file is skipped. The
    values are read literally, with no `${VAR}` expansion inside a `.env` file, and are never
    exported.

    Raises:
        ConfigError: a .env file exists but cannot be read.
    """
    merged: dict[str, str] = {}
    for path in reversed(dotenv_files):
        merged.update(_dotenv(path))
    merged.update(os.environ if environ is None else environ)
    return merged


def config_environment(
    config_dir: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What `${VAR}` in a configuration file reads: `environ` over the .env next to the file,
    over the .env in the working directory (as `ms365sync init --example` documents).

    Raises:
        ConfigError: a .env file exists but cannot be read.
    """
    return environment([config_dir / ".env", Path.cwd() / ".env"], environ)


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # noqa: PLC0415 -- only when a .env file exists

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
