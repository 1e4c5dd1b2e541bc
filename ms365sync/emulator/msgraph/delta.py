"""`/root/delta`: rounds, pages, tokens and the SharePoint quirks of the change feed.

A round is a scan of the library's journal over (base, upto]: `upto` is fixed when the
round starts, so changes made during the round are left for the next one and nothing is
lost. An item is emitted once, at its last visible journal entry in the range, with its
latest state; in incremental rounds its ancestors follow it up to the root (graph-facts §5.4:
children can come before their parents, ancestors are re-sent). Deleted items come as
tombstones. Permission-only changes are visible only to callers that send the sharing
Prefer tokens with an app holding Sites.FullControl.All.

Tokens look like the real ones: base64 of `3;%234;%231;3;{list-guid};{ticks};{n};...`; the
last field (`%234` in real tokens) carries the journal epoch so that
`Tenant.expire_delta_tokens` kills exactly the tokens issued before it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from ms365sync.emulator.msgraph.exceptions import InvalidRequest, ResyncRequired
from ms365sync.emulator.tenant.model import ChangeKind, Drive, Item, JournalEntry, Tombstone

PREFER_SHARING = frozenset(
    {"deltashowsharingchanges", "deltashowremovedasdeleted", "deltatraversepermissiongaps"}
)
_EPOCH_TICKS = 621_355_968_000_000_000  # .NET ticks at 1970-01-01


@dataclass(frozen=True)
class Cursor:
    """Where a round stands: changes in (base, upto], scanned up to `after`."""

    base: int
    upto: int
    after: int
    started: float  # emulator time the round (or its deltaLink) was issued: tokens age from it
    epoch: int = 0  # the journal epoch the token was issued in (decoded tokens only)

    @property
    def incremental(self) -> bool:
        return self.base > 0


def encode_token(drive: Drive, cursor: Cursor, *, final: bool) -> str:
    """A token for `cursor`, issued now (in the journal's current epoch)."""
    ticks = int(cursor.started * 10_000_000) + _EPOCH_TICKS
    tail = "%23;%23" if final else f"{cursor.base};{cursor.after}"
    epoch = f"%23{drive.journal.epoch + 4}"
    raw = f"3;%234;%231;3;{drive.list_guid};{ticks};{cursor.upto};{tail};{epoch}"
    return base64.b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_token(drive: Drive, token: str) -> Cursor:
    """The cursor a token names: a deltaLink starts a new round at its position.

    Raises GraphError 400 for a malformed token, 410 for another library's token.
    """
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("ascii")
        fields = raw.split(";")
        list_guid, ticks, upto = fields[4], int(fields[5]), int(fields[6])
        base_field, after_field = fields[7], fields[8]
        epoch = int(fields[9].removeprefix("%23")) - 4
    except (binascii.Error, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise InvalidRequest("Invalid delta token.") from exc
    if list_guid != str(drive.list_guid):
        raise ResyncRequired()
    started = (ticks - _EPOCH_TICKS) / 10_000_000
    if base_field == "%23":
        return Cursor(base=upto, upto=-1, after=upto, started=started, epoch=epoch)
    after = int(after_field)
    return Cursor(base=int(base_field), upto=upto, after=after, started=started, epoch=epoch)


def parse_timestamp(value: str) -> float | None:
    """An ISO timestamp token (`token=2021-09-29T20:00:00Z`) as epoch seconds, else None."""
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class Emission:
    """One entry of a delta page."""

    target: Item | Tombstone
    shared_changed: bool = False
    ancestor: bool = False


def scan(
    drive: Drive, cursor: Cursor, *, limit: int, show_sharing: bool
) -> tuple[list[Emission], int, bool]:
    """Up to `limit` emissions after `cursor.after`; returns them, the new position, and
    whether the round is complete."""
    emissions: list[Emission] = []
    position = cursor.after
    for entry in drive.journal.after(cursor.after):
        if entry.seq > cursor.upto:
            return emissions, cursor.upto, True
        position = entry.seq
        emission = _emission_for(drive, entry, cursor, show_sharing)
        if emission is not None:
            emissions.append(emission)
            if len(emissions) >= limit:
                return emissions, position, position >= cursor.upto
    return emissions, cursor.upto, True


def _emission_for(
    drive: Drive, entry: JournalEntry, cursor: Cursor, show_sharing: bool
) -> Emission | None:
    seq, item_id = entry.seq, entry.item_id
    if entry.kind is ChangeKind.DELETE:
        stone = drive.tombstones.get(item_id)
        if stone is None or stone.seq != seq or not cursor.incremental:
            return None
        return Emission(stone)
    item = drive.items.get(item_id)
    if item is None:
        return None
    visible = [item.change_seq]
    if show_sharing:
        visible.append(item.sharing_seq)
    in_range = [s for s in visible if cursor.base < s <= cursor.upto]
    if not in_range or max(in_range) != seq:
        return None  # not current, not visible, or emitted at a later entry of this round
    marked = (
        show_sharing
        and cursor.incremental
        and cursor.base < item.sharing_seq <= cursor.upto
        and item.sharing_marked
    )
    return Emission(item, shared_changed=marked)


def with_ancestors(drive: Drive, emissions: list[Emission]) -> Iterator[Emission]:
    """Each changed item followed by those of its ancestors not yet sent in this page."""
    sent: set[str] = set()
    for emission in emissions:
        target = emission.target
        if target.id in sent:
            continue
        sent.add(target.id)
        yield emission
        if isinstance(target, Tombstone):
            parent = drive.items.get(target.parent_id)
            chain = [parent, *parent.ancestors()] if parent is not None else []
        else:
            chain = list(target.ancestors())
        for ancestor in chain:
            if ancestor.id not in sent:
                sent.add(ancestor.id)
                yield Emission(ancestor, ancestor=True)
