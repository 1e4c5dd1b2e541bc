"""Streamed JSON documents are the text `json.dumps(..., indent=2)` gives, piece by piece."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ms365sync.outputs.jsonstream import Raw, object_chunks, render

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_TEXT, _VALUES, max_size=6))
def test_a_streamed_object_is_byte_for_byte_what_json_dumps_writes(
    members: dict[str, object],
) -> None:
    expected = json.dumps(members, indent=2, ensure_ascii=False).encode()
    assert b"".join(object_chunks(members.items())) == expected


@given(st.dictionaries(_TEXT, _VALUES, max_size=4), st.dictionaries(_TEXT, _VALUES, max_size=4))
def test_a_nested_object_is_indented_like_its_depth(
    inner: dict[str, object], head: dict[str, object]
) -> None:
    expected = json.dumps({"head": head, "inner": inner}, indent=2, ensure_ascii=False)
    start = '{\n  "head": ' + render(head).replace("\n", "\n  ") + ',\n  "inner": '
    streamed = start.encode() + b"".join(object_chunks(inner.items(), depth=1)) + b"\n}"
    assert streamed.decode() == expected


def test_pre_rendered_values_are_written_as_they_are() -> None:
    shared = Raw(render([{"kind": "user", "id": "u1"}]))
    members = [("a.txt", shared), ("b.txt", shared)]
    text = b"".join(object_chunks(members)).decode()
    assert json.loads(text) == {"a.txt": [{"kind": "user", "id": "u1"}]} | {
        "b.txt": [{"kind": "user", "id": "u1"}]
    }
    assert text == json.dumps(json.loads(text), indent=2)


def test_a_name_with_an_unpaired_surrogate_is_escaped_and_the_document_stays_valid() -> None:
    members = [("ok-é.txt", ["Ann:::Read"]), ("bad-\udc80.txt", Raw(render(["Bo é:::Edit"])))]
    data = b"".join(object_chunks(members))
    document = json.loads(data.decode("utf-8"))
    assert document == {"ok-é.txt": ["Ann:::Read"], "bad-\udc80.txt": ["Bo é:::Edit"]}
    assert "ok-é.txt".encode() in data  # only the member that needs it is escaped
