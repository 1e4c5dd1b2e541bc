"""Remote names to safe local names: a catalogue of hostile names, golden values, properties."""

from __future__ import annotations

import os
import posixpath
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ms365sync.localfs.names import (
    NAME_MAX,
    PATH_MAX,
    TEMP_TOKEN_CHARS,
    MappedPath,
    NameIssue,
    Rejected,
    collision_key,
    is_temp_name,
    local_relpath,
    local_relpath_from_segments,
    temp_name,
)

WINDOWS_FORBIDDEN = set('<>:"|?*')
DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in "0123456789¹²³"
}


def mapped(*segments: str, root: str | None = None) -> MappedPath:
    result = local_relpath_from_segments(segments, root=root)
    assert isinstance(result, MappedPath), result
    return result


def one(name: str) -> str:
    return mapped(name).rel


def assert_safe_segment(segment: str) -> None:
    """Everything a segment must be to live on ext4, APFS and NTFS alike."""
    assert segment not in {"", ".", ".."}
    assert "/" not in segment and "\\" not in segment
    assert not WINDOWS_FORBIDDEN & set(segment), segment
    assert all(unicodedata.category(c) not in {"Cc", "Cs"} for c in segment), ascii(segment)
    assert not segment.endswith((".", " ")), segment
    assert segment.split(".", 1)[0].rstrip(" ").upper() not in DEVICES, segment
    assert len(segment.encode("utf-8")) <= NAME_MAX
    assert unicodedata.normalize("NFC", segment) == segment
    assert not is_temp_name(segment)


# ---------------------------------------------------------------- the catalogue

HOSTILE = [
    ("..", NameIssue.DOT_NAME),
    (".", NameIssue.DOT_NAME),
    ("", NameIssue.EMPTY),
    ("a/b", NameIssue.PATH_SEPARATOR),
    ("a\\b", NameIssue.PATH_SEPARATOR),
    ("nul\x00byte", NameIssue.CONTROL_CHARACTER),
    ("line\nbreak", NameIssue.CONTROL_CHARACTER),
    ("tab\there", NameIssue.CONTROL_CHARACTER),
    ("del\x7f", NameIssue.CONTROL_CHARACTER),
    ("c1\x85control", NameIssue.CONTROL_CHARACTER),
    ("half\ud800surrogate", NameIssue.INVALID_UNICODE),
    ("CON", NameIssue.RESERVED_NAME),
    ("con", NameIssue.RESERVED_NAME),
    ("aux.txt", NameIssue.RESERVED_NAME),
    ("Nul.tar.gz", NameIssue.RESERVED_NAME),
    ("com1", NameIssue.RESERVED_NAME),
    ("LPT9.log", NameIssue.RESERVED_NAME),
    ("COM¹.txt", NameIssue.RESERVED_NAME),
    ("CON .txt", NameIssue.RESERVED_NAME),
    ("name.", NameIssue.TRAILING_DOT_OR_SPACE),
    ("name ", NameIssue.TRAILING_DOT_OR_SPACE),
    ("name. . .", NameIssue.TRAILING_DOT_OR_SPACE),
    ("...", NameIssue.TRAILING_DOT_OR_SPACE),
    ("Q1: plan?.docx", NameIssue.FORBIDDEN_CHARACTER),
    ('<"quoted">|*', NameIssue.FORBIDDEN_CHARACTER),
    ("x" * 300, NameIssue.TOO_LONG),
    ("é" * 200 + ".docx", NameIssue.TOO_LONG),
    ("report~abcdefghij.pdf", NameIssue.LOOKS_MAPPED),
    ("REPORT~ABCDEFGHIJ", NameIssue.LOOKS_MAPPED),
    (".draft.docx.ms365sync-abcd1234.part", NameIssue.LOOKS_TEMPORARY),
]


@pytest.mark.parametrize(("name", "issue"), HOSTILE, ids=lambda v: ascii(v)[:30])
def test_hostile_name_is_mapped_to_a_safe_name_with_its_reason(name: str, issue: NameIssue) -> None:
    result = mapped(name)
    (segment,) = result.segments
    assert_safe_segment(segment)
    assert result.changed
    (change,) = result.changes
    assert change.remote == name
    assert change.local == segment
    assert issue in change.issues
    assert change.lossy
    assert issue.value in result.note
    assert "\n" not in result.note


@pytest.mark.parametrize(("name", "issue"), HOSTILE, ids=lambda v: ascii(v)[:30])
def test_hostile_name_never_escapes_its_folder(name: str, issue: NameIssue) -> None:
    rel = mapped("Folder", name, "file.txt").rel
    assert posixpath.normpath(posixpath.join("/data", rel)).startswith("/data/Folder/")
    assert rel.count("/") == 2


@pytest.mark.parametrize(
    "name",
    [
        "report.docx",
        "Résumé 2024.pdf",
        ".bashrc",
        "a b",
        " leading space",
        "日本語.txt",
        "~$lock.docx",
        "file~1.txt",
        "x" * 255,
        "100% done!.xlsx",
        "semi;colon,comma&amp#hash",
    ],
)
def test_safe_names_are_kept_exactly(name: str) -> None:
    result = mapped(name)
    assert result.rel == name
    assert not result.changed
    assert result.note == ""


def test_mapped_names_are_pinned_so_upgrades_do_not_rename_files() -> None:
    # A changed mapping would move every mapped file on the next run: these values are a contract.
    assert one("Q1: plan?.docx") == "Q1_ plan_~mvxcslggp5.docx"
    assert one("..") == "_~l3a7pzya6n"
    assert one("CON") == "CON_~upn4jnsevg"
    assert one("aux.tar.gz") == "aux_.tar~umc5dl3f43.gz"
    assert one("name.") == "name~7d2h4rzr6z"


def test_extension_is_kept_when_a_name_is_mapped() -> None:
    assert one("a:b.docx").endswith(".docx")
    assert one("x" * 300 + ".pdf").endswith(".pdf")
    assert not one("a:b.not an extension").endswith(".not an extension")


def test_long_names_are_cut_on_a_character_boundary_and_stay_distinct() -> None:
    first = one("😀" * 100 + "a.txt")
    second = one("😀" * 100 + "b.txt")
    assert first != second
    for name in (first, second):
        assert len(name.encode("utf-8")) <= NAME_MAX
        assert name.endswith(".txt")
        assert name.startswith("😀" * 50)


def test_exactly_255_bytes_is_kept_256_is_mapped() -> None:
    assert one("é" * 127 + "x") == "é" * 127 + "x"
    longer = "é" * 128
    assert one(longer) != longer
    assert len(one(longer).encode()) <= NAME_MAX


def test_nfd_name_is_normalised_without_a_hash() -> None:
    nfd = unicodedata.normalize("NFD", "Café.txt")
    result = mapped(nfd)
    assert result.rel == "Café.txt"
    assert result.changes[0].issues == (NameIssue.NOT_NFC,)
    assert not result.changes[0].lossy


def test_nfd_and_nfc_names_map_to_the_same_local_name() -> None:
    nfc = "Ångström: notes"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    assert one(nfd) == one(nfc)


def test_names_differing_only_in_case_share_a_collision_key() -> None:
    assert one("Report.docx") != one("report.docx")
    assert collision_key(one("Report.docx")) == collision_key(one("report.docx"))
    assert collision_key("STRASSE") == collision_key("straße")
    assert collision_key(unicodedata.normalize("NFD", "É")) == collision_key("é")
    assert collision_key("a/B") == collision_key("A/b")
    assert collision_key("a") != collision_key("b")


def test_mapping_a_kept_name_and_a_lookalike_never_collides_even_ignoring_case() -> None:
    plain = "Q1_ plan_~mvxcslggp5.docx"  # exactly what "Q1: plan?.docx" maps to
    assert one(plain) != one("Q1: plan?.docx")
    upper = plain.upper()
    assert collision_key(one(upper)) != collision_key(one("Q1: plan?.docx"))


def test_remote_path_string_form() -> None:
    assert local_relpath("/Shared/a:b/c.txt") == "Shared/" + one("a:b") + "/c.txt"
    assert local_relpath("plain/path.txt") == "plain/path.txt"
    assert local_relpath("back\\slash") == one("back\\slash")


@pytest.mark.parametrize("bad", ["", "/", "a//b", "a/", "//a"])
def test_remote_path_string_with_empty_segment_raises(bad: str) -> None:
    with pytest.raises(ValueError, match="empty segment"):
        local_relpath(bad)


def test_no_segments_is_rejected() -> None:
    result = local_relpath_from_segments([])
    assert isinstance(result, Rejected)
    assert "empty" in result.reason


# ---------------------------------------------------------------- PATH_MAX


def _longest_path(root: str, rel: str) -> int:
    parent, name = posixpath.split(rel)
    tmp = temp_name(name, "a" * TEMP_TOKEN_CHARS)
    base = os.fsencode(root) + b"/" + (parent.encode() + b"/" if parent else b"")
    return len(base) + max(len(name.encode()), len(tmp.encode()))


def test_deep_path_is_rejected_with_a_one_line_reason() -> None:
    result = local_relpath_from_segments(["d" * 200] * 30, root="/srv/mirror/data")
    assert isinstance(result, Rejected)
    assert "too deep" in result.reason
    assert "\n" not in result.reason
    assert len(result.reason) < 300
    with pytest.raises(ValueError, match="too deep"):
        local_relpath("/".join(["d" * 200] * 30), root="/srv/mirror/data")


def test_path_max_boundary_counts_the_temporary_file() -> None:
    root = "/r"
    # "/r/" (3 bytes) + 19 directories of 200 bytes and one of 147, each with its "/", leaves
    # 4095 - 3970 = 125 bytes: a 100-byte name, since its temporary name is 25 bytes longer.
    dirs = ["d" * 200] * 19 + ["e" * 147]
    ok = local_relpath_from_segments([*dirs, "f" * 100], root=root)
    assert isinstance(ok, MappedPath)
    assert _longest_path(root, ok.rel) == 4095
    too_long = local_relpath_from_segments([*dirs, "f" * 101], root=root)
    assert isinstance(too_long, Rejected)


def test_without_root_depth_is_not_checked() -> None:
    assert isinstance(local_relpath_from_segments(["d" * 200] * 30), MappedPath)


# ---------------------------------------------------------------- temporary names


def test_temp_name_shape_and_length() -> None:
    name = temp_name("report.docx", "abcd1234")
    assert name == ".report.docx.ms365sync-abcd1234.part"
    assert is_temp_name(name)
    long = temp_name("é" * 127 + "x", "abcd1234")
    assert len(long.encode()) <= NAME_MAX
    assert is_temp_name(long)


@pytest.mark.parametrize(
    "name",
    [
        "report.docx.ms365sync-abcd1234.part",  # not hidden
        ".report.docx.ms365sync-ABCD1234.part",  # upper case token
        ".report.docx.ms365sync-abc.part",  # short token
        ".report.docx.ms365sync-abcd1234.part.docx",
        ".ms365sync-abcd1234.part",  # no name
        ".x.ms365sync-abcd1234.partial",
    ],
)
def test_lookalikes_are_not_temp_names(name: str) -> None:
    assert not is_temp_name(name)


@pytest.mark.parametrize("token", ["", "abc", "ABCD1234", "abcd-123", "abcd12345"])
def test_temp_name_refuses_bad_tokens(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        temp_name("x", token)


# ---------------------------------------------------------------- properties

HOSTILE_CHARS = [
    *'<>:"|?*/\\. ~\x00\n\x7f\x85\u0301\ud800\udcff',
    "e",
    "E",
    "\u00df",
    "\u212a",
    "\u017f",
]
chars = st.one_of(st.characters(exclude_categories=()), st.sampled_from(HOSTILE_CHARS))
short_names = st.text(chars, max_size=12)
long_names = st.builds(
    lambda unit, count, ext: unit * count + ext,
    st.sampled_from(["a", "é", "字", "😀", "e\u0301", "."]),
    st.integers(40, 300),
    st.sampled_from(["", ".txt", ".docx", ". ", ":x"]),
)
catalogue = st.sampled_from([name for name, _ in HOSTILE])
names = st.one_of(short_names, catalogue, long_names)

VARIANTS: list[Callable[[str], str]] = [
    str.upper,
    str.lower,
    str.swapcase,
    str.casefold,
    lambda s: unicodedata.normalize("NFD", s),
    lambda s: unicodedata.normalize("NFKC", s),
    lambda s: s + ".",
    lambda s: s + " ",
    lambda s: s.rstrip(". "),
    lambda s: s.replace(":", "_").replace("/", "_"),
    lambda s: s[:-1],
    one,  # the local name of `s`, as a remote name
    lambda s: one(s).upper(),
]


@st.composite
def name_pairs(draw: st.DrawFn) -> tuple[str, str]:
    first = draw(names)
    variant = draw(st.sampled_from(VARIANTS))
    second = draw(st.one_of(names, st.just(variant(first))))
    return first, second


@settings(max_examples=400)
@given(st.lists(names, min_size=1, max_size=6))
def test_any_segments_map_to_a_safe_path_inside_data(segments: list[str]) -> None:
    result = mapped(*segments)
    assert len(result.segments) == len(segments)
    assert result.rel == "/".join(result.segments)
    for segment in result.segments:
        assert_safe_segment(segment)
    assert not posixpath.isabs(result.rel)
    joined = posixpath.normpath(posixpath.join("/data", result.rel))
    assert joined.startswith("/data/")
    assert joined.count("/") == len(segments) + 1


@settings(max_examples=400)
@given(name_pairs())
@example(("CON", "con"))
@example(("a:b", "a_b"))
@example(("name.", "name"))
@example((".", ".."))
@example(("x" * 300, "x" * 301))
def test_distinct_names_map_to_distinct_local_names(pair: tuple[str, str]) -> None:
    first, second = pair
    same_nfc = unicodedata.normalize("NFC", first) == unicodedata.normalize("NFC", second)
    assert (one(first) == one(second)) == same_nfc
    # On a case-insensitive or normalising file system two local names only collide when
    # their remote names already did, which the planner detects with collision_key.
    if collision_key(one(first)) == collision_key(one(second)):
        assert collision_key(first) == collision_key(second)


@given(st.lists(names, min_size=1, max_size=4), st.lists(names, min_size=1, max_size=4))
def test_distinct_paths_map_to_distinct_local_paths(first: list[str], second: list[str]) -> None:
    nfc = [[unicodedata.normalize("NFC", s) for s in p] for p in (first, second)]
    assert (mapped(*first).rel == mapped(*second).rel) == (nfc[0] == nfc[1])


@given(names)
def test_mapping_is_deterministic_and_notes_every_change(name: str) -> None:
    result = mapped(name)
    assert mapped(name) == result
    assert result.changed == (result.rel != name)
    if result.changed:
        assert result.changes[0].issues
        assert "\n" not in result.note


@given(st.text(chars, min_size=1, max_size=300))
def test_temp_names_of_any_name_fit_and_are_recognised(name: str) -> None:
    local = one(name)
    tmp = temp_name(local, "0a1b2c3d")
    assert is_temp_name(tmp)
    assert len(tmp.encode("utf-8")) <= NAME_MAX
    assert tmp.startswith(".")


@given(
    st.lists(st.sampled_from(["d" * 200, "é" * 120, "x"]), min_size=1, max_size=30),
    st.sampled_from(["/r", "/srv/mirror/target/data"]),
)
def test_rejected_exactly_when_the_longest_path_exceeds_path_max(
    dirs: list[str], root: str
) -> None:
    result = local_relpath_from_segments([*dirs, "file.txt"], root=root)
    rel = mapped(*dirs, "file.txt").rel
    too_long = _longest_path(root, rel) + 1 > PATH_MAX
    assert isinstance(result, Rejected) == too_long
