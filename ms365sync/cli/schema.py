"""`ms365sync schema NAME`: print the JSON Schema of one of the files ms365sync writes."""

from __future__ import annotations

import click

from ms365sync.cli.main import EXIT_USAGE, fail
from ms365sync.outputs import schemas

_WHAT = {
    "changelog": "sync_logs/sync_changes_<timestamp>.json",
    "permissions": ".permissions.json",
    "grants": ".permissions.grants.json",
    "metadata": ".metadata.json",
    "principals": "<data_root>/.principals.json",
    "principal_changes": "<data_root>/sync_logs/principal_changes_<timestamp>.json",
}


@click.command("schema")
@click.argument("name", required=False)
def schema(name: str | None) -> None:
    """Print the JSON Schema (draft 2020-12) of an output file.

    NAME is changelog (sync_logs/sync_changes_<timestamp>.json), permissions
    (.permissions.json), grants (.permissions.grants.json), metadata (.metadata.json), principals
    (<data_root>/.principals.json) or principal_changes
    (<data_root>/sync_logs/principal_changes_<timestamp>.json). An unknown NAME exits with 2.
    """
    if name not in schemas.NAMES:
        valid = ", ".join(f"{n} ({_WHAT[n]})" for n in schemas.NAMES)
        problem = "no schema named" if name is None else f"unknown schema {name!r}"
        fail(f"{problem}; valid names: {valid}", EXIT_USAGE)
    click.echo(schemas.shipped(name), nl=False)


__all__ = ["schema"]
