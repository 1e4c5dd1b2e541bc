"""No mass deletion, through the command line.

A library emptied remotely, access to the site revoked (403), the library deleted (404), a
full listing that fails half-way (access revoked after its first page): the run fails with
one clear line, the mirror, its logs and .permissions.json stay exactly as they were, and
nothing is reported deleted. The max-delete guard names what it refused and how to go on;
`--force` goes on, and each deletion is then reported exactly once.
(tests/sync/test_listing.py and tests/sync/test_delete_guard.py hold the engine-level
versions.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from ms365sync.cli import cli
from ms365sync.emulator import BytesContent, Emulator, synthetic_tenant
from ms365sync.emulator.transport.http import Request, Response
from support.cli import Served, served
from support.reliability import (
    Library,
    TargetSnapshot,
    assert_events,
    assert_mirror_equals_export,
    expected_events,
    libraries,
    library_named,
    truth,
)

MARKETING = "marketing/Shared Documents"


def _run(world: Served, *args: str) -> tuple[Result, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["--config", str(world.config), "--json", *args])
    report: dict[str, Any] = json.loads(result.stdout) if result.stdout else {}
    return result, report


def _library(world: Served, name: str) -> Library:
    return library_named(world.emulator.tenant, world.root / "mirror", name)


def _refused(world: Served, library: Library, words: str, *args: str) -> dict[str, Any]:
    """A run that must fail for `library` and leave everything of it as it was."""
    before = TargetSnapshot.of(library.local_root)
    result, report = _run(world, "--only", library.name, *args)
    assert result.exit_code == 1, result.output
    (target,) = report["targets"]
    assert not target["ok"] and words in target["error"], target["error"]
    assert "\n" not in target["error"]
    assert TargetSnapshot.of(library.local_root) == before
    return dict(target)


def test_library_emptied_remotely_needs_force(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        library = _library(world, MARKETING)
        _run(world, "--only", MARKETING)
        before, logs = truth(world.emulator.tenant, library.drive), library.logs()
        root = library.drive.root
        for name in list(root.children):
            world.emulator.tenant.delete(library.drive, [name])
        target = _refused(world, library, "refusing to delete 18 of 18 local files")
        assert "--force" in (target["hint"] or "")
        plain = CliRunner().invoke(cli, ["--config", str(world.config), "--only", MARKETING])
        assert plain.exit_code == 1 and "refusing to delete 18 of 18" in plain.output
        forced, report = _run(world, "--only", MARKETING, "--force")
        assert forced.exit_code == 0 and report["targets"][0]["deleted"] == 18
        assert_events(library.logs() - logs, expected_events(before, {}))
        assert not any((library.local_root / "data").rglob("*.*"))


def test_max_delete_guard_names_the_numbers_and_force_goes_on(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        world.config.write_text(
            world.config.read_text().replace(
                'data_root = "mirror"', 'data_root = "mirror"\nmax_delete = 2'
            )
        )
        library = _library(world, MARKETING)
        _run(world, "--only", MARKETING)
        before, logs = truth(world.emulator.tenant, library.drive), library.logs()
        for item in sorted(library.drive.files(), key=lambda i: i.path)[:3]:
            world.emulator.tenant.delete(library.drive, item.path)
        world.emulator.tenant.add_file(library.drive, "new.txt", BytesContent(b"new"))
        words = "refusing to delete 3 of 18 local files (17%): more than max_delete = 2 allows"
        target = _refused(world, library, words)
        assert "rerun with --force" in target["hint"]
        dry, report = _run(world, "--only", MARKETING, "--dry-run", "--force")
        assert dry.exit_code == 0 and report["targets"][0]["deleted"] == 3
        forced, report = _run(world, "--only", MARKETING, "--force")
        assert forced.exit_code == 0, forced.output
        assert_events(
            library.logs() - logs,
            expected_events(before, truth(world.emulator.tenant, library.drive)),
        )
        assert_mirror_equals_export(
            world.emulator.tenant, world.root / "mirror", tmp_path / "exports", [library]
        )


def test_site_access_revoked_then_restored(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        tenant = world.emulator.tenant
        library = _library(world, MARKETING)
        _run(world, "--only", "marketing")
        client_id = world.emulator.credentials.client_id
        tenant.set_site_access(client_id, library.drive.site, allowed=False)
        _refused(world, library, "403")
        tenant.set_site_access(client_id, library.drive.site, allowed=True)
        result, report = _run(world, "--only", MARKETING)
        assert result.exit_code == 0 and report["targets"][0]["change_log"] is None


def test_library_deleted(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        library = _library(world, MARKETING)
        _run(world, "--only", MARKETING)
        world.emulator.tenant.delete_library(library.drive)
        target = _refused(world, library, "404")
        assert target["deleted"] == 0


def _revoke_after_first_page(emulator: Emulator, library: Library) -> Callable[[], None]:
    """From the first page of a full enumeration on, the app loses the site: the rest of
    the listing answers 403. Returns the undo."""
    app, tenant = emulator.app, emulator.tenant
    original = app.handle
    client_id = emulator.credentials.client_id

    def handle(request: Request) -> Response:
        response = original(request)
        fresh = "/root/delta" in request.raw_path and "token=" not in request.query_string
        if fresh and response.status == 200:
            tenant.set_site_access(client_id, library.drive.site, allowed=False)
        return response

    app.handle = handle  # type: ignore[method-assign]

    def undo() -> None:
        app.handle = original  # type: ignore[method-assign]
        tenant.set_site_access(client_id, library.drive.site, allowed=True)

    return undo


def test_a_full_listing_failing_half_way_deletes_nothing(tmp_path: Path) -> None:
    """The stored delta link expired (410), the fresh enumeration got its first page of
    three and then lost access: applying that partial listing would delete two thirds of
    the mirror. Nothing may be deleted or reported; the next run reports the real changes."""
    emulator = Emulator(synthetic_tenant(1100, seed=5, size_min=0, size_max=256, folders=0))
    with served(tmp_path, emulator) as world:
        (library,) = libraries(emulator.tenant, world.root / "mirror")
        first, _ = _run(world)
        assert first.exit_code == 0, first.output
        before, logs = truth(emulator.tenant, library.drive), library.logs()
        files = sorted(library.drive.files(), key=lambda i: i.path)
        for item in files[:5]:
            emulator.tenant.delete(library.drive, item.path)
        emulator.tenant.add_file(library.drive, "late.txt", BytesContent(b"late"))
        emulator.tenant.expire_delta_tokens(library.drive)
        undo = _revoke_after_first_page(emulator, library)
        _refused(world, library, "403", "--force")  # even --force deletes nothing then
        undo()
        result, report = _run(world)
        assert result.exit_code == 0, result.output
        assert report["targets"][0]["full_listing"]
        assert_events(
            library.logs() - logs, expected_events(before, truth(emulator.tenant, library.drive))
        )
