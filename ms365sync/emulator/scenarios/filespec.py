"""The typed schema of a file to create: where (`ItemAddress`), what (`ContentSpec`), how
it trips sync tools (`FileQuirks`, graph-facts §17) and its metadata (`FileMetadata`,
graph-facts §18); and of a package. Shared by the scenario changes (changespec.py) and
tenant files."""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from typing import Annotated, ClassVar, Literal

from pydantic import Field, PlainValidator, field_validator, model_validator

from ms365sync.emulator.scenarios.inputfile import StrictModel, shown
from ms365sync.emulator.tenant import documents
from ms365sync.emulator.tenant.content import BytesContent, Content, GeneratedContent


def _cell(value: object) -> str | int | float:
    # A plain validator: a union would report one error per member type.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string or a number, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


Cell = Annotated[str | int | float, PlainValidator(_cell)]
_CONTENT_KINDS = ("text", "base64", "size", "pdf", "docx", "xlsx")


class ItemAddress(StrictModel):
    """An item of a library, by `path` ("a/b.txt") or by `segments` (["a", "b.txt"]).

    Segments let a file name hold characters that are path separators elsewhere.
    """

    path: str | None = None
    segments: list[str] | None = None

    @model_validator(mode="after")
    def _one_address(self) -> ItemAddress:
        if (self.path is None) == (self.segments is None):
            raise ValueError("give exactly one of path or segments")
        return self

    @property
    def target(self) -> str | list[str]:
        return self.segments if self.segments is not None else self.path or ""

    @property
    def address_key(self) -> str:
        """The key that addressed the item, to name in error messages."""
        return "segments" if self.segments is not None else "path"

    @property
    def shown(self) -> str:
        return "/".join(self.segments) if self.segments is not None else (self.path or "")


class ContentSpec(StrictModel):
    """File content: exactly one kind, with `seed` and `text_like` refining `size`."""

    text: str | None = None
    base64: str | None = None
    size: int | None = Field(default=None, ge=0)
    seed: int | None = None
    text_like: bool | None = None
    pdf: str | None = None
    docx: list[str] | None = None
    xlsx: list[list[Cell]] | None = None

    content_optional: ClassVar[bool] = False

    @field_validator("base64")
    @classmethod
    def _decodable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"not valid base64 ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ContentSpec:
        given = self.content_kinds()
        if len(given) > 1:
            raise ValueError(f"give one content kind, not {' and '.join(given)}")
        if not given and not self.content_optional:
            raise ValueError(f"missing content: give one of {', '.join(_CONTENT_KINDS)}")
        if self.size is None and (self.seed is not None or self.text_like is not None):
            raise ValueError("seed and text_like go with size")
        if self.pdf is not None:
            _checked_pdf(self.pdf)
        return self

    def content_kinds(self) -> list[str]:
        return [kind for kind in _CONTENT_KINDS if getattr(self, kind) is not None]

    def build_content(self, default_seed: str) -> Content:
        """The content described; `default_seed` (e.g. the path) seeds `size` without `seed`."""
        if self.size is not None:
            seed = self.seed if self.seed is not None else zlib.crc32(default_seed.encode())
            return GeneratedContent(seed, self.size, text=bool(self.text_like))
        return BytesContent(self._literal_bytes())

    def _literal_bytes(self) -> bytes:
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.base64 is not None:
            return base64.b64decode(self.base64, validate=True)
        if self.pdf is not None:
            return _checked_pdf(self.pdf)
        if self.docx is not None:
            return documents.docx_document(self.docx)
        if self.xlsx is not None:
            return documents.xlsx_document(self.xlsx)
        return b""


def _checked_pdf(text: str) -> bytes:
    """The PDF of `text`, its first line set as the heading (ValueError when too long)."""
    title, _, body = text.partition("\n")
    return documents.pdf_document(body, title=title)


ServedName = Literal["as-listed", "rewritten", "unstable"]
HashesName = Literal["listed", "missing", "empty"]


class FileQuirks(StrictModel):
    """How a file trips sync tools (graph-facts §17); the defaults are a well-behaved file."""

    served: ServedName = "as-listed"
    hashes: HashesName = "listed"
    malware: str | None = Field(default=None, min_length=1)
    checked_out_by: str | None = Field(default=None, min_length=1)  # a user (email or id)
    locked: bool = False
    vanishes: bool = False


ColumnValue = (
    str | int | float | bool | list[str | int | dict[str, str | int]] | dict[str, str | int]
)


class LabelSpec(StrictModel):
    """A sensitivity label (graph-facts §18.5): its id (a GUID), name, whether it encrypts."""

    id: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    encrypted: bool = False


class FileMetadata(StrictModel):
    """A file's document metadata (graph-facts §18): column values and sensitivity label."""

    columns: dict[str, ColumnValue] = Field(default_factory=dict)
    label: LabelSpec | None = None


class FileSpec(ItemAddress, ContentSpec, FileQuirks, FileMetadata):
    """A file to create: where, what, optionally its MIME type, its quirks and metadata."""

    mime_type: str | None = None


class PackageSpec(ItemAddress):
    """A package (a OneNote notebook, graph-facts §17.4) and the sections it holds."""

    type: str = Field(default="oneNote", min_length=1)
    sections: list[str] = Field(default_factory=lambda: ["Section 1.one"])
