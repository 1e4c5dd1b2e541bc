"""`ms365sync demo`: the whole product against the bundled demo tenant, offline, in a minute.

The emulator runs in-process (no network, no ports): the demo syncs every library, shows
the result, applies a scripted set of remote changes (new file, edit, rename, move, delete,
permission grant and removal, sharing link), syncs again to show the change log, and shows
one file's permissions as the two permission files give them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
from rich.console import Console
from rich.tree import Tree

from ms365sync.cli.main import EXIT_OK, Options, exit_for, load, run_sync
from ms365sync.cli.output import json_document
from ms365sync.config import Target
from ms365sync.coordinator import RunReport
from ms365sync.emulator import (
    Emulator,
    apply_scenario,
    demo_scenario_path,
    load_demo_tenant,
    load_scenario,
)
from ms365sync.emulator.cli import sites_toml
from ms365sync.errors import ConfigError
from ms365sync.target import DATA_DIR, GRANTS_FILE, PERMISSIONS_FILE

MARKER = ".ms365sync-demo"
FILES_SHOWN = 5
"""The files the mirror's tree lists per library; it says how many more each one holds."""


def _prepare(directory: Path) -> None:
    """Start from an empty demo folder; never wipe a folder the demo did not create."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise ConfigError(
                f"{directory} exists and was not created by `ms365sync demo`",
                hint="pass --dir with a new or empty folder",
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("created by ms365sync demo\n", encoding="utf-8")


def _tree(console: Console, mirror: Path) -> None:
    tree = Tree(f"[bold]{mirror}[/]")
    for library in sorted(p for p in mirror.glob("*/*") if p.is_dir()):
        files = sorted(p for p in (library / DATA_DIR).rglob("*") if p.is_file())
        branch = tree.add(f"{library.relative_to(mirror)} ({_count(len(files))})")
        for path in files[:FILES_SHOWN]:
            branch.add(str(path.relative_to(library / DATA_DIR)))
        if len(files) > FILES_SHOWN:
            branch.add(f"[dim]... and {_count(len(files) - FILES_SHOWN, 'more file')}[/]")
    console.print(tree)


def _count(number: int, noun: str = "file") -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _changes(console: Console, report: RunReport) -> None:
    for result in report.results:
        if result.log_path is None or result.document is None:
            continue
        console.print(f"\n[bold]{result.target}[/]: change log {result.log_path}")
        changes = json.loads(result.log_path.read_text(encoding="utf-8"))["changes"]
        for section, entries in changes.items():
            for path in entries:
                console.print(f"  {section:<24} {path}")


def _not_as_listed(console: Console, report: RunReport) -> None:
    """The files the first sync could not mirror as listed, as its change logs say."""
    lines: list[str] = []
    for result in report.results:
        if result.log_path is None:
            continue
        log = json.loads(result.log_path.read_text(encoding="utf-8"))
        for path, entry in log["changes"]["added"].items():
            if entry.get("verification"):
                lines.append(
                    f"{result.target}: {path}: added, verification {entry['verification']}"
                )
        for path, entry in log.get("skipped", {}).items():
            lines.append(f"{result.target}: {path}: skipped ({entry['cause']}): {entry['reason']}")
        for path, entry in log.get("errors", {}).items():
            lines.append(
                f"{result.target}: {path}: error ({entry.get('cause')}): {entry['reason']}"
            )
    if lines:
        console.print("\n[bold]Files not mirrored as listed[/] (`ms365sync status` lists them):")
        for line in lines:
            console.print(f"  - {line}", highlight=False, markup=False, soft_wrap=True)


def _permissions(console: Console, report: RunReport, targets: list[Target]) -> None:
    """One file's entry in its target's .permissions.json and in its grants file: a file
    whose permissions the second sync found changed, else the first file synced."""
    roots = {target.name: target.spec.local_root for target in targets}
    chosen = _changed_permissions(report) or _any_file(roots)
    if chosen is None:
        return
    name, path = chosen
    root = roots[name]
    labels = json.loads((root / PERMISSIONS_FILE).read_text(encoding="utf-8"))
    grants = json.loads((root / GRANTS_FILE).read_text(encoding="utf-8"))["files"]
    console.print(f"\n[bold]4. Permissions[/] of {path} ({name}), as an indexer reads them")
    console.print(f'  {root / PERMISSIONS_FILE}: who, as "Display Name:::Level"')
    console.print_json(data={path: labels.get(path)})
    console.print(f"  {root / GRANTS_FILE}: each grant by id, for a search index's filters")
    console.print_json(data={path: grants.get(path)})


def _changed_permissions(report: RunReport) -> tuple[str, str] | None:
    for result in report.results:
        if result.log_path is None:
            continue
        changes = json.loads(result.log_path.read_text(encoding="utf-8"))["changes"]
        for path in changes.get("permission_only_changes", {}):
            return result.target, str(path)
    return None


def _any_file(roots: dict[str, Path]) -> tuple[str, str] | None:
    for name, root in roots.items():
        permissions = root / PERMISSIONS_FILE
        if permissions.is_file():
            labels = json.loads(permissions.read_text(encoding="utf-8"))
            if labels:
                return name, next(iter(labels))
    return None


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ms365sync-demo"),
    show_default=True,
    help="Folder for the demo's configuration and mirror (recreated each time).",
)
@click.pass_context
def demo(ctx: click.Context, directory: Path) -> None:
    """Sync an emulated demo tenant, change it remotely, sync again (offline, no tenant)."""
    base: Options = ctx.obj
    # The demo's story goes where the summary goes (stderr with --json); -q silences it.
    console = base.rich_console()
    console.quiet = base.quiet
    try:
        _prepare(directory)
    except ConfigError as exc:
        exit_for(exc)
    emulator = Emulator(load_demo_tenant())
    config_path = directory / "sites.toml"
    config_path.write_text(sites_toml(emulator, None, None, "mirror"), encoding="utf-8")
    options = Options(config_path, (), False, False, base.verbose, base.quiet, base.json,
                      base.log_file)  # fmt: skip
    config, targets = load(options)
    console.print(f"[bold]1. First sync[/] of {len(targets)} libraries from the emulated tenant")
    first = run_sync(
        options, config, targets, session_factory=emulator.session, print_report=not base.json
    )
    _tree(console, directory / "mirror")
    _not_as_listed(console, first)
    scenario = load_scenario(demo_scenario_path())
    console.print("\n[bold]2. Remote changes[/] made in SharePoint (emulated):")
    for line in apply_scenario(emulator.tenant, scenario):
        console.print(f"  - {line}")
    console.print("\n[bold]3. Second sync[/]: only what changed")
    second = run_sync(
        options, config, targets, session_factory=emulator.session, print_report=not base.json
    )
    _changes(console, second)
    _permissions(console, second, targets)
    console.print(f"\nDemo folder: {directory.resolve()} (configuration: {config_path})")
    code = max(first.exit_code, second.exit_code) or EXIT_OK
    if base.json:  # one document for the whole demo: both runs
        document = {
            "ok": first.ok and second.ok,
            "exit_code": code,
            "directory": str(directory.resolve()),
            "runs": [json_document(run, dry_run=False) for run in (first, second)],
        }
        click.echo(json.dumps(document, indent=2))
    ctx.exit(code)
