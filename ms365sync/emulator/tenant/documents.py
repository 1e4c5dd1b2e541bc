"""Small, valid, byte-for-byte reproducible PDF, Word and Excel files for the demo tenant.

Each generator is dependency-free and deterministic: the PDF carries no dates or ids, and
the Office files are zip archives with fixed timestamps, a fixed host system and stored
(uncompressed) members, so the bytes do not depend on the machine's zlib build.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

Cell = str | int | float

# US Letter in points; 72 pt margins; Helvetica 11/14 for the body, 16 pt bold heading.
_PAGE_W, _PAGE_H, _MARGIN = 612, 792, 72
_BODY_SIZE, _LEADING, _HEADING_SIZE = 11, 14, 16
_WRAP = 90  # characters of Helvetica 11 pt that fit in 468 pt, roughly
_MAX_LINES = (_PAGE_H - 2 * _MARGIN) // _LEADING - 2
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_XLSX_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


# ----------------------------------------------------------------------------- PDF


def pdf_document(text: str, *, title: str | None = None) -> bytes:
    """A one-page PDF 1.4 showing `title` (bold) and `text` (paragraphs wrapped to the page).

    Characters outside Latin-1 are shown as "?". Raises ValueError when the text does not
    fit on one page.
    """
    lines = _wrapped(text)
    if len(lines) > _MAX_LINES:
        raise ValueError(f"text needs {len(lines)} lines; one page holds {_MAX_LINES}")
    stream = _page_stream(title, lines)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_PAGE_W} {_PAGE_H}] "
            "/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        ).encode("ascii"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return _pdf_file(objects)


def _wrapped(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines.extend(textwrap.wrap(paragraph, _WRAP) or [""])
    return lines


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_stream(title: str | None, lines: list[str]) -> bytes:
    parts = [b"BT", b"%d %d Td" % (_MARGIN, _PAGE_H - _MARGIN)]
    if title:
        parts += [b"/F2 %d Tf" % _HEADING_SIZE, _pdf_string(title) + b" Tj"]
        parts.append(b"0 -%d Td" % (2 * _LEADING))
    parts += [b"/F1 %d Tf" % _BODY_SIZE, b"%d TL" % _LEADING]
    parts += [_pdf_string(line) + b" '" for line in lines]
    parts.append(b"ET")
    return b"\n".join(parts)


def _pdf_file(objects: list[bytes]) -> bytes:
    """Header, numbered objects, a cross-reference table with exact offsets, and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"  # each entry is exactly 20 bytes (PDF 1.4, 3.4.3)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# ----------------------------------------------------------------------------- Office


def _xml_text(text: str) -> str:
    return escape(_XML_ILLEGAL.sub("", text))


def _zip(parts: Sequence[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, xml in parts:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = 0  # otherwise it records the host OS
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, xml.encode("utf-8"))
    return buffer.getvalue()


def _content_types(overrides: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f'<Override PartName="/{part}" ContentType="{kind}"/>' for part, kind in overrides
    )
    return (
        f'{_XML_DECL}<Types xmlns="{_CT_NS}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{items}</Types>"
    )


def _package_rels(target: str) -> str:
    return (
        f'{_XML_DECL}<Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{_OFFICE_DOC}" Target="{target}"/></Relationships>'
    )


def docx_document(paragraphs: Sequence[str]) -> bytes:
    """A Word document with one paragraph per entry; the first is set bold as a heading."""
    body = "".join(_docx_paragraph(text, bold=index == 0) for index, text in enumerate(paragraphs))
    document = (
        f'{_XML_DECL}<w:document xmlns:w="{_W_NS}"><w:body>{body}'
        '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/></w:sectPr></w:body></w:document>'
    )
    return _zip(
        [
            ("[Content_Types].xml", _content_types([("word/document.xml", _DOCX_MAIN)])),
            ("_rels/.rels", _package_rels("word/document.xml")),
            ("word/document.xml", document),
        ]
    )


def _docx_paragraph(text: str, *, bold: bool) -> str:
    props = '<w:rPr><w:b/><w:sz w:val="32"/></w:rPr>' if bold else ""
    return f'<w:p><w:r>{props}<w:t xml:space="preserve">{_xml_text(text)}</w:t></w:r></w:p>'


def xlsx_document(rows: Sequence[Sequence[Cell]], *, sheet: str = "Sheet1") -> bytes:
    """An Excel workbook with one sheet; strings are inline, numbers are numbers."""
    sheet_rows = "".join(
        f'<row r="{r}">{"".join(_xlsx_cell(r, c, value) for c, value in enumerate(row))}</row>'
        for r, row in enumerate(rows, start=1)
    )
    worksheet = (
        f'{_XML_DECL}<worksheet xmlns="{_S_NS}"><sheetData>{sheet_rows}</sheetData></worksheet>'
    )
    workbook = (
        f'{_XML_DECL}<workbook xmlns="{_S_NS}" xmlns:r="{_R_NS}"><sheets>'
        f'<sheet name="{escape(sheet, {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>"
    )
    workbook_rels = (
        f'{_XML_DECL}<Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{_WORKSHEET}" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    )
    overrides = [("xl/workbook.xml", _XLSX_MAIN), ("xl/worksheets/sheet1.xml", _XLSX_SHEET)]
    return _zip(
        [
            ("[Content_Types].xml", _content_types(overrides)),
            ("_rels/.rels", _package_rels("xl/workbook.xml")),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", workbook_rels),
            ("xl/worksheets/sheet1.xml", worksheet),
        ]
    )


def _xlsx_cell(row: int, column: int, value: Cell) -> str:
    ref = f"{column_name(column)}{row}"
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"cell {ref}: {value!r} is not a string or a finite number")
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{_xml_text(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def column_name(index: int) -> str:
    """Spreadsheet column letters for a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name
