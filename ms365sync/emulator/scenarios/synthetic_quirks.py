"""The troublesome items (graph-facts §17) a synthetic tenant can hold: disjoint shares of its
files rewritten, unstable, listed without or with empty hashes, flagged as malware, locked,
checked out or emptied, and OneNote notebooks.

Everything here is drawn from a random stream of its own and applied after the rest of the
tenant is built, so with every knob at 0 the tenant is exactly what it was without them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

from ms365sync.emulator.tenant.content import GeneratedContent
from ms365sync.emulator.tenant.model import Drive, Item
from ms365sync.emulator.tenant.quirks import item_segments
from ms365sync.emulator.tenant.tenant import Tenant

MALWARE_DESCRIPTION = "Trojan:Win32/Synthetic.A"


@dataclass(frozen=True)
class Quirks:
    """Shares of the files (each 0..1, together at most 1; a file gets at most one quirk)
    and the number of OneNote notebooks (two sections each) to add."""

    irm_share: float = 0.0
    unstable_share: float = 0.0
    missing_hash_share: float = 0.0
    empty_hash_share: float = 0.0
    malware_share: float = 0.0
    locked_share: float = 0.0
    checked_out_share: float = 0.0
    zero_byte_share: float = 0.0
    packages: int = 0

    def shares(self) -> list[tuple[str, float]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if f.name.endswith("_share")]

    def check(self) -> None:
        """Raises ValueError for a share outside 0..1, shares over 1 together, or packages < 0."""
        for name, share in self.shares():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {share}")
        total = sum(share for _, share in self.shares())
        if total > 1.0 + 1e-9:
            raise ValueError(f"the quirk shares add up to {total:g}; a file gets at most one")
        if self.packages < 0:
            raise ValueError(f"packages must be >= 0, not {self.packages}")


def add_quirks(tenant: Tenant, drives: list[Drive], quirks: Quirks, seed: int) -> None:
    """Give round(share x files) files each quirk, disjointly, then add the notebooks."""
    if not any(share for _, share in quirks.shares()) and not quirks.packages:
        return
    draws = random.Random(f"{seed}/quirks")
    files = [(drive, item) for drive in drives for item in drive.files()]
    counts = [(name, round(share * len(files))) for name, share in quirks.shares()]
    chosen = draws.sample(files, min(len(files), sum(count for _, count in counts)))
    people = [user.id for user in tenant.users.values() if not user.is_guest]
    start = 0
    for name, count in counts:
        for drive, item in chosen[start : start + count]:
            _apply(tenant, drive, item, name, draws.choice(people))
        start += count
    for number in range(1, quirks.packages + 1):
        drive = drives[(number - 1) % len(drives)]
        tenant.add_package(
            drive, f"Notebook {number:03d}", sections=("Section 1.one", "Section 2.one")
        )


def _apply(tenant: Tenant, drive: Drive, item: Item, knob: str, user_id: str) -> None:
    path = item_segments(item)
    if knob == "irm_share":
        tenant.set_served(drive, path, "rewritten")
    elif knob == "unstable_share":
        tenant.set_served(drive, path, "unstable")
    elif knob == "missing_hash_share":
        tenant.set_hashes(drive, path, "missing")
    elif knob == "empty_hash_share":
        tenant.set_hashes(drive, path, "empty")
    elif knob == "malware_share":
        tenant.flag_malware(drive, path, MALWARE_DESCRIPTION)
    elif knob == "locked_share":
        tenant.lock_file(drive, path)
    elif knob == "checked_out_share":
        tenant.check_out(drive, path, user_id)
    else:  # zero_byte_share: an edit to empty content (the size draws stay as they were)
        tenant.edit_file(drive, path, GeneratedContent(0, 0))
