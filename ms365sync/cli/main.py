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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

import click

from ms365sync._version import __version__
from ms365sync.cli.plain import UNWRAPPED_WIDTH, Printer, console_for
from ms365sync.errors import AuthError, ConfigError, MS365SyncError

# What a run needs (the configuration, the coordinator and the whole sync beneath it, rich
# for a terminal) is imported where it is used: `--version`, `--help` and a usage error stay
# cheap, and output that is not a terminal never loads rich (docs/performance.md).
if TYPE_CHECKING:
    from rich.console import Console

    from ms365sync.config import Config, Target
    from ms365sync.coordinator import RunReport
    from ms365sync.graph.connect import SessionFactory
    from ms365sync.shards import Shard
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
    max_lines: int = 50
    log_format: str = "text"
    shard: str | None = None  # --shard I/N as given (MS365SYNC_SHARD)
    shards: str | None = None  # --shards N as given (MS365SYNC_SHARDS)

    def chosen_shard(self) -> Shard | None:
        """This worker's shard (`ms365sync.shards.resolve`), None when not sharded.

        Raises:
            click.UsageError: the shard options or JOB_COMPLETION_INDEX cannot be used.
        """
        import os  # noqa: PLC0415 -- see the imports

        from ms365sync.shards import ShardError, resolve  # noqa: PLC0415

        try:
            return resolve(self.shard, self.shards, os.environ)
        except ShardError as exc:
            raise click.UsageError(str(exc)) from None

    @property
    def console(self) -> Printer:
        """Where the human-readable output goes (stderr with --json, else stdout): rich's
        console on a terminal; otherwise plain lines, never wrapped (a table's identifiers
        stay whole for grep and cut), without loading rich."""
        return console_for(sys.stderr if self.json else sys.stdout)

    def rich_console(self) -> Console:
        """rich's console on the same stream, also when that is not a terminal (for a
        table or a tree), never wrapping there."""
        from rich.console import Console  # noqa: PLC0415 -- see the imports

        console = Console(stderr=self.json, highlight=False)
        if not console.is_terminal:
            console.width = UNWRAPPED_WIDTH
        return console

    def fancy(self) -> bool:
        return sys.stderr.isatty() and not self.json and not self.quiet


def fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    """Print one clear line (and a hint) to stderr and exit with `code`."""
    click.echo(f"ms365sync: error: {message}", err=True)
    if hint:
        click.echo(f"ms365sync: hint: {hint}", err=True)
    sys.exit(code)


MAX_PROBLEMS_SHOWN = 20


def exit_for(exc: MS365SyncError, options: Options | None = None) -> NoReturn:
    """Exit with the error's code and one line (and its hint), or for a configuration with
    several problems a line for each (at most MAX_PROBLEMS_SHOWN, then how many more); with
    --json (here or in the command line's options), stdout still gets its one document,
    saying what failed."""
    problems = exc.problems if isinstance(exc, ConfigError) else (str(exc),)
    if options is None:
        ctx = click.get_current_context(silent=True)
        options = None if ctx is None else ctx.find_object(Options)
    if options is not None and options.json:
        print_error_document(
            str(exc), exc.exit_code, exc.hint, dry_run=options.dry_run, problems=problems
        )
    if len(problems) > 1:
        shown = list(problems[:MAX_PROBLEMS_SHOWN])
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
        for line in shown[:-1]:
            click.echo(f"ms365sync: error: {line}", err=True)
        fail(shown[-1], exc.exit_code, exc.hint)
    fail(str(exc), exc.exit_code, exc.hint)


def print_error_document(
    message: str,
    code: int,
    hint: str | None = None,
    *,
    dry_run: bool = False,
    problems: Sequence[str] = (),
) -> None:
    """--json's one document for a run that failed before any target ran."""
    document = {
        "ok": False,
        "exit_code": code,
        "dry_run": dry_run,
        "error": message,
        "problems": list(problems) or [message],
        "hint": hint,
        "targets": [],
    }
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def load(options: Options) -> tuple[Config, list[Target]]:
    """The configuration and the targets `--only` selects, of this worker's shard when
    sharded (exit 2 on any problem)."""
    from ms365sync.config import load_config  # noqa: PLC0415 -- see the imports

    shard = options.chosen_shard()
    try:
        config = load_config(options.config)
        targets = config.select(options.only) if options.only else config.targets()
    except ConfigError as exc:
        exit_for(exc, options)
    if shard is not None:
        mine = shard.names(target.name for target in config.targets())
        targets = [target for target in targets if target.name in mine]
    return config, targets


def run_sync(
    options: Options,
    config: Config,
    targets: Sequence[Target],
    *,
    session_factory: SessionFactory | None = None,
    print_report: bool = True,
    stop: Stop | None = None,
) -> RunReport:
    """One run over `targets` with progress and summary output (the summary or --json's
    document only with `print_report`), and the line saying so when `stop` cut it short;
    exits on auth failure."""
    from loguru import logger  # noqa: PLC0415 -- see the imports

    from ms365sync.cli.interrupts import interrupted_line  # noqa: PLC0415
    from ms365sync.cli.output import (  # noqa: PLC0415
        RunDisplay,
        log_run_end,
        log_run_start,
        print_json,
        print_summary,
    )
    from ms365sync.coordinator import Coordinator  # noqa: PLC0415

    # Progress bars and the summary table (stderr is a terminal) are rich's, also when stdout
    # is redirected; otherwise rich is not loaded at all.
    console = options.rich_console() if options.fancy() else options.console
    display = RunDisplay(console, options.fancy())
    shard = options.chosen_shard()
    coordinator = Coordinator(
        config,
        session_factory=session_factory,
        progress=display.for_target,
        shards=shard.count if shard is not None else 1,
    )
    started = time.monotonic()
    log_run_start(options.config, targets, dry_run=options.dry_run, shard=shard)
    try:
        with display.running():
            report = coordinator.run(
                targets, dry_run=options.dry_run, force=options.force, stop=stop
            )
    except AuthError as exc:
        # The error line on stderr says it already; the log file gets it as the run's end.
        logger.bind(_file_only=True).error("run end: exit code {}: {}", exc.exit_code, exc)
        exit_for(exc, options)
    finally:
        coordinator.close()
    log_run_end(report, time.monotonic() - started)
    if print_report and options.json:
        print_json(report, dry_run=options.dry_run, exit_code=outcome(report, stop), shard=shard)
    elif print_report:
        print_summary(
            console,
            report,
            fancy=options.fancy(),
            quiet=options.quiet,
            max_lines=options.max_lines,
        )
    if stop is not None and stop.requested and report.interrupted:
        click.echo(interrupted_line(stop, report), err=True)
    return report


def empty_shard(options: Options) -> int:
    """Say that this worker's shard holds none of the targets (a run with nothing to do,
    not a failure: more shards than targets, or `--only` names another shard's)."""
    shard = options.chosen_shard()
    line = f"shard {shard} holds none of the selected targets of {options.config}; nothing to do"
    if options.json:
        document = {"ok": True, "exit_code": EXIT_OK, "dry_run": options.dry_run,
                    "shard": str(shard), "targets": [], "on_change_failures": {},
                    "message": line}  # fmt: skip
        click.echo(json.dumps(document, indent=2))
    elif not options.quiet:
        options.console.print(f"ms365sync: {line}")
    return EXIT_OK


def outcome(report: RunReport, stop: Stop | None) -> int:
    """The run's exit code: the signal's (130, 143) when one cut it short, else the report's."""
    from ms365sync.cli.interrupts import exit_code  # noqa: PLC0415 -- see the imports

    if stop is not None and stop.requested and report.interrupted:
        return exit_code(stop)
    return report.exit_code


def _global_decorators(late: bool) -> list[Callable[[F], F]]:
    """The global options' declarations; `late`: as a subcommand accepts them after its
    name, applied to the group's `Options` (an option the subcommand has itself wins)."""

    def option(*names: str, **attrs: Any) -> Callable[[F], F]:
        if not late:
            return click.option(*names, **attrs)
        field = names[-1] if not names[-1].startswith("-") else names[-1].lstrip("-")
        field = field.replace("-", "_").removesuffix("_output")
        flags = [n for n in names if n.startswith("-")]
        attrs.pop("show_default", None)
        attrs["default"] = None if not attrs.get("multiple") else ()
        return click.option(*flags, f"late_{field}", expose_value=False,
                            callback=_late(field), **attrs)  # fmt: skip

    return [
        option("--config", "config", type=click.Path(path_type=Path),
               default=Path("sites.toml"), show_default=True,
               envvar="MS365SYNC_CONFIG", show_envvar=True,
               help="The configuration file (TOML)."),
        option("--only", multiple=True, metavar="NAME",
               help="Only this site, or SITE/LIBRARY (repeatable)."),
        option("--dry-run", is_flag=True,
               help="Show what would change, path by path; change nothing on disk."),
        option("--force", is_flag=True,
               help="Go ahead even when the max-delete guard trips."),
        option("--max-lines", type=click.IntRange(min=0), default=50, show_default=True,
               metavar="N",
               help="A dry run lists at most N paths per kind of change (0: all)."),
        option("-v", "--verbose", is_flag=True, help="Debug logging."),
        option("-q", "--quiet", is_flag=True,
               help="Print nothing on success; only errors otherwise."),
        option("--json", "json_output", is_flag=True,
               help="Print exactly one JSON document on stdout, also on errors."),
        option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
               help="Also write the log (debug level) to this file."),
        option("--log-format", type=click.Choice(["text", "json"]), default="text",
               show_default=True,
               help="The log's lines: text, or JSON lines for log shippers."),
        option("--shard", metavar="I/N", envvar="MS365SYNC_SHARD", show_envvar=True,
               help="Only the targets of shard I (0-based) of N; every worker reads the "
               "same configuration (see `ms365sync shards`)."),
        option("--shards", metavar="N", envvar="MS365SYNC_SHARDS", show_envvar=True,
               help="Split the targets over N shards and take this worker's index from "
               "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's pod), unless --shard says."),
    ]  # fmt: skip


def global_options(function: F) -> F:
    """Options accepted both before and after a subcommand's name."""
    for decorator in reversed(_global_decorators(late=False)):
        function = decorator(function)
    return function


def _late(field: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Apply a global option given after a subcommand's name to the run's `Options`."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        given = ctx.get_parameter_source(param.name or "")
        options = ctx.find_object(Options)
        if options is None or given is not click.core.ParameterSource.COMMANDLINE:
            return value
        setattr(options, field, value)
        configure(options)
        return value

    return callback


def configure(options: Options) -> None:
    """Check the options that exclude each other and set up logging as they ask.

    Raises:
        click.UsageError: --verbose and --quiet together.
    """
    if options.verbose and options.quiet:
        raise click.UsageError("--verbose and --quiet exclude each other")
    from ms365sync.cli.output import setup_logging  # noqa: PLC0415 -- see the imports

    setup_logging(
        verbose=options.verbose,
        quiet=options.quiet,
        log_file=options.log_file,
        console=not options.json,
        log_format=options.log_format,
    )


def accept_global_options(command: click.Command) -> None:
    """Let `command` take the global options after its name too (not a group's: its own
    subcommands have options of their own); an option it declares itself is left to it."""
    if isinstance(command, click.Group) or getattr(command, "_takes_global_options", False):
        return
    taken = {name for param in command.params for name in getattr(param, "opts", [])}
    holder = click.Command("holder")  # click's option decorators append to a command's params
    for decorator in _global_decorators(late=True):
        decorator(holder)
    for param in holder.params:
        if not taken & set(getattr(param, "opts", [])):
            command.params.append(param)
    command._takes_global_options = True  # type: ignore[attr-defined]


class LazyGroup(click.Group):
    """A group whose heavy subcommands are imported only when they are used (or listed in
    --help): a sync run never imports the emulator, its HTTPS server or its CA."""

    lazy: ClassVar[dict[str, str]] = {  # name -> "module:attribute"
        "check": "ms365sync.cli.commands:check",
        "demo": "ms365sync.cli.demo:demo",
        "emulator": "ms365sync.emulator.cli:emulator_group",
        "init": "ms365sync.cli.commands:init",
        "schema": "ms365sync.cli.schema:schema",
        "shards": "ms365sync.cli.shards:shards",
        "status": "ms365sync.cli.commands:status",
        "watch": "ms365sync.cli.commands:watch",
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
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            accept_global_options(found)
        return found

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """click's `main`, with click's own errors (usage errors above all) printed as the
        rest of the CLI prints errors, and with --json as one JSON document too."""
        arguments = list(args) if args is not None else sys.argv[1:]
        call = {"prog_name": prog_name, "complete_var": complete_var, **extra}
        try:
            done = super().main(arguments, standalone_mode=False, **call)
        except click.ClickException as error:
            if "--json" in arguments:
                print_error_document(error.format_message(), error.exit_code)
            if not standalone_mode:
                raise
            show_error(error)
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            if not standalone_mode:
                raise
            click.echo("ms365sync: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if standalone_mode:
            sys.exit(done if isinstance(done, int) else EXIT_OK)
        return done


def show_error(error: click.ClickException) -> None:
    """One of click's errors as the CLI prints every error: for a usage error the usage
    line first, then `ms365sync: error: ...` and a hint where to read more."""
    hint = None
    if isinstance(error, click.UsageError) and error.ctx is not None:
        click.echo(error.ctx.get_usage(), err=True)
        help_option = error.ctx.help_option_names[0] if error.ctx.help_option_names else "--help"
        hint = f"see '{error.ctx.command_path} {help_option}'"
    click.echo(f"ms365sync: error: {error.format_message()}", err=True)
    if hint is not None:
        click.echo(f"ms365sync: hint: {hint}", err=True)


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
    max_lines: int,
    verbose: bool,
    quiet: bool,
    json_output: bool,
    log_file: Path | None,
    log_format: str,
    shard: str | None,
    shards: str | None,
) -> None:
    """Mirror SharePoint document libraries to disk, with permissions and change logs.

    Without a command, syncs every target of the configuration (or those --only names).
    """
    options = Options(config, only, dry_run, force, verbose, quiet, json_output, log_file,
                      max_lines, log_format, shard, shards)  # fmt: skip
    ctx.obj = options
    configure(options)
    if ctx.invoked_subcommand is None:
        from ms365sync.cli.interrupts import stop_on_signals  # noqa: PLC0415 -- see the imports
        from ms365sync.sync.stop import Stop  # noqa: PLC0415

        configuration, targets = load(options)
        if not targets and options.chosen_shard() is not None:
            ctx.exit(empty_shard(options))
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
        show_error(error)
        code = error.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("ms365sync: interrupted; every target was left consistent", err=True)
        code = EXIT_INTERRUPTED
    sys.exit(code if isinstance(code, int) else EXIT_OK)
