"""The configuration file's tables (pydantic): every key, its type, its checks and its default."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ms365sync.config.durations import DURATION_TEXT, POSITIVE_DURATION_TEXT, SWEEP_TEXT
from ms365sync.config.messages import invalid, secret_values, translate
from ms365sync.config.values import (
    BUDGET_URL_TEXT,
    CLOUD_CHOICES,
    CONCURRENCY_TEXT,
    FULL_SWEEP_TEXT,
    LABELS_TEXT,
    METADATA_TEXT,
    SWEEP_MODE_TEXT,
    VERIFY_TEXT,
    WHERE_TEXT,
    AbsolutePath,
    Bool,
    BudgetUrl,
    CloudName,
    Command,
    Concurrency,
    Duration,
    ExistingFile,
    FullSweep,
    Host,
    HttpsUrl,
    Identifier,
    Int,
    Labels,
    LibraryName,
    Metadata,
    Number,
    Patterns,
    PositiveDuration,
    Secret,
    SiteName,
    SitePath,
    Sweep,
    SweepMode,
    Text,
    Thumbprint,
    Verify,
    WhereExpression,
)
from ms365sync.graph.cloud import Cloud, choose_cloud
from ms365sync.graph.credentials import (
    CertificateError,
    ClientCertificate,
    ClientSecret,
    Credential,
    load_certificate,
)
from ms365sync.target import (
    DOWNLOAD_GIVE_UP_S,
    RETRY_PERMANENT_AFTER_S,
    SMALLEST_BAND,
    STOP_TIMEOUT_S,
    BudgetSettings,
    PermissionPolicy,
)

__all__ = [
    "AuthTable",
    "CloudTable",
    "ConfigFile",
    "DefaultsTable",
    "LibraryTable",
    "RunTable",
    "SiteTable",
    "TargetOptions",
    "validate",
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
        credential = self.credential()
        if isinstance(credential, ClientCertificate):
            try:  # now, so that a credential that cannot sign in is a configuration error
                load_certificate(credential)
            except CertificateError as exc:
                raise invalid(exc.problem, exc.expected, key=exc.key) from None
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

    name: CloudName | None = Field(default=None, description=CLOUD_CHOICES)
    authority_url: HttpsUrl | None = Field(default=None, description="https://host[:port]")
    graph_url: HttpsUrl | None = Field(default=None, description="https://host[:port]")
    ca_bundle: ExistingFile | None = Field(default=None, description="a PEM file of CA certs")
    # SharePoint REST (site groups' members) at this origin instead of each site's own host:
    # the emulator on loopback. Tokens stay for the site's real host.
    sharepoint_url: HttpsUrl | None = Field(default=None, description="https://host[:port]")

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
        return choose_cloud(
            self.name or "global",
            authority_url=self.authority_url,
            graph_url=self.graph_url,
            ca_bundle=self.ca_bundle,
            sharepoint_url=self.sharepoint_url,
        )


class RunTable(_Table):
    """[run]: how one run spreads over the targets."""

    # Targets mostly wait on the network, so several run at once; the load on SharePoint is
    # bounded by max_connections and the shared throttle gate, not by this number.
    parallel_targets: Int = Field(default=8, ge=1, le=64, description="an integer from 1 to 64")
    # Four targets' default 8 workers downloading at once; the shared throttle gate, not the
    # connection count, is what keeps a run inside SharePoint's RU budget.
    # At most 256: far beyond what one app's SharePoint budget can use, and each connection
    # is a pooled socket (a hundred million built their pool before the first request).
    max_connections: Int = Field(default=32, ge=1, le=256, description="an integer from 1 to 256")
    lock_timeout: Duration = Field(default=300.0, description=DURATION_TEXT)
    # How long the downloads in flight get to finish after a first SIGINT or SIGTERM before
    # the run abandons them and records what completed (0: abandon at once).
    stop_timeout: Duration = Field(default=STOP_TIMEOUT_S, description=DURATION_TEXT)
    # The tenant's licence band (graph-facts §9.3); the default is the smallest band, so an
    # unconfigured tenant is never over-spent. Sweeps are scheduled against the daily one;
    # shards and a shared budget_url pace every request against both.
    ru_per_minute: Int = Field(
        default=int(SMALLEST_BAND.ru_per_minute), ge=1, description="a positive integer"
    )
    ru_per_day: Int = Field(
        default=int(SMALLEST_BAND.ru_per_day), ge=1, description="a positive integer"
    )
    # A quarter: sweeps are the one large spender that can wait; downloads cannot.
    sweep_budget_share: Number = Field(
        default=SMALLEST_BAND.share, gt=0, le=1, description="a number above 0, at most 1"
    )
    # One tenant budget shared through Redis by every worker (shards on other machines
    # included); unset, a shard paces itself to its 1/N share and an unsharded run reacts
    # to the RateLimit headers and 429s alone. May hold a password: use ${VAR}.
    budget_url: BudgetUrl | None = Field(default=None, description=BUDGET_URL_TEXT)

    def budget(self) -> BudgetSettings:
        """The sweeps' budget these settings describe."""
        return BudgetSettings(self.ru_per_minute, self.ru_per_day, self.sweep_budget_share)


class PrincipalsTable(_Table):
    """[principals]: the tenant's principals snapshot (who stands behind the grants' ids)."""

    # Off unless asked: it needs GroupMember.Read.All, and a certificate for site groups.
    expand: bool = Field(default=False, description="true or false")
    refresh: Duration = Field(default=86_400.0, description=DURATION_TEXT)


class TargetOptions(_Table):
    """The per-target settings [defaults] sets and a [[sites.libraries]] table overrides."""

    include: Patterns = Field(default=(), description="an array of patterns")
    exclude: Patterns = Field(default=("~$*", "*.tmp"), description="an array of patterns")
    # None: "auto", the number of concurrent downloads follows the round trips (sync.concurrency).
    concurrency: Concurrency = Field(default=None, description=CONCURRENCY_TEXT)
    max_delete: Int = Field(default=1000, ge=0, description="an integer >= 0")
    max_delete_percent: Number = Field(
        default=50.0, ge=0, le=100, description="a number from 0 to 100"
    )
    permission_sweep: Sweep = Field(default=PermissionPolicy(), description=SWEEP_TEXT)
    permission_sweep_mode: SweepMode = Field(default="structure", description=SWEEP_MODE_TEXT)
    # Never by default: a structure sweep reads every root a file inherits from, and no kind
    # of change the emulator or the sources know escapes it (docs/rag.md); a full sweep of a
    # 100,000-file library is about 500,000 RU, more than the smallest band's daily sweep
    # allowance. Set it (e.g. "30d") to check the service's root marks themselves.
    full_sweep: FullSweep = Field(default=None, description=FULL_SWEEP_TEXT)
    write_empty_logs: Bool = Field(default=False, description="true or false")
    on_change: Command = Field(default="", description='a command, or "" for none')
    # How long one download may fail without getting further before the file is left for
    # the next run (graph/download.py): per target, as a library of large files on a poor
    # link may need longer.
    download_give_up: PositiveDuration = Field(
        default=DOWNLOAD_GIVE_UP_S, description=POSITIVE_DURATION_TEXT
    )
    # Files SharePoint serves with other bytes than it lists (IRM, rewritten Office and PDF
    # files, graph-facts §17.1): accepted and reported when two downloads agree.
    verify: Verify = Field(default="consistent", description=VERIFY_TEXT)
    # The sections of OneNote notebooks (and other packages) are not documents one indexes
    # as files, and fail their hash checks (graph-facts §17.4): skipped unless asked.
    include_packages: Bool = Field(default=False, description="true or false")
    # A file that failed for good is tried again when it changes, or after this long.
    retry_permanent_after: PositiveDuration = Field(
        default=RETRY_PERMANENT_AFTER_S, description=POSITIVE_DURATION_TEXT
    )
    # Document metadata for indexers (issue 21): the library's columns, content type,
    # people and sensitivity label, read with the list's delta (graph-facts §18.2) into
    # .metadata.json and the change logs. Unset: none is read (the original outputs).
    metadata: Metadata = Field(default=None, description=METADATA_TEXT)
    # Files with one of these sensitivity labels (names or ids) stay out of the mirror.
    exclude_labels: Labels = Field(default=(), description=LABELS_TEXT)
    # Only files whose metadata matches stay in the mirror (ms365sync.where's language).
    where: WhereExpression = Field(default=None, description=WHERE_TEXT)


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

    def root(self, site: str, defaults: DefaultsTable) -> Path:
        """Where this library is mirrored: `local_root`, else `<data_root>/<site>/<library>`."""
        return self.local_root or defaults.data_root / site / self.name


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
    principals: PrincipalsTable = Field(
        default_factory=PrincipalsTable, description="a [principals] table"
    )
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
        _check_names(self.sites)
        _check_libraries_once(self.sites)
        _check_roots(
            [
                (f"{site.name}/{library.name}", library.root(site.name, self.defaults), key)
                for i, site in enumerate(self.sites)
                for j, library in enumerate(site.libraries)
                for key in [f"sites[{i}].libraries[{j}]"]
            ]
        )
        return self


def validate(raw: dict[str, Any], file: Path, base: Path) -> ConfigFile:
    """The file's document, validated; relative paths are relative to `base`.

    Raises:
        ConfigError: one line naming `file`, the key path, the problem and what was expected.
    """
    try:
        return ConfigFile.model_validate(raw, context={"base": base})
    except ValidationError as exc:
        # from None: pydantic's own text shows input values, and one may be the secret.
        raise translate(exc, file=file, root=ConfigFile, secrets=secret_values(raw)) from None


# ------------------------------------------------------------------ checks across tables


def _check_names(sites: Sequence[SiteTable]) -> None:
    """Site names are unique, and so are library names within a site (hence target names)."""
    seen: dict[str, str] = {}
    for i, site in enumerate(sites):
        _first_use(seen, site.name, f"sites[{i}].name", "site name")
        targets: dict[str, str] = {}
        for j, library in enumerate(site.libraries):
            target = f"{site.name}/{library.name}"
            _first_use(targets, target, f"sites[{i}].libraries[{j}].name", "target")


def _check_libraries_once(sites: Sequence[SiteTable]) -> None:
    """A library is one target: the same site listed twice may not name a library again
    (two targets would mirror, delete and report the same files twice)."""
    seen: dict[tuple[str, ...], str] = {}
    for i, site in enumerate(sites):
        where = (
            ("path", (site.host or "").lower(), (site.path or "").casefold())
            if site.path is not None
            else ("name", _folded(site.display_name or ""))
        )
        for j, library in enumerate(site.libraries):
            key = f"sites[{i}].libraries[{j}].name"
            first = seen.setdefault((*where, _folded(library.name)), key)
            if first != key:
                problem = f"library {library.name!r} of this site is already a target ({first})"
                raise invalid(problem, "each library of a site listed once", key=key)


def _folded(name: str) -> str:
    """Case- and normalisation-insensitive, as SharePoint names are, and macOS and Windows
    file systems (an "é" typed as one code point or as e + accent is one name)."""
    return unicodedata.normalize("NFC", name).casefold()


def _first_use(seen: dict[str, str], name: str, key: str, what: str) -> None:
    folded = _folded(name)
    if folded in seen:
        problem = f"duplicate {what} {name!r} (first at {seen[folded]})"
        raise invalid(problem, "a unique name", key=key)
    seen[folded] = key


# Top-level directories a target (which creates data/, sync_logs/ and .ms365sync/ in its
# root and deletes what it placed there) must never take as its root.
_SYSTEM_DIRS = frozenset(
    {
        "bin",
        "boot",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "proc",
        "root",
        "run",
        "sbin",
        "sys",
        "usr",
        "var",
    }
)


def _check_roots(roots: Sequence[tuple[str, Path, str]]) -> None:
    """No two targets share a local root, and no root lies inside another (symlinks followed).

    `roots` holds each target's name, local root and key path.
    """
    seen: dict[Path, tuple[str, Path]] = {}
    for name, local_root, key in roots:
        root = local_root.resolve()
        if root == root.parent or (root.parent == Path("/") and root.name in _SYSTEM_DIRS):
            raise invalid(
                f"local root {root} is the file system's root or a system directory",
                "a directory of its own, e.g. /srv/ms365sync/marketing",
                key=f"{key}.local_root",
            )
        clash = next((seen[p] for p in (root, *root.parents) if p in seen), None)
        clash = clash or next((t for r, t in seen.items() if root in r.parents), None)
        if clash is not None:
            other, other_root = clash
            problem = f"local root {root} overlaps target {other}'s {other_root}"
            raise invalid(
                problem, "a directory apart from every other target's", key=f"{key}.local_root"
            )
        seen[root] = (name, local_root)
