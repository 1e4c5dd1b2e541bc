"""A file's key (`models.path_key`): one per list of names, read back by `models.key_names`,
and the plain "/"-joined path for every name SharePoint allows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ms365sync.models import key_names, path_key

# Names made mostly of the characters that matter, so that lists that would collide under a
# weaker scheme ("a/" + "b" against "a" + "/b", "a\" + "b" against "a\/b") come up often.
NAMES = st.text(alphabet=st.sampled_from(["/", "\\", "a", "b", "é", " ", "."]), max_size=6)
PATHS = st.lists(NAMES, min_size=1, max_size=5)
# What SharePoint allows in a name excludes both separators (graph-facts §3.8).
PLAIN = st.lists(
    st.text(st.characters(blacklist_characters="/\\"), min_size=1), min_size=1, max_size=5
)


@given(PATHS, PATHS)
def test_distinct_names_have_distinct_keys(first: list[str], second: list[str]) -> None:
    assert (path_key(first) == path_key(second)) == (first == second)


@given(PATHS)
def test_names_holding_separators_differ_from_the_path_they_would_read_as(
    names: list[str],
) -> None:
    """The lists a plain join confuses (`a/b` with `a` + `b`) get distinct keys."""
    twin = "/".join(names).split("/")
    assert (path_key(names) == path_key(twin)) == (names == twin)


@given(PATHS)
def test_the_names_are_read_back_from_the_key(names: list[str]) -> None:
    assert key_names(path_key(names)) == tuple(names)


@given(PLAIN)
def test_names_sharepoint_allows_keep_their_plain_path(names: list[str]) -> None:
    assert path_key(names) == "/".join(names)
    assert key_names("/".join(names)) == tuple(names)


@pytest.mark.parametrize(
    ("names", "key"),
    [
        (["sl", "a/b.txt"], "sl/a\\/b.txt"),
        (["sl", "a", "b.txt"], "sl/a/b.txt"),
        (["sl", "a\\", "b.txt"], "sl/a\\\\/b.txt"),
        (["sl", "a\\/b.txt"], "sl/a\\\\\\/b.txt"),
        (["..\\..\\x.txt"], "..\\\\..\\\\x.txt"),
        (["Reports", "Q1 plan.docx"], "Reports/Q1 plan.docx"),
    ],
)
def test_examples(names: list[str], key: str) -> None:
    assert path_key(names) == key
    assert key_names(key) == tuple(names)


@pytest.mark.parametrize("key", ["a\\", "a\\b", "x/\\.txt", "\\"])
def test_a_lone_backslash_is_not_a_key(key: str) -> None:
    with pytest.raises(ValueError, match="not a path key"):
        key_names(key)


def test_a_file_has_a_name() -> None:
    with pytest.raises(ValueError, match="at least one name"):
        path_key([])
