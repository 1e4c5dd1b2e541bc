"""`check`, `init`, `status` and `watch`: everything around a sync run."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from ms365sync.cli.interrupts import stop_on_signals
from ms365sync.cli.main import (
    EXIT_FAILED,
    EXIT_OK,
    Options,
    empty_shard,
    exit_for,
    load,
    outcome,
    run_sync,
)
from ms365sync.cli.output import print_records
from ms365sync.cli.params import Duration
from ms365sync.cli.shards import imbalance_warning, shard_loads
from ms365sync.cli.unmirrored import CLASSES, issue_rows, print_unmirrored
from ms365sync.config import (
    StarterCloud,
    StarterSite,
    Target,
    write_example_config,
    write_starter_config,
)
from ms365sync.config.durations import format_duration
from ms365sync.config.preflight import local_problems
from ms365sync.config.source import environment
from ms365sync.coordinator import Coordinator
from ms365sync.errors import AuthError, ConfigError, MS365SyncError
from ms365sync.graph.cloud import Cloud, choose_cloud
from ms365sync.graph.connect import connect
from ms365sync.graph.credentials import AppCredentials, ClientSecret
from ms365sync.graph.lookup import resolve, sites_and_libraries
from ms365sync.state.meta import SWEEP_WINDOW_S, Meta
from ms365sync.state.store import StateStore
from ms365sync.sync.claims import same_library
from ms365sync.sync.stop import Stop
from ms365sync.target import DB_NAME, PermissionPolicy

F = TypeVar("F", bound=Callable[..., Any])


def target_options(function: F) -> F:
    """`--config` and `--only` after the subcommand name (they override the group's)."""
    function = click.option(
        "--only", "sub_only", multiple=True, metavar="NAME",
        help="Only this site, or SITE/LIBRARY (repeatable).",
    )(function)  # fmt: skip
    return click.option(
        "--config", "sub_config", type=click.Path(path_type=Path), default=None,
        help="The configuration file (default: the global --config, else "
        "$MS365SYNC_CONFIG, else sites.toml).",
    )(function)  # fmt: skip


def merged(ctx: click.Context, sub_config: Path | None, sub_only: tuple[str, ...]) -> Options:
    options: Options = ctx.obj
    return replace(
        options,
        config=sub_config if sub_config is not None else options.config,
        only=sub_only or options.only,
    )


# ---------------------------------------------------------------------- check


@click.command()
@target_options
@click.pass_context
def check(ctx: click.Context, sub_config: Path | None, sub_only: tuple[str, ...]) -> None:
    """Validate the configuration, sign in, and find every target's site and library.

    It also checks, per target, that the local root is writable (or can be created) and
    that the on_change command is found (on PATH, or at the path given).
    """
    options = merged(ctx, sub_config, sub_only)
    config, targets = load(options)
    shard = options.chosen_shard()
    warnings = []
    if shard is not None:
        loads = shard_loads(config.targets(), shard.count)
        warnings = [w for w in [imbalance_warning(loads, config.file)] if w]
    coordinator = Coordinator(config, shards=shard.count if shard is not None else 1)
    try:
        coordinator.authenticate()
        rows, failed = _resolve_all(coordinator, targets)
    except AuthError as exc:
        exit_for(exc)
    finally:
        coordinator.close()
    if options.json:
        document: dict[str, Any] = {"ok": not failed, "targets": rows}
        if shard is not None:
            document.update(shard=str(shard), warnings=warnings)
        click.echo(json.dumps(document, indent=2))
    else:
        for warning in warnings:
            click.echo(f"ms365sync: warning: {warning}", err=True)
        table = Table(title=f"{options.config}: {len(targets)} targets")
        for column in ("target", "site", "library", "drive id", "local root", "result"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(str(row[key] or "") for key in row))
        options.rich_console().print(table)
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


def _resolve_all(coordinator: Coordinator, targets: list[Any]) -> tuple[list[dict[str, Any]], int]:
    """A row per target: its site and library found, its local root and hook usable."""
    rows: list[dict[str, Any]] = []
    failed = 0
    holders: dict[str, str] = {}  # drive id -> the target listed first for it
    for target in targets:
        row: dict[str, Any] = {"target": target.name, "site": None, "library": None,
                               "drive_id": None, "local_root": str(target.spec.local_root),
                               "result": "ok"}  # fmt: skip
        problems = local_problems(target)
        try:
            found = resolve(coordinator.client, target.spec.site, target.spec.library)
            row.update(site=found.site_name, library=found.library_title, drive_id=found.drive_id)
            holder = holders.setdefault(found.drive_id, target.name)
            if holder != target.name:
                raise same_library(target.name, holder, found.drive_id)
        except MS365SyncError as exc:
            if isinstance(exc, AuthError):
                raise
            problems.insert(0, str(exc))
        if problems:
            row["result"] = "FAILED: " + "; ".join(problems)
            failed += 1
        rows.append(row)
    return rows, failed


# ---------------------------------------------------------------------- init


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sites.toml"),
    show_default=True,
    envvar="MS365SYNC_CONFIG",
    show_envvar=True,
    help="Where to write the file (where the other commands look for it).",
)
@click.option(
    "--example",
    is_flag=True,
    help="Write the commented example that explains every key instead of a starter file.",
)
@click.option(
    "--discover",
    is_flag=True,
    help="Sign in (TENANT_ID, CLIENT_ID, CLIENT_SECRET from the environment or .env) "
    "and list the sites and libraries the app can see.",
)
@click.option(
    "--cloud",
    "cloud_name",
    default="global",
    show_default=True,
    help="The cloud for [cloud] (and --discover): global, usgov, usgov-dod or china.",
)
@click.option("--authority-url", help="Explicit authority for [cloud] (e.g. the emulator).")
@click.option("--graph-url", help="Explicit Graph URL for [cloud] (e.g. the emulator).")
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA bundle for [cloud] to trust (e.g. the emulator's ca.pem).",
)
@click.pass_context
def init(  # noqa: PLR0917 - one parameter per option, as click passes them
    ctx: click.Context,
    output: Path,
    example: bool,
    discover: bool,
    cloud_name: str,
    authority_url: str | None,
    graph_url: str | None,
    ca_bundle: Path | None,
) -> None:
    """Write a starter sites.toml to fill in (refuses to overwrite an existing file).

    With --discover it signs in and lists every site and library the app can see, and the
    file keeps the cloud, endpoints and CA bundle it signed in with. With --example it
    writes the commented example of every key.
    """
    if example and discover:
        raise click.UsageError("give --example or --discover, not both")
    sites: list[StarterSite] = []
    starter = StarterCloud(cloud_name, authority_url, graph_url, ca_bundle)
    try:
        if example:
            write_example_config(output)
        else:
            if discover:
                sites = discover_sites(_cloud(cloud_name, authority_url, graph_url, ca_bundle))
            write_starter_config(output, sites=sites, cloud=starter)
    except MS365SyncError as exc:
        exit_for(exc)
    given = ctx.get_parameter_source("output") == click.core.ParameterSource.COMMANDLINE
    check = f"ms365sync check --config {output}" if given else "ms365sync check"
    options = ctx.find_object(Options)
    if options is not None and options.json:
        document = {"ok": True, "exit_code": EXIT_OK, "written": str(output),
                    "example": example, "discovered_sites": len(sites), "next": check}  # fmt: skip
        click.echo(json.dumps(document, indent=2))
    elif example:
        click.echo(f"wrote {output}: the example of every key; edit it, then run `{check}`")
    else:
        found = f" with {len(sites)} discovered sites" if discover else ""
        click.echo(f"wrote {output}{found}: fill in [auth] (or set TENANT_ID, CLIENT_ID, "
                   f"CLIENT_SECRET) and the [[sites]], then run `{check}`")  # fmt: skip
    ctx.exit(EXIT_OK)


def _cloud(name: str, authority: str | None, graph: str | None, ca: Path | None) -> Cloud:
    if bool(authority) != bool(graph):
        raise ConfigError("give both --authority-url and --graph-url", key="--graph-url")
    return choose_cloud(name, authority_url=authority, graph_url=graph, ca_bundle=ca)


def discover_sites(cloud: Cloud) -> list[StarterSite]:
    """Every site the app can list, with its document libraries (by URL name).

    Raises:
        ConfigError: credentials missing from the environment.
        AuthError, GraphError, TransportError: signing in or listing failed.
    """
    env = environment([Path(".env")])
    missing = [v for v in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET") if not env.get(v)]
    if missing:
        raise ConfigError(f"--discover needs {', '.join(missing)} in the environment or .env")
    app = AppCredentials(env["TENANT_ID"], env["CLIENT_ID"], ClientSecret(env["CLIENT_SECRET"]))
    with connect(app, cloud) as client:
        return [
            StarterSite.from_url(
                site.web_url or "", libraries=libraries, display_name=site.display_name
            )
            for site, libraries in sites_and_libraries(client)
        ]


# ---------------------------------------------------------------------- status


@click.command()
@target_options
@click.pass_context
def status(ctx: click.Context, sub_config: Path | None, sub_only: tuple[str, ...]) -> None:
    """Per target: the last run, its result, file counts, and the files not mirrored as
    listed by class with their reasons (from the state)."""
    options = merged(ctx, sub_config, sub_only)
    _, targets = load(options)
    rows = [_status_row(target) for target in targets]
    if options.json:
        click.echo(json.dumps({"targets": rows}, indent=2))
    else:
        shown = [
            {
                "target": row["target"],
                "last run": row["last_run"] or "never",
                "result": row["result"],
                "files": str(row["files"]),
                "pending errors": str(row["pending_errors"]),
                "not mirrored": _unmirrored_text(row["unmirrored"]),
                "permissions verified": row["permissions"]["verified"] or "never",
                "next verification": _next_text(row["permissions"]),
            }
            for row in rows
        ]
        print_records(options.console, "ms365sync status", shown)
        for row in rows:
            print_unmirrored(options.console, row["target"], row["unmirrored"])
    ctx.exit(EXIT_OK)


def _unmirrored_text(rows: dict[str, list[dict[str, Any]]]) -> str:
    counts = [f"{len(rows[name])} {name}" for name in CLASSES if rows.get(name)]
    return ", ".join(counts) or "none"


def _when(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment).isoformat(" ", "seconds")


def _next_text(sweep: dict[str, Any]) -> str:
    """The table's "next verification": a time, "deferred ...", "every run" or "never"."""
    deferred = sweep["deferred"]
    if deferred is not None:
        until = deferred["until"]
        when = f"not before {until}" if until else "not as configured"
        return f"{when} (deferred: {deferred['reason']})"
    return str(sweep["next"] or sweep["policy"])


def _sweep_status(policy: PermissionPolicy, meta: Meta | None) -> dict[str, Any]:
    """When the target's permissions were last verified by a sweep and when they will be."""
    every = "every run" if policy.mode == "always" else "never"
    status: dict[str, Any] = {
        "mode": policy.sweep,
        "policy": every
        if policy.mode != "interval"
        else f"every {format_duration(policy.interval_s)}",
        "verified": None,
        "full_verified": None,
        "next": None,
        "deferred": None,
        "spent_24h": 0.0,
        "estimate": {},
    }
    if meta is None:
        return status
    status["verified"] = _when(meta.last_sweep)
    status["full_verified"] = _when(meta.last_full_sweep)
    status["estimate"] = dict(meta.sweep_estimates)
    status["spent_24h"] = sum(r.ru for r in meta.sweeps if time.time() - r.at < SWEEP_WINDOW_S)
    upcoming = policy.next_due(meta.last_sweep, meta.last_full_sweep)
    status["next"] = every if policy.mode == "always" else _when(upcoming) or every
    deferral = meta.sweep_deferred
    if deferral is not None:
        until = _when(deferral.at) if deferral.at >= 0 else None
        status["deferred"] = {"kind": deferral.kind, "reason": deferral.reason, "until": until}
    return status


def _status_row(target: Target) -> dict[str, Any]:
    name, state_dir = target.name, target.spec.state_dir
    row: dict[str, Any] = {"target": name, "last_run": None, "result": "never synced",
                           "files": 0, "pending_errors": 0, "summary": None,
                           "unmirrored": {name: [] for name in CLASSES},
                           "permissions": _sweep_status(target.spec.permissions, None)}  # fmt: skip
    if not (state_dir / DB_NAME).exists():
        return row
    try:
        state = StateStore.snapshot(state_dir)
    except MS365SyncError as exc:
        row["result"] = f"unreadable state: {exc}"
        return row
    try:
        last = state.last_run()
        if last is not None:
            finished = last.finished or last.started
            row["last_run"] = datetime.datetime.fromtimestamp(finished).isoformat(" ", "seconds")
            row["result"] = last.status
            row["summary"] = json.loads(last.summary) if last.summary else None
        row["files"] = state.mirror_count()
        row["unmirrored"] = issue_rows(state.errors())
        row["pending_errors"] = len(row["unmirrored"]["transient"])
        row["permissions"] = _sweep_status(target.spec.permissions, state.meta)
    finally:
        state.close()
    return row


# ---------------------------------------------------------------------- watch


@click.command()
@click.option(
    "--every",
    "every",
    required=True,
    type=Duration(positive=True),
    metavar="DURATION",
    help="Time between the starts of two runs, e.g. 15m or 1h.",
)
@target_options
@click.pass_context
def watch(ctx: click.Context, every: float, sub_config: Path | None,
          sub_only: tuple[str, ...]) -> None:  # fmt: skip
    """Sync on an interval until SIGINT or SIGTERM; a signal stops the current run as it
    stops a sync (no new download, the ones in flight get [run] stop_timeout, what
    completed is committed) and exits 130 or 143 if it cut that run short; between runs it
    exits with the last run's code. A second signal abandons the downloads in flight.

    A target's `on_change` command runs with the new change log after a run with changes.
    """
    options = merged(ctx, sub_config, sub_only)
    with stop_on_signals(Stop()) as stop:
        code = _watch_loop(options, every, stop)
    ctx.exit(code)


def _watch_loop(options: Options, interval: float, stop: Stop) -> int:
    code = EXIT_OK
    while not stop.requested:
        started = time.monotonic()
        _say(options, f"cycle started at {_now()}")
        config, targets = load(options)  # re-read, so edits apply to the next run
        stop.grace = config.settings.run.stop_timeout
        if targets or options.chosen_shard() is None:
            report = run_sync(options, config, targets, stop=stop)
            code = outcome(report, stop)
            if report.interrupted:
                return code
        else:  # this shard holds none of the targets (now): no sign-in, nothing to do
            code = empty_shard(options)
        pause = max(0.0, interval - (time.monotonic() - started))
        upcoming = datetime.datetime.now().astimezone() + datetime.timedelta(seconds=pause)
        _say(options, f"cycle done at {_now()}; next at {upcoming.isoformat(' ', 'seconds')}")
        stop.wait(pause)
    click.echo(f"ms365sync: stopped ({stop.reason}) between runs", err=True)
    return code


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(" ", "seconds")


def _say(options: Options, line: str) -> None:
    """A watch line: on stderr, so --json keeps one document per run on stdout; not with -q."""
    if not options.quiet:
        click.echo(f"ms365sync watch: {line}", err=True)


__all__ = ["check", "init", "status", "watch"]
