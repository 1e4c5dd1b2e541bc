"""The configuration file's value types (durations, patterns, paths, names) and their checks."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    SecretStr,
    ValidationInfo,
)

from ms365sync.config.durations import (
    DURATION_TEXT,
    POSITIVE_DURATION_TEXT,
    SWEEP_TEXT,
    DurationError,
    parse_duration,
    parse_sweep,
)
from ms365sync.config.messages import invalid
from ms365sync.target import (
    VERIFY_MODES,
    FilterError,
    Filters,
    PermissionPolicy,
    SweepKind,
    VerifyMode,
)
from ms365sync.where import Where, WhereError
from ms365sync.where import parse as parse_where

__all__ = [
    "BUDGET_URL_TEXT",
    "CLOUD_CHOICES",
    "CLOUD_NAMES",
    "CONCURRENCY_TEXT",
    "FULL_SWEEP_TEXT",
    "LABELS_TEXT",
    "METADATA_TEXT",
    "SWEEP_MODE_TEXT",
    "VERIFY_TEXT",
    "WHERE_TEXT",
    "AbsolutePath",
    "Bool",
    "BudgetUrl",
    "CloudName",
    "Command",
    "Concurrency",
    "Duration",
    "ExistingFile",
    "FullSweep",
    "Host",
    "HttpsUrl",
    "Identifier",
    "Int",
    "Labels",
    "LibraryName",
    "Metadata",
    "Number",
    "Patterns",
    "PositiveDuration",
    "Secret",
    "SiteName",
    "SitePath",
    "Sweep",
    "SweepMode",
    "Text",
    "Thumbprint",
    "Verify",
    "WhereExpression",
]

CLOUD_NAMES = {
    "global": "global",
    "usgov": "us-gov",
    "usgov-dod": "us-gov-dod",
    "china": "china",
    "us-gov": "us-gov",  # graph/cloud.py's own spellings are accepted too
    "us-gov-dod": "us-gov-dod",
}
"""Cloud names the file may use -> the names `graph.cloud.get_cloud` knows."""

CLOUD_CHOICES = "global | usgov | usgov-dod | china"
_PATTERN_TEXT = "a gitignore-style pattern relative to the library, e.g. '*.pdf' or 'Reports/**'"
# After an optional "!": a file-system root, a UNC share, a home directory or a drive letter.
_ABSOLUTE_PATTERN = re.compile(r"!?(?:/|\\\\|~[/\\]|[A-Za-z]:[/\\])")


def _scalar(value: object) -> object:
    """A number or boolean that arrived as text (from ${VAR}), read as TOML would read it."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in {"true", "false"}:
        return text == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return value


def _duration(value: object) -> float:
    if not isinstance(value, str):
        raise invalid("wrong type", DURATION_TEXT)
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise invalid(exc.problem, exc.expected) from None


def _above_zero(value: object, expected: str, zero: str) -> float:
    """The seconds of a duration that must be above zero; `zero` names a zero one."""
    if not isinstance(value, str):
        raise invalid("wrong type", expected)
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        raise invalid(exc.problem, expected) from None
    if seconds <= 0:
        raise invalid(zero, expected)
    return seconds


def _positive_duration(value: object) -> float:
    return _above_zero(value, POSITIVE_DURATION_TEXT, "a zero duration")


def _sweep(value: object) -> PermissionPolicy:
    if isinstance(value, PermissionPolicy):
        return value
    if not isinstance(value, str):
        raise invalid("wrong type", SWEEP_TEXT)
    try:
        return parse_sweep(value)
    except DurationError as exc:
        raise invalid(exc.problem, exc.expected) from None


CONCURRENCY_TEXT = '"auto" (follow the observed round trips) or an integer from 1 to 64'


def _concurrency(value: object) -> int | None:
    """None for "auto"; else the fixed number of concurrent downloads of a target."""
    value = _scalar(value)
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("wrong type", CONCURRENCY_TEXT)
    if not 1 <= value <= 64:
        raise invalid("out of range", CONCURRENCY_TEXT)
    return value


SWEEP_MODE_TEXT = '"structure" (read the permission roots) or "full" (read every file)'
FULL_SWEEP_TEXT = f'"never" or {POSITIVE_DURATION_TEXT}'


def _sweep_mode(value: object) -> SweepKind:
    if not isinstance(value, str):
        raise invalid("wrong type", SWEEP_MODE_TEXT)
    word = value.strip().lower()
    if word == "structure":
        return "structure"
    if word == "full":
        return "full"
    raise invalid("unknown sweep mode", SWEEP_MODE_TEXT)


VERIFY_TEXT = '"consistent", "strict", "size" or "off"'


def _verify(value: object) -> VerifyMode:
    if not isinstance(value, str):
        raise invalid("wrong type", VERIFY_TEXT)
    word = value.strip().lower()
    for mode in VERIFY_MODES:
        if word == mode:
            return mode
    raise invalid("unknown verification", VERIFY_TEXT)


def _full_sweep(value: object) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "never"):
        return None
    return _above_zero(value, FULL_SWEEP_TEXT, "a zero interval")


METADATA_TEXT = (
    '"all" or an array of column internal names (letters, digits and _), '
    'e.g. ["Title", "Department"]'
)
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


def _metadata(value: object) -> tuple[str, ...] | str | None:
    """The columns a target reads: "all", or their internal names (which go into `$select`,
    so nothing but what SharePoint's internal names are made of); None: no metadata."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        raise invalid(f"{value!r}", METADATA_TEXT)
    if not isinstance(value, list | tuple):
        raise invalid("wrong type", METADATA_TEXT)
    names: list[str] = []
    for name in value:
        if not isinstance(name, str) or not _COLUMN.fullmatch(name):
            raise invalid(f"{name!r} is not a column internal name", METADATA_TEXT)
        if name not in names:
            names.append(name)
    return tuple(names)


WHERE_TEXT = (
    "an expression over the columns, e.g. \"Department == 'Finance' and Status != 'Draft'\" "
    '(docs/rag.md, "Filtering on metadata")'
)


def _where(value: object) -> Where | None:
    """A metadata filter, parsed (the grammar is `ms365sync.where`'s); "" or None: none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("wrong type", WHERE_TEXT)
    if not value.strip():
        return None
    try:
        return parse_where(value)
    except WhereError as exc:
        raise invalid(str(exc), WHERE_TEXT) from None


LABELS_TEXT = 'an array of sensitivity label names or ids, e.g. ["Highly Confidential"]'


def _labels(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise invalid("wrong type", LABELS_TEXT)
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise invalid("an empty or non-text label", LABELS_TEXT)
    return tuple(str(v).strip() for v in value)


def _pattern(value: str) -> str:
    if not value.strip():
        raise invalid("empty pattern", _PATTERN_TEXT)
    if _ABSOLUTE_PATTERN.match(value):
        anchored = "a pattern relative to the library; a '/' inside it anchors it there"
        raise invalid("absolute pattern", f"{anchored}, e.g. 'Reports/**'")
    try:
        Filters(include=(value,))
    except FilterError:
        raise invalid("not a valid gitignore-style pattern", _PATTERN_TEXT) from None
    return value


_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]|\\\\|//[^/]")


def _absolute(value: object, info: ValidationInfo) -> Path:
    """Relative paths are relative to the configuration file's directory; `~` is expanded."""
    if not isinstance(value, str | Path) or not str(value).strip():
        raise invalid("not a path", "a non-empty path (relative to the configuration file)")
    if _WINDOWS_PATH.match(str(value)) or "\0" in str(value):
        # On POSIX `C:\data` would be a relative folder named "C:\data", `\\server\share`
        # a folder of backslashes: never what was meant.
        raise invalid("a Windows drive, UNC or network path", "a POSIX path such as /srv/ms365")
    context = info.context if isinstance(info.context, Mapping) else {}
    base = Path(context.get("base") or Path.cwd())
    return (base / Path(value).expanduser()).resolve()


def _command(value: str) -> str:
    """An on_change command: split as the hook will split it (shlex), so a quoting mistake
    is found when the file is loaded, not after a run has committed."""
    if "\0" in value:
        raise invalid("a NUL character", "a command line of printable text")
    try:
        shlex.split(value)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise invalid(f"cannot be split into arguments ({exc})", _COMMAND_TEXT) from None
    return value


_COMMAND_TEXT = 'a command with balanced quotes, e.g. "/usr/local/bin/reindex --quiet", or ""'


def _https_origin(text: str) -> str:
    """The text of an https URL whose host and port a client can use."""
    text = text.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port, host = parts.port, parts.hostname  # ValueError: bad port, bad IPv6 literal
    except ValueError:
        return ""  # not a match: the caller reports it
    return text if host and (port is None or port > 0) else ""


BUDGET_URL_TEXT = "a redis://, rediss:// or unix:// URL, e.g. redis://cache:6379/0"


def _budget_url(value: str) -> str:
    """A Redis URL redis-py can open (never echoed: it may hold a password)."""
    try:
        parts = urlsplit(value.strip())
        host, _ = parts.hostname, parts.port  # ValueError: bad port, bad IPv6 literal
    except ValueError:
        raise invalid("not a Redis URL", BUDGET_URL_TEXT) from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise invalid(f"the scheme {parts.scheme or '(none)'!r} is not Redis's", BUDGET_URL_TEXT)
    if parts.scheme == "unix" and not parts.path:
        raise invalid("no socket path", BUDGET_URL_TEXT)
    if parts.scheme != "unix" and not host:
        raise invalid("no host", BUDGET_URL_TEXT)
    return value.strip()


def _is_file(value: Path) -> Path:
    if not value.is_file():
        raise invalid(f"no such file ({value})", "an existing file")
    return value


def _secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise invalid("empty", "a non-empty secret")
    return value


def _cloud_name(value: str) -> str:
    name = value.strip().lower()
    if name not in CLOUD_NAMES:
        raise invalid("unknown cloud", CLOUD_CHOICES)
    return CLOUD_NAMES[name]


def _matching(
    pattern: str, problem: str, expected: str, *, clean: Callable[[str], str] = str.strip
) -> AfterValidator:
    """A check that the cleaned-up text matches `pattern` (case-insensitively)."""
    regex = re.compile(pattern, re.IGNORECASE)

    def check(value: str) -> str:
        text = clean(value)
        if not regex.fullmatch(text):
            raise invalid(problem, expected)
        return text

    return AfterValidator(check)


Int = Annotated[int, BeforeValidator(_scalar)]
Number = Annotated[float, BeforeValidator(_scalar)]
Bool = Annotated[bool, BeforeValidator(_scalar)]
Duration = Annotated[float, PlainValidator(_duration)]
PositiveDuration = Annotated[float, PlainValidator(_positive_duration)]
Sweep = Annotated[PermissionPolicy, PlainValidator(_sweep)]
Concurrency = Annotated[int | None, PlainValidator(_concurrency)]
SweepMode = Annotated[SweepKind, PlainValidator(_sweep_mode)]
Verify = Annotated[VerifyMode, PlainValidator(_verify)]
FullSweep = Annotated[float | None, PlainValidator(_full_sweep)]
Metadata = Annotated[tuple[str, ...] | str | None, PlainValidator(_metadata)]
Labels = Annotated[tuple[str, ...], PlainValidator(_labels)]
WhereExpression = Annotated[Where | None, PlainValidator(_where)]
Patterns = Annotated[tuple[Annotated[str, AfterValidator(_pattern)], ...], Field(strict=False)]
AbsolutePath = Annotated[Path, PlainValidator(_absolute)]
ExistingFile = Annotated[Path, PlainValidator(_absolute), AfterValidator(_is_file)]
Secret = Annotated[SecretStr, Field(strict=False), AfterValidator(_secret)]
CloudName = Annotated[str, AfterValidator(_cloud_name)]
Text = Annotated[str, _matching(r".*\S.*", "empty", "a non-empty string")]
Command = Annotated[str, AfterValidator(_command)]
BudgetUrl = Annotated[str, AfterValidator(_budget_url)]
Identifier = Annotated[
    str, _matching(r"[^\s/]+", "not an id", "a GUID, or a domain such as contoso.com")
]
Thumbprint = Annotated[
    str,
    _matching(
        r"[0-9A-F]{40}",
        "not a thumbprint",
        "40 hex digits (the SHA-1 thumbprint Entra shows)",
        clean=lambda text: re.sub(r"[\s:]", "", text).upper(),
    ),
]
HttpsUrl = Annotated[
    str,
    _matching(
        r"https://[^/\s?#@]+(?:/\S*)?",
        "not an https URL",
        "https://host[:port] with a port from 1 to 65535 (MSAL refuses plain http)",
        clean=_https_origin,
    ),
]
SiteName = Annotated[
    str,
    _matching(r"[A-Z0-9][A-Z0-9._-]{0,63}", "not a site name", "letters, digits, . _ - (up to 64)"),
]
Host = Annotated[
    str,
    _matching(
        r"[A-Z0-9-]+(?:\.[A-Z0-9-]+)+",
        "not a host name",
        "a host name only, e.g. contoso.sharepoint.com",
        clean=lambda text: text.strip().lower(),
    ),
]
SitePath = Annotated[
    str,
    _matching(
        # SharePoint refuses ~ " # % & * : < > ? \ { | } in a site's URL name.
        r"/(?:sites|teams)/[^/\s~\"#%&*:<>?\\{|}][^/~\"#%&*:<>?\\{|}]*",
        "not a site path",
        "/sites/NAME or /teams/NAME (without the host)",
        clean=lambda text: text.strip().rstrip("/"),
    ),
]
LibraryName = Annotated[
    str,
    _matching(r"(?!\.\.?$)[^/\\\x00-\x1f]+", "not a library name", "a title without / or \\"),
]
