"""A run's change log as it is built: entries serialised as they come and kept compressed.

An initial sync of 100,000 files makes 100,000 `added` entries: held as models they cost
about 40 MB, and the document serialised in one piece another 130 MB. Here each entry is
serialised once, when it is reported, into its section's zlib stream (about a tenth of its
size); the document is then produced a piece at a time (`chunks`), byte for byte what
`ChangeLog.to_json_bytes` gives for the same log, and parsed into a `ChangeLog` only when
someone asks for one (`to_changelog`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pydantic_core
from pydantic import BaseModel

from ms365sync.outputs.changelog import ChangeLog, Changes, RepairEntry, Summary

__all__ = ["SECTIONS", "LogDocument", "Section", "unpack"]

SECTIONS = tuple(Changes.model_fields)  # added, modified, permission_only_changes, deleted
_ENTRY_BREAK = b"\n" + b" " * 6  # entries sit at depth 3: {"changes": {"added": {path: ...
_CHUNK = 1 << 20


class Section:
    """One section of `changes`, keyed by path: its members serialised, compressed."""

    __slots__ = ("_open", "_packed", "_packer", "count")

    def __init__(self) -> None:
        self.count = 0
        self._packer = zlib.compressobj(1)
        self._packed: list[bytes] = []
        self._open = True

    def add(self, path: str, entry: BaseModel) -> None:
        """Append `path: entry` (each path once: the builder reports an item once per section)."""
        assert self._open, "section closed"
        body = entry.__pydantic_serializer__.to_json(entry, indent=2, exclude_none=True)
        member = pydantic_core.to_json(path) + b": " + body.replace(b"\n", _ENTRY_BREAK)
        piece = self._packer.compress(member if not self.count else b"," + _ENTRY_BREAK + member)
        if piece:
            self._packed.append(piece)
        self.count += 1

    def close(self) -> None:
        if self._open:
            self._packed.append(self._packer.flush())
            self._open = False

    def members(self) -> Iterator[bytes]:
        """The members, separators included, a piece at a time (after `close`)."""
        inflater = zlib.decompressobj()
        for packed in self.packed():
            data = packed
            while data:
                yield inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
        yield inflater.flush()

    def packed(self) -> Iterator[bytes]:
        """The members' zlib stream in the pieces it was compressed in (after `close`)."""
        assert not self._open, "section still open"
        return iter(self._packed)

    @property
    def packed_size(self) -> int:
        return sum(map(len, self._packed))


@dataclass(frozen=True)
class LogDocument:
    """A complete change log: `shell` holds everything but the sections' entries."""

    shell: ChangeLog  # its `changes` are empty; the entries are in `sections`
    sections: dict[str, Section]

    @property
    def summary(self) -> Summary:
        return self.shell.summary

    @property
    def timestamp(self) -> str:
        return self.shell.timestamp

    @property
    def repairs(self) -> dict[str, RepairEntry]:
        return self.shell.repairs

    @property
    def has_changes(self) -> bool:
        changed = any(section.count for section in self.sections.values())
        return changed or bool(self.shell.metadata_only_changes)

    def count(self, section: str) -> int:
        return self.sections[section].count

    def chunks(self) -> Iterator[bytes]:
        """The log's UTF-8 JSON (as `ChangeLog.to_json_bytes` writes it), piece by piece."""
        for part in self._parts():
            if isinstance(part, Section):
                yield from part.members()
            else:
                yield part

    def packed(self) -> Iterator[bytes]:
        """The log as it is queued in the state and written from, a piece at a time: zlib
        streams whose inflated concatenation (`unpack`) is `chunks()`. The sections' entries
        stay as they were compressed when reported; the text around them is compressed here,
        once."""
        literal: list[bytes] = []
        for part in self._parts():
            if isinstance(part, Section):
                if literal:
                    yield zlib.compress(b"".join(literal), 1)
                    literal.clear()
                yield from part.packed()
            else:
                literal.append(part)
        if literal:
            yield zlib.compress(b"".join(literal), 1)

    def _parts(self) -> Iterator[bytes | Section]:
        """The log's text, with each section that has entries standing for its members."""
        yield b"{\n"
        first = True
        for name in ChangeLog.model_fields:
            member = self._changes() if name == "changes" else self._member(name)
            head = next(member, None)
            if head is None:
                continue  # a None field, left out like exclude_none does
            assert isinstance(head, bytes)  # a member starts with its name
            yield head if first else b",\n" + head
            yield from member
            first = False
        yield b"\n}"

    def to_json_bytes(self) -> bytes:
        return b"".join(self.chunks())

    def to_changelog(self) -> ChangeLog:
        """The log as a model (parsed from `chunks`: as much memory as the whole log)."""
        return ChangeLog.model_validate_json(self.to_json_bytes())

    def _member(self, name: str) -> Iterator[bytes]:
        text = self.shell.__pydantic_serializer__.to_json(
            self.shell, indent=2, exclude_none=True, include={name}
        )
        if text != b"{}":
            yield text[2:-2]  # '{\n  "name": value\n}' -> '  "name": value'

    def _changes(self) -> Iterator[bytes | Section]:
        yield b'  "changes": {\n'
        for index, name in enumerate(SECTIONS):
            section = self.sections[name]
            comma = b"," if index < len(SECTIONS) - 1 else b""
            if not section.count:
                yield b'    "' + name.encode() + b'": {}' + comma + b"\n"
                continue
            yield b'    "' + name.encode() + b'": {' + _ENTRY_BREAK
            yield section
            yield b"\n    }" + comma + b"\n"
        yield b"  }"


def unpack(packed: bytes) -> Iterator[bytes]:
    """The bytes of consecutive zlib streams (`LogDocument.packed()` joined), a piece of at
    most 1 MiB at a time."""
    data = packed
    while data:
        inflater = zlib.decompressobj()
        while data and not inflater.eof:
            yield inflater.decompress(data, _CHUNK)
            data = inflater.unconsumed_tail
        if not inflater.eof:
            yield inflater.flush()
            return
        # At a stream's end the next stream's bytes are in `unused_data` (and still in
        # `unconsumed_tail`, which `flush` would append to them once more).
        data = inflater.unused_data
