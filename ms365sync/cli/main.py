"""The `ms365sync` command: sync the configured targets, and its subcommands.

This package is the only place that prints or chooses exit codes: 0 every target ok,
1 some target failed, 2 configuration or usage error (also two targets found to be one
library), 3 authentication failed, 130 or 143 cut short by SIGINT or SIGTERM (what
completed is committed, every target is left consistent; `cli.interrupts`).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar

import click
from rich.console import Console

from ms365sync._version import __version__
from ms365sync.cli.interrupts import exit_code, interrupted_line, stop_on_signals
from ms365sync.cli.output import RunDisplay, print_json, print_summary, setup_logging
from ms365sync.config import Config, Target, load_config
from ms365sync.coordinator import Coordinator, RunReport
from ms365sync.errors import AuthError, ConfigError, MS365SyncError
from ms365sync.graph.connect import SessionFactory
from ms365sync.sync.stop import Stop

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    """The global options, passed to subcommands through the click context."""

    config: Path
    only: tuple[str, ...]
    dry_run: bool
    force: bool
    verbose: bool
    quiet: bool
    json: bool
    log_file: Path | None

    @property
    def console(self) -> Console:
        return Console(stderr=self.json, highlight=False)

    def fancy(self) -> bool:
        return sys.stderr.isatty() and not self.json and not self.quiet


def fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    """Print one clear line (and a hint) to stderr and exit with `code`."""
    click.echo(f"ms365sync: error: {message}", err=True)
    if hint:
        click.echo(f"ms365sync: hint: {hint}", err=True)
    sys.exit(code)


def exit_for(exc: MS365SyncError, options: Options | None = None) -> NoReturn:
    """Exit with the error's code and one line (and its hint); with --json, stdout still
    gets its one document, saying what failed."""
    if options is not None and options.json:
        document = {
            "ok": False,
            "exit_code": exc.exit_code,
            "dry_run": options.dry_run,
            "error": str(exc),
            "hint": exc.hint,
            "targets": [],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    fail(str(exc), exc.exit_code, exc.hint)


def load(options: Options) -> tuple[Config, list[Target]]:
    """The configuration and the targets `--only` selects (exit 2 on any problem)."""
    try:
        config = load_config(options.config)
        targets = config.select(options.only) if options.only else config.targets()
    except ConfigError as exc:
        exit_for(exc, options)
    return config, targets


def run_sync(
    options: Options,
    config: Config,
    targets: Sequence[Target],
    *,
    session_factory: SessionFactory | None = None,
    stop: Stop | None = None,
) -> RunReport:
    """One run over `targets` with progress and summary output, and the line saying so
    when `stop` cut it short; exits on auth failure."""
    console = options.console
    display = RunDisplay(console, options.fancy())
    coordinator = Coordinator(config, session_factory=session_factory, progress=display.for_target)
    try:
        with display.running():
            report = coordinator.run(
                targets, dry_run=options.dry_run, force=options.force, stop=stop
            )
    except AuthError as exc:
        exit_for(exc, options)
    finally:
        coordinator.close()
    if options.json:
        print_json(report, dry_run=options.dry_run, exit_code=outcome(report, stop))
    else:
        print_summary(console, report, fancy=options.fancy())
    if stop is not None and stop.requested and report.interrupted:
        click.echo(interrupted_line(stop, report), err=True)
    return report


def outcome(report: RunReport, stop: Stop | None) -> int:
    """The run's exit code: the signal's (130, 143) when one cut it short, else the report's."""
    if stop is not None and stop.requested and report.interrupted:
        return exit_code(stop)
    return report.exit_code


def global_options(function: F) -> F:
    """Options accepted both before and after a subcommand's name."""
    decorators = [
        click.option("--config", "config", type=click.Path(path_type=Path),
                     default=Path("sites.toml"), show_default=True,
                     help="The configuration file (TOML)."),
        click.option("--only", multiple=True, metavar="NAME",
                     help="Only this site, or SITE/LIBRARY (repeatable)."),
        click.option("--dry-run", is_flag=True,
                     help="Show what would change; change nothing on disk."),
        click.option("--force", is_flag=True,
                     help="Go ahead even when the max-delete guard trips."),
        click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
        click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors."),
        click.option("--json", "json_output", is_flag=True,
                     help="Print a machine-readable summary on stdout."),
        click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the log (debug level) to this file."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


class LazyGroup(click.Group):
    """A group whose heavy subcommands are imported only when they are used (or listed in
    --help): a sync run never imports the emulator, its HTTPS server or its CA."""

    lazy: ClassVar[dict[str, str]] = {  # name -> "module:attribute"
        "demo": "ms365sync.cli.demo:demo",
        "emulator": "ms365sync.emulator.cli:emulator_group",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@global_options
@click.version_option(__version__, prog_name="ms365sync")
@click.pass_context
def cli(
    ctx: click.Context,
    *,
    config: Path,
    only: tuple[str, ...],
    dry_run: bool,
    force: bool,
    verbose: bool,
    quiet: bool,
    json_output: bool,
    log_file: Path | None,
) -> None:
    """Mirror SharePoint document libraries to disk, with permissions and change logs.

    Without a command, syncs every target of the configuration (or those --only names).
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet exclude each other")
    options = Options(config, only, dry_run, force, verbose, quiet, json_output, log_file)
    ctx.obj = options
    setup_logging(verbose=verbose, quiet=quiet, log_file=log_file, console=not json_output)
    if ctx.invoked_subcommand is None:
        configuration, targets = load(options)
        with stop_on_signals(Stop(configuration.settings.run.stop_timeout)) as stop:
            report = run_sync(options, configuration, targets, stop=stop)
        ctx.exit(outcome(report, stop))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (click's own Ctrl-C handling would exit 1, not 130)."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="ms365sync",
            standalone_mode=False,
        )
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("ms365sync: interrupted; every target was left consistent", err=True)
        code = EXIT_INTERRUPTED
    sys.exit(code if isinstance(code, int) else EXIT_OK)
