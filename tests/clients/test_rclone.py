"""rclone, the Debian binary, unmodified, on a document library of the emulator: listing it
recursively and copying it, with a delegated token pair minted for a tenant user, which it
must refresh (its access token is handed over already expired), all through the proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.clients import Served, exported, mint_delegated

pytestmark = pytest.mark.clients

RCLONE = shutil.which("rclone")
USER = "amira.haddad@contoso.onmicrosoft.com"  # a member of the demo tenant
EXPIRED = "2000-01-01T00:00:00Z"


@pytest.mark.skipif(
    RCLONE is None,
    reason="rclone is not installed: `apt install rclone` (Debian/Ubuntu) to run this test",
)
def test_rclone_lists_and_copies_a_document_library(served: Served, tmp_path: Path) -> None:
    assert RCLONE is not None
    drive = next(
        d for d in served.emulator.tenant.drives() if not d.system and d.site.name == "marketing"
    )
    pair = mint_delegated(served.emulator, USER)
    token = {
        "access_token": pair["access_token"],
        "token_type": "Bearer",
        "refresh_token": pair["refresh_token"],
        "expiry": EXPIRED,  # rclone refreshes before its first request
    }
    config = tmp_path / "rclone.conf"
    config.write_text(
        "[sp]\ntype = onedrive\n"
        f"token = {json.dumps(token)}\n"
        f"drive_id = {drive.id}\ndrive_type = documentLibrary\n",
        encoding="utf-8",
    )
    env = {**os.environ, "RCLONE_CONFIG": str(config)}
    listing = subprocess.run(
        [RCLONE, "lsjson", "-R", "--files-only", "sp:"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    listed = {entry["Path"] for entry in json.loads(listing.stdout)}
    copy_to = tmp_path / "copy"
    copied = subprocess.run(
        [RCLONE, "copy", "sp:", str(copy_to)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    prefix = f"{drive.site.name}/{drive.url_segment}/"
    expected = {
        k[len(prefix) :]: v for k, v in exported(served.export).items() if k.startswith(prefix)
    }
    have = {
        p.relative_to(copy_to).as_posix(): p.read_bytes() for p in copy_to.rglob("*") if p.is_file()
    }
    assert expected.keys() <= listed
    for path, data in expected.items():
        assert have.get(path) == data, (path, copied.stderr[-2000:])
    assert (
        json.loads(config.read_text(encoding="utf-8").split("token = ", 1)[1].splitlines()[0])[
            "refresh_token"
        ]
        != pair["refresh_token"]
    )  # refreshed (and rotated), written back by rclone
