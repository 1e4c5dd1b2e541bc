"""`load_config`: a sites.toml read, validated and turned into a `Config` and its `Target`s."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ms365sync.config.schema import (
    ConfigFile,
    DefaultsTable,
    LibraryTable,
    SiteTable,
    TargetOptions,
    validate,
)
from ms365sync.config.source import (
    apply_auth_fallback,
    config_environment,
    interpolate,
    read_toml,
)
from ms365sync.errors import ConfigError
from ms365sync.graph.cloud import Cloud
from ms365sync.graph.credentials import AppCredentials, Credential
from ms365sync.target import Filters, MetadataSpec, SiteRef, TargetSpec

__all__ = ["Config", "Target", "load_config"]


@dataclass(frozen=True)
class Target:
    """One library of one site, ready to sync: `spec` for the syncer, `on_change` for the CLI."""

    name: str
    site: str
    library: str
    spec: TargetSpec
    on_change: str | None = None


def targets_of(model: ConfigFile) -> list[Target]:
    """Every site's libraries in a validated file, in file order."""
    return [
        _target(site, library, model.defaults, model.run.lock_timeout)
        for site in model.sites
        for library in site.libraries
    ]


def _target(
    site: SiteTable, library: LibraryTable, defaults: DefaultsTable, lock_timeout: float
) -> Target:
    options = library.options(defaults)
    name = f"{site.name}/{library.name}"
    spec = TargetSpec(
        name=name,
        site=SiteRef(host=site.host, path=site.path, display_name=site.display_name),
        library=library.name,
        local_root=library.root(site.name, defaults),
        filters=Filters(include=options.include, exclude=options.exclude),
        concurrency=options.concurrency,
        max_delete_count=options.max_delete,
        max_delete_percent=options.max_delete_percent,
        permissions=dataclasses.replace(
            options.permission_sweep,
            sweep=options.permission_sweep_mode,
            full_interval_s=options.full_sweep,
        ),
        write_empty_logs=options.write_empty_logs,
        lock_timeout=lock_timeout,
        download_give_up=options.download_give_up,
        verify=options.verify,
        include_packages=options.include_packages,
        retry_permanent_after=options.retry_permanent_after,
        metadata=_metadata(options),
    )
    return Target(name, site.name, library.name, spec, options.on_change or None)


def _metadata(options: TargetOptions) -> MetadataSpec | None:
    """What a target reads of its files' metadata (None: nothing); a `where` filter or
    excluded labels need the metadata they test, so they read it when no columns are named."""
    columns = options.metadata
    if columns is None and not options.exclude_labels and options.where is None:
        return None
    named = None if columns == "all" else tuple(columns or ())
    return MetadataSpec(columns=named, where=options.where, exclude_labels=options.exclude_labels)


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

    @property
    def app(self) -> AppCredentials:
        """Who signs in: the tenant, the app registration and its credential."""
        return AppCredentials(self.tenant_id, self.client_id, self.credential)

    def targets(self) -> list[Target]:
        """Every target, in file order."""
        return targets_of(self.settings)

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
    env = config_environment(base, environ)
    raw = apply_auth_fallback(interpolate(read_toml(path), env, file=path), env)
    return Config.from_model(validate(raw, path, base), file=path)
