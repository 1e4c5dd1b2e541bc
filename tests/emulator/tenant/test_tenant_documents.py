"""The document generators make structurally valid, reproducible PDF, Word and Excel files."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from xml.etree import ElementTree

import pytest

from ms365sync.emulator.tenant.documents import (
    column_name,
    docx_document,
    pdf_document,
    xlsx_document,
)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


# ----------------------------------------------------------------------------- PDF


def parse_pdf(data: bytes) -> dict[int, bytes]:
    """Objects by number, located through the xref table exactly as a reader would."""
    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")
    tail = re.search(rb"startxref\n(\d+)\n%%EOF\n$", data)
    assert tail is not None
    startxref = int(tail.group(1))
    assert data[startxref : startxref + 5] == b"xref\n"
    header = re.match(rb"xref\n0 (\d+)\n", data[startxref:])
    assert header is not None
    count = int(header.group(1))
    table = data[startxref + header.end() : startxref + header.end() + 20 * count]
    entries = [table[i : i + 20] for i in range(0, len(table), 20)]
    assert entries[0] == b"0000000000 65535 f \n"
    trailer = data[startxref + header.end() + 20 * count :]
    assert trailer.startswith(b"trailer\n<< /Size %d /Root 1 0 R >>" % count)
    objects: dict[int, bytes] = {}
    for number, entry in enumerate(entries[1:], start=1):
        assert re.fullmatch(rb"\d{10} 00000 n \n", entry), entry
        offset = int(entry[:10])
        prefix = b"%d 0 obj\n" % number
        assert data[offset : offset + len(prefix)] == prefix, f"object {number} not at {offset}"
        end = data.index(b"\nendobj\n", offset)
        objects[number] = data[offset + len(prefix) : end]
    return objects


def page_stream(objects: dict[int, bytes]) -> bytes:
    body = objects[6]
    declared = re.match(rb"<< /Length (\d+) >>\nstream\n", body)
    assert declared is not None
    length = int(declared.group(1))
    start = body.index(b"stream\n") + len(b"stream\n")
    assert body[start + length :] == b"\nendstream"
    return body[start : start + length]


def test_pdf_structure_and_offsets() -> None:
    objects = parse_pdf(pdf_document("First paragraph.\nSecond one.", title="Report"))
    assert objects[1] == b"<< /Type /Catalog /Pages 2 0 R >>"
    assert b"/Kids [3 0 R] /Count 1" in objects[2]
    assert b"/MediaBox [0 0 612 792]" in objects[3]
    assert b"/BaseFont /Helvetica " in objects[4]
    assert b"/BaseFont /Helvetica-Bold " in objects[5]
    stream = page_stream(objects)
    assert b"/F2 16 Tf\n(Report) Tj" in stream
    assert b"(First paragraph.) '" in stream
    assert b"(Second one.) '" in stream


def test_pdf_escapes_and_encodes_text() -> None:
    stream = page_stream(parse_pdf(pdf_document("a (b) c\\d é 漢")))
    assert b"(a \\(b\\) c\\\\d \xe9 ?) '" in stream


def test_pdf_wraps_long_paragraphs_and_refuses_a_second_page() -> None:
    stream = page_stream(parse_pdf(pdf_document("word " * 60)))
    assert stream.count(b" '") == 4  # 300 characters at ~90 per line
    with pytest.raises(ValueError, match="one page holds"):
        pdf_document("line\n" * 100)


def test_pdf_is_reproducible() -> None:
    assert pdf_document("same", title="t") == pdf_document("same", title="t")
    assert pdf_document("same") != pdf_document("other")


# ----------------------------------------------------------------------------- Office


def open_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(BytesIO(data))
    assert archive.testzip() is None
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        ElementTree.fromstring(archive.read(info))  # every part is well-formed XML
    return archive


def test_docx_parts_and_paragraphs() -> None:
    paragraphs = ["Heading & <title>", "Body text", "Quote: \"x\" 'y' ✓"]
    archive = open_zip(docx_document(paragraphs))
    assert archive.namelist() == ["[Content_Types].xml", "_rels/.rels", "word/document.xml"]
    types = ElementTree.fromstring(archive.read("[Content_Types].xml"))
    override = next(e for e in types if e.get("PartName") == "/word/document.xml")
    assert override.get("ContentType", "").endswith("wordprocessingml.document.main+xml")
    rels = ElementTree.fromstring(archive.read("_rels/.rels"))
    assert [r.get("Target") for r in rels] == ["word/document.xml"]
    document = ElementTree.fromstring(archive.read("word/document.xml"))
    found = document.findall(f"{W}body/{W}p")
    assert ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in found] == paragraphs
    assert found[0].find(f".//{W}b") is not None
    assert found[1].find(f".//{W}b") is None


def test_docx_drops_characters_xml_cannot_hold() -> None:
    archive = open_zip(docx_document(["bell\x07 and nul\x00"]))
    assert b"bell and nul" in archive.read("word/document.xml")


def test_docx_is_reproducible() -> None:
    assert docx_document(["a", "b"]) == docx_document(["a", "b"])


def test_xlsx_cells_round_trip() -> None:
    rows: list[list[str | int | float]] = [["Name", "Count", "Share"], ["a<b", 3, 0.25]]
    rows.append(["c"] * 28)
    archive = open_zip(xlsx_document(rows, sheet='Q1 "plan"'))
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    sheet_entry = workbook.find(f"{S}sheets/{S}sheet")
    assert sheet_entry is not None
    assert sheet_entry.get("name") == 'Q1 "plan"'
    sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    values: list[list[str | int | float]] = []
    for row in sheet.iter(f"{S}row"):
        cells: list[str | int | float] = []
        for cell in row:
            if cell.get("t") == "inlineStr":
                cells.append(cell.findtext(f"{S}is/{S}t") or "")
            else:
                text = cell.findtext(f"{S}v") or ""
                cells.append(float(text) if "." in text else int(text))
        values.append(cells)
    assert values == rows
    refs = [cell.get("r") for cell in sheet.iter(f"{S}c")]
    assert refs[:6] == ["A1", "B1", "C1", "A2", "B2", "C2"]
    assert refs[-1] == "AB3"


def test_xlsx_refuses_what_a_cell_cannot_hold() -> None:
    with pytest.raises(ValueError, match="B1"):
        xlsx_document([["ok", True]])
    with pytest.raises(ValueError, match="A1"):
        xlsx_document([[float("nan")]])


@pytest.mark.parametrize(
    ("index", "name"), [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (701, "ZZ"), (702, "AAA")]
)
def test_column_names(index: int, name: str) -> None:
    assert column_name(index) == name
