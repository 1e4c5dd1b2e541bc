"""The configuration file's schema (pydantic), `load_config`, and the targets it describes."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from ms365sync.config.source import (
    StarterSite,
    apply_auth_fallback,
    environment,
    interpolate,
    invalid,
    read_toml,
    secret_values,
    starter_document,
    translate,
    write_new_file,
)
from ms365sync.errors import ConfigError
from ms365sync.graph.auth import ClientCertificate, ClientSecret, Credential
from ms365sync.graph.cloud import Cloud, custom_cloud, get_cloud
from ms365sync.target import FilterError, Filters, PermissionPolicy, SiteRef, TargetSpec

__all__ = [
    "CLOUD_NAMES",
    "Config",
    "ConfigFile",
    "StarterSite",
    "Target",
    "load_config",
    "parse_duration",
    "write_starter_config",
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

_CLOUD_CHOICES = "global | usgov | usgov-dod | china"
_DURATION_TEXT = "a duration such as 90s, 30m, 12h, 7d or 1h30m"
_SWEEP_TEXT = f'"always", "never" or {_DURATION_TEXT}'
_PATTERN_TEXT = "a gitignore-style pattern relative to the library, e.g. '*.pdf' or 'Reports/**'"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# After an optional "!": a file-system root, a UNC share, a home directory or a drive letter.
_ABSOLUTE_PATTERN = re.compile(r"!?(?:/|\\\\|~[/\\]|[A-Za-z]:[/\\])")


def parse_duration(text: str) -> float:
    """Seconds in "90s", "30m", "12h", "7d" or a sum such as "1h30m".

    Raises:
        ValueError: `text` is not such a duration.
    """
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


# ------------------------------------------------------------------ value checks


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
        raise invalid("wrong type", _DURATION_TEXT)
    try:
        return parse_duration(value)
    except ValueError:
        raise invalid("not a duration", _DURATION_TEXT) from None


def _sweep(value: object) -> PermissionPolicy:
    if isinstance(value, PermissionPolicy):
        return value
    if not isinstance(value, str):
        raise invalid("wrong type", _SWEEP_TEXT)
    word = value.strip().lower()
    if word in {"always", "never"}:
        return PermissionPolicy("always" if word == "always" else "never")
    try:
        seconds = parse_duration(word)
    except ValueError:
        raise invalid("not a permission sweep policy", _SWEEP_TEXT) from None
    if seconds <= 0:
        raise invalid("a zero interval", f'"always" to sweep on every run, or {_DURATION_TEXT}')
    return PermissionPolicy("interval", seconds)


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


def _absolute(value: object, info: ValidationInfo) -> Path:
    """Relative paths are relative to the configuration file's directory; `~` is expanded."""
    if not isinstance(value, str | Path) or not str(value).strip():
        raise invalid("not a path", "a non-empty path (relative to the configuration file)")
    context = info.context if isinstance(info.context, Mapping) else {}
    base = Path(context.get("base") or Path.cwd())
    return (base / Path(value).expanduser()).resolve()


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
        raise invalid("unknown cloud", _CLOUD_CHOICES)
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
Sweep = Annotated[PermissionPolicy, PlainValidator(_sweep)]
Patterns = Annotated[tuple[Annotated[str, AfterValidator(_pattern)], ...], Field(strict=False)]
AbsolutePath = Annotated[Path, PlainValidator(_absolute)]
ExistingFile = Annotated[Path, PlainValidator(_absolute), AfterValidator(_is_file)]
Secret = Annotated[SecretStr, Field(strict=False), AfterValidator(_secret)]
CloudName = Annotated[str, AfterValidator(_cloud_name)]
Text = Annotated[str, _matching(r".*\S.*", "empty", "a non-empty string")]
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
        "https://host[:port] (MSAL refuses plain http)",
        clean=lambda text: text.strip().rstrip("/"),
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
        r"/(?:sites|teams)/[^/\s][^/]*",
        "not a site path",
        "/sites/NAME or /teams/NAME (without the host)",
        clean=lambda text: text.strip().rstrip("/"),
    ),
]
LibraryName = Annotated[
    str,
    _matching(r"(?!\.\.?$)[^/\\\x00-\x1f]+", "not a library name", "a title without / or \\"),
]


# ------------------------------------------------------------------ the file's tables


class _Table(BaseModel):
    # strict: `concurrency = true` is a mistake, not 1; numbers from ${VAR} go through _scalar.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)


class AuthTable(_Table):
    """[auth]: the app registration and its credential (a client secret or a certificate)."""

    tenant_id: Identifier = Field(description="the tenant id or domain (or TENANT_ID)")
    client_id: Identifier = Field(description="the application (client) id (or CLIENT_ID)")
    client_secret: Secret | None = Field(default=None, description="the client secret's value")
    certificate_path: ExistingFile | None = Field(default=None, description="a PEM file")
    certificate_thumbprint: Thumbprint | None = Field(default=None, description="40 hex digits")
    certificate_passphrase: Secret | None = Field(default=None, description="a passphrase")

    @model_validator(mode="after")
    def _one_credential(self) -> AuthTable:
        either = "client_secret (or CLIENT_SECRET in the environment) or certificate_path"
        if self.client_secret is None and self.certificate_path is None:
            raise invalid("no credential", either)
        if self.client_secret is not None and self.certificate_path is not None:
            raise invalid("both client_secret and certificate_path are set", f"one of {either}")
        if self.certificate_path is None and (
            self.certificate_thumbprint or self.certificate_passphrase
        ):
            raise invalid("certificate options without certificate_path", "certificate_path")
        return self

    def credential(self) -> Credential:
        """The credential MSAL authenticates with."""
        if self.certificate_path is not None:
            passphrase = self.certificate_passphrase
            return ClientCertificate(
                private_key_path=self.certificate_path,
                thumbprint=self.certificate_thumbprint,
                passphrase=None if passphrase is None else passphrase.get_secret_value(),
            )
        assert self.client_secret is not None  # _one_credential
        return ClientSecret(self.client_secret.get_secret_value())


class CloudTable(_Table):
    """[cloud]: a national cloud by name, or explicit endpoints (the emulator, a proxy)."""

    name: CloudName | None = Field(default=None, description=_CLOUD_CHOICES)
    authority_url: HttpsUrl | None = Field(default=None, description="https://host[:port]")
    graph_url: HttpsUrl | None = Field(default=None, description="https://host[:port]")
    ca_bundle: ExistingFile | None = Field(default=None, description="a PEM file of CA certs")

    @model_validator(mode="after")
    def _name_or_urls(self) -> CloudTable:
        urls = (self.authority_url, self.graph_url)
        if self.name is not None and any(urls):
            raise invalid("both name and explicit URLs are set", "name, or the two URLs")
        if any(urls) and not all(urls):
            raise invalid("only one of authority_url and graph_url", "both of them")
        return self

    def cloud(self) -> Cloud:
        """The endpoints to authenticate with and call."""
        if self.authority_url and self.graph_url:
            return custom_cloud(
                authority_url=self.authority_url, graph_url=self.graph_url, ca_bundle=self.ca_bundle
            )
        cloud = get_cloud(self.name or "global")
        return dataclasses.replace(cloud, ca_bundle=self.ca_bundle) if self.ca_bundle else cloud


class RunTable(_Table):
    """[run]: how one run spreads over the targets."""

    # Targets mostly wait on the network, so several run at once; the load on SharePoint is
    # bounded by max_connections and the shared throttle gate, not by this number.
    parallel_targets: Int = Field(default=8, ge=1, description="an integer >= 1")
    # Four targets' default 8 workers downloading at once; the shared throttle gate, not the
    # connection count, is what keeps a run inside SharePoint's RU budget.
    max_connections: Int = Field(default=32, ge=1, description="an integer >= 1")
    lock_timeout: Duration = Field(default=300.0, description=_DURATION_TEXT)


class TargetOptions(_Table):
    """The per-target settings [defaults] sets and a [[sites.libraries]] table overrides."""

    include: Patterns = Field(default=(), description="an array of patterns")
    exclude: Patterns = Field(default=("~$*", "*.tmp"), description="an array of patterns")
    concurrency: Int = Field(default=8, ge=1, le=64, description="an integer from 1 to 64")
    max_delete: Int = Field(default=1000, ge=0, description="an integer >= 0")
    max_delete_percent: Number = Field(
        default=50.0, ge=0, le=100, description="a number from 0 to 100"
    )
    permission_sweep: Sweep = Field(default=PermissionPolicy(), description=_SWEEP_TEXT)
    write_empty_logs: Bool = Field(default=False, description="true or false")
    on_change: str = Field(default="", description='a command, or "" for none')


_OPTION_KEYS = frozenset(TargetOptions.model_fields)


class DefaultsTable(TargetOptions):
    """[defaults]: what every target inherits, and where default local roots live."""

    data_root: AbsolutePath = Field(
        default=Path("ms365_data"), validate_default=True, description="a directory path"
    )


class LibraryTable(TargetOptions):
    """[[sites.libraries]]: one document library; option keys given here override [defaults]."""

    name: LibraryName = Field(description="the library's title or URL segment")
    local_root: AbsolutePath | None = Field(default=None, description="a directory path")

    def options(self, defaults: TargetOptions) -> TargetOptions:
        """[defaults] with the keys this table sets replaced."""
        values = {key: getattr(defaults, key) for key in _OPTION_KEYS}
        values.update({key: getattr(self, key) for key in self.model_fields_set & _OPTION_KEYS})
        return TargetOptions.model_construct(**values)


class SiteTable(_Table):
    """[[sites]]: one site, by host + path or by display name, and its libraries."""

    name: SiteName = Field(description="letters, digits, . _ - (up to 64)")
    host: Host | None = Field(default=None, description="a host name")
    path: SitePath | None = Field(default=None, description="/sites/NAME or /teams/NAME")
    display_name: Text | None = Field(default=None, description="the site's display name")
    libraries: list[LibraryTable] = Field(
        min_length=1, description="at least one [[sites.libraries]] table"
    )

    @model_validator(mode="after")
    def _path_or_display_name(self) -> SiteTable:
        if (self.path is None) == (self.display_name is None):
            both = "both path and display_name" if self.path else "neither path nor display_name"
            raise invalid(both, "exactly one of path and display_name")
        if self.path is not None and self.host is None:
            raise invalid("path without host", "host next to path, e.g. contoso.sharepoint.com")
        return self


class ConfigFile(_Table):
    """The whole file. Validate with `context={"base": <the file's directory>}`."""

    auth: AuthTable = Field(description="an [auth] table")
    cloud: CloudTable = Field(default_factory=CloudTable, description="a [cloud] table")
    run: RunTable = Field(default_factory=RunTable, description="a [run] table")
    defaults: DefaultsTable = Field(description="a [defaults] table")
    sites: list[SiteTable] = Field(min_length=1, description="at least one [[sites]] table")

    @model_validator(mode="before")
    @classmethod
    def _defaults_in_context(cls, data: Any) -> Any:
        # An absent [defaults] is validated too, so data_root is relative to the file.
        if isinstance(data, dict) and "defaults" not in data:
            return {**data, "defaults": {}}
        return data

    @model_validator(mode="after")
    def _distinct_targets(self) -> ConfigFile:
        keys = [
            f"sites[{i}].libraries[{j}]"
            for i, site in enumerate(self.sites)
            for j in range(len(site.libraries))
        ]
        _check_names(self.sites)
        _check_roots(self.targets(), keys)
        return self

    def targets(self) -> list[Target]:
        """Every site's libraries, in file order."""
        return [
            _target(site, library, self.defaults, self.run.lock_timeout)
            for site in self.sites
            for library in site.libraries
        ]


# ------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """One library of one site, ready to sync: `spec` for the syncer, `on_change` for the CLI."""

    name: str
    site: str
    library: str
    spec: TargetSpec
    on_change: str | None = None


def _target(
    site: SiteTable, library: LibraryTable, defaults: DefaultsTable, lock_timeout: float
) -> Target:
    options = library.options(defaults)
    name = f"{site.name}/{library.name}"
    spec = TargetSpec(
        name=name,
        site=SiteRef(host=site.host, path=site.path, display_name=site.display_name),
        library=library.name,
        local_root=library.local_root or defaults.data_root / site.name / library.name,
        filters=Filters(include=options.include, exclude=options.exclude),
        concurrency=options.concurrency,
        max_delete_count=options.max_delete,
        max_delete_percent=options.max_delete_percent,
        permissions=options.permission_sweep,
        write_empty_logs=options.write_empty_logs,
        lock_timeout=lock_timeout,
    )
    return Target(name, site.name, library.name, spec, options.on_change or None)


def _check_names(sites: Sequence[SiteTable]) -> None:
    """Site names are unique, and so are library names within a site (hence target names)."""
    seen: dict[str, str] = {}
    for i, site in enumerate(sites):
        _first_use(seen, site.name, f"sites[{i}].name", "site name")
        targets: dict[str, str] = {}
        for j, library in enumerate(site.libraries):
            target = f"{site.name}/{library.name}"
            _first_use(targets, target, f"sites[{i}].libraries[{j}].name", "target")


def _first_use(seen: dict[str, str], name: str, key: str, what: str) -> None:
    # Case-insensitive, as SharePoint names are, and macOS and Windows file systems.
    folded = name.casefold()
    if folded in seen:
        problem = f"duplicate {what} {name!r} (first at {seen[folded]})"
        raise invalid(problem, "a unique name", key=key)
    seen[folded] = key


def _check_roots(targets: Sequence[Target], keys: Sequence[str]) -> None:
    """No two targets share a local root, and no root lies inside another (symlinks followed)."""
    roots: dict[Path, Target] = {}
    for target, key in zip(targets, keys, strict=True):
        root = target.spec.local_root.resolve()
        clash = next((roots[p] for p in (root, *root.parents) if p in roots), None)
        clash = clash or next((t for r, t in roots.items() if root in r.parents), None)
        if clash is not None:
            problem = f"local root {root} overlaps target {clash.name}'s {clash.spec.local_root}"
            raise invalid(
                problem, "a directory apart from every other target's", key=f"{key}.local_root"
            )
        roots[root] = target


# ------------------------------------------------------------------ the loaded configuration


@dataclass(frozen=True)
class Config:
    """A loaded configuration: who to authenticate as, where, and what to sync."""

    file: Path | None
    tenant_id: str
    client_id: str
    credential: Credential
    cloud: Cloud
    parallel_targets: int
    max_connections: int
    settings: ConfigFile = dataclasses.field(repr=False)

    @classmethod
    def from_model(cls, model: ConfigFile, *, file: Path | None = None) -> Config:
        """The configuration a validated `ConfigFile` describes; `file` names it in errors."""
        return cls(
            file=file,
            tenant_id=model.auth.tenant_id,
            client_id=model.auth.client_id,
            credential=model.auth.credential(),
            cloud=model.cloud.cloud(),
            parallel_targets=model.run.parallel_targets,
            max_connections=model.run.max_connections,
            settings=model,
        )

    def targets(self) -> list[Target]:
        """Every target, in file order."""
        return self.settings.targets()

    def select(self, only: Sequence[str]) -> list[Target]:
        """The targets `--only` names: a site name selects all its libraries, `site/library` one.

        An empty `only` selects every target. Names compare case-insensitively.

        Raises:
            ConfigError: a name matches no site and no target (the valid names are listed).
        """
        targets = self.targets()
        if not only:
            return targets
        chosen: set[str] = set()
        for name in only:
            wanted = name.strip().strip("/").casefold()
            matches = {t.name for t in targets if wanted in {t.site.casefold(), t.name.casefold()}}
            if not matches:
                sites = dict.fromkeys(t.site for t in targets)
                valid = ", ".join([*sites, *(t.name for t in targets)])
                problem = f"--only {name!r} names no site or target"
                raise ConfigError(problem, file=self.file, expected=f"one of {valid}")
            chosen |= matches
        return [t for t in targets if t.name in chosen]


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate the configuration file at `path`; nothing is written.

    `${VAR}` values come from `environ` (default `os.environ`) over the .env next to the file
    over the .env in the current directory; absent `[auth]` keys fall back to TENANT_ID,
    CLIENT_ID and CLIENT_SECRET from the same sources.

    Raises:
        ConfigError: the file is missing or invalid (one line: file, key path, expected, found).
    """
    path = Path(path)
    base = path.expanduser().absolute().parent
    env = environment(base, os.environ if environ is None else environ)
    raw = apply_auth_fallback(interpolate(read_toml(path), env, file=path), env)
    return Config.from_model(_validate(raw, path, base), file=path)


def _validate(raw: dict[str, Any], file: Path, base: Path) -> ConfigFile:
    try:
        return ConfigFile.model_validate(raw, context={"base": base})
    except ValidationError as exc:
        # from None: pydantic's own text shows input values, and one may be the secret.
        raise translate(exc, file=file, root=ConfigFile, secrets=secret_values(raw)) from None


def write_starter_config(path: Path, *, sites: Sequence[StarterSite] = ()) -> None:
    """Write a starter configuration for `ms365sync init`, listing `sites` if any are given.

    Credentials are `${TENANT_ID}`-style placeholders. The document is validated before it is
    written, and the file is created exclusively (mode 0600).

    Raises:
        ConfigError: `path` already exists, or a site or library name is unusable.
        LocalStorageError: the file cannot be created.
    """
    path = Path(path)
    if path.exists():
        raise ConfigError("already exists; not overwriting it", file=path, hint="pick a new path")
    document = starter_document(sites)
    _validate(document, path, path.expanduser().absolute().parent)
    write_new_file(path, document)
