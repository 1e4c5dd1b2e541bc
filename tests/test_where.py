"""The `where` language: its grammar, its one-line errors with columns, its semantics over
every shape a SharePoint column value takes, and its limits (length, nesting)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ms365sync.where import MAX_DEPTH, MAX_LENGTH, Where, WhereError, parse

PERSON = {"LookupId": 12, "LookupValue": "Ben Carter", "Email": "ben@contoso.com"}
OTHER_PERSON = {"LookupId": 14, "LookupValue": "Ana Diaz", "Email": "ana@contoso.com"}
TERM = {"Label": "Tax", "TermGuid": "3f1e0c8a-0000-4000-8000-000000000001", "WssId": 7}
OTHER_TERM = {"Label": "Audit", "TermGuid": "3f1e0c8a-0000-4000-8000-000000000002", "WssId": 8}
DOC: dict[str, object] = {
    "Department": "Finance",
    "Status": "Final",
    "Empty": "",
    "Size": 3,
    "Ratio": 0.5,
    "Flag": True,
    "Off": False,
    "Nothing": None,
    "Modified": "2024-03-01T09:00:00Z",
    "Tags": ["alpha", "beta"],
    "NoTags": [],
    "Scores": [1, 7],
    "Owner": PERSON,
    "Reviewers": [PERSON, OTHER_PERSON],
    "Topic": TERM,
    "Topics": [TERM, OTHER_TERM],
    "Bare": {"LookupId": 3},
    "Nested": [["alpha"]],
    "My Col": "spaced",
    "a`b\\c": "odd",
    "_IpLabelId": "label-1",
    "My_x0020_Column": "encoded",
    "OData__x005f_Foo": "prefixed",
}


def matches(expression: str, values: dict[str, object] = DOC) -> bool:
    return parse(expression).matches(values)


# ---- grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Department == 'Finance'", True),
        ("Department != 'Finance'", False),
        ("Size < 4", True),
        ("Size < 3", False),
        ("Size <= 3", True),
        ("Size > 3", False),
        ("Size >= 3", True),
        ("Size > 2", True),
        ("Status in ['Draft', 'Final']", True),
        ("Status in ['Draft']", False),
        ("Status in []", False),
        ("Status not in ['Draft']", True),
        ("Status not in ['Draft', 'Final',]", False),
        ("Tags contains 'beta'", True),
        ("Tags not contains 'beta'", False),
        ("Status exists", True),
        ("Status missing", False),
        ("Absent missing", True),
        ("Absent exists", False),
        ("not Status == 'Final'", False),
        ("not not Status == 'Final'", True),
        ("Size == 3 and Status == 'Final'", True),
        ("Size == 3 and Status == 'Draft'", False),
        ("Size == 4 or Status == 'Final'", True),
        ("Size == 4 or Status == 'Draft'", False),
        ("Department == 'Finance' and Status != 'Draft'", True),
    ],
)
def test_every_operator(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


@pytest.mark.parametrize(
    ("expression", "canonical", "expected"),
    [
        # `and` binds tighter than `or`, `not` tighter than `and`.
        ("Size == 0 or Size == 3 and Status == 'Draft'", None, False),
        ("Size == 3 or Size == 0 and Status == 'Draft'", None, True),
        ("(Size == 3 or Size == 0) and Status == 'Draft'", None, False),
        ("not Size == 0 and Status == 'Draft'", None, False),
        ("not (Size == 0 and Status == 'Draft')", None, True),
        ("not Size == 3 or Status == 'Final'", None, True),
        ("not (Size == 3 or Status == 'Final')", None, False),
        # Redundant parentheses go; nested chains of one kind become one.
        ("((Size == 3))", "Size == 3", True),
        ("(Size == 1 or Size == 2) or (Size == 3)", "Size == 1 or Size == 2 or Size == 3", True),
        (
            "(Size == 3 and (Flag == true)) and Off == false",
            "Size == 3 and Flag == true and Off == false",
            True,
        ),
        ("not (not (Size == 3))", "not not Size == 3", True),
    ],
)
def test_precedence_and_parentheses(expression: str, canonical: str | None, expected: bool) -> None:
    where = parse(expression)
    assert where.matches(DOC) is expected
    assert str(where) == (canonical or expression)


def test_and_or_not_in_every_case_are_keywords_names_are_not() -> None:
    where = parse("NOT Size == 0 AND Status IN ['Final'] Or Tags CONTAINS 'x' and Flag EXISTS")
    assert str(where) == (
        "not Size == 0 and Status in ['Final'] or Tags contains 'x' and Flag exists"
    )
    assert parse("Flag == TRUE and Off == False and Nothing == NULL").matches(DOC)
    assert not matches("status == 'Final'")  # names are case-sensitive: no `status` column
    assert matches("Status == 'Final'")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        (r"S == 'it\'s'", "it's"),
        (r'S == "say \"hi\""', 'say "hi"'),
        (r"S == 'back\\slash'", "back\\slash"),
        (r"S == 'mixed \" quote'", 'mixed " quote'),
        (r'S == "single \' quote"', "single ' quote"),
        ("S == ''", ""),
        ("S == 'line\nbreak'", "line\nbreak"),
        ("S == 'ünïcödé ✓'", "ünïcödé ✓"),
    ],
)
def test_string_escapes(expression: str, value: str) -> None:
    where = parse(expression)
    assert where.matches({"S": value})
    assert not where.matches({"S": value + "x"})
    assert parse(str(where)) == where


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("`My Col` == 'spaced'", "My Col"),
        (r"`a\`b\\c` == 'odd'", "a`b\\c"),
        ("_IpLabelId == 'label-1'", "_IpLabelId"),
        ("My_x0020_Column == 'encoded'", "My_x0020_Column"),
        ("OData__x005f_Foo == 'prefixed'", "OData__x005f_Foo"),
    ],
)
def test_names_bare_and_backquoted(expression: str, name: str) -> None:
    where = parse(expression)
    assert where.names == {name}
    assert where.matches(DOC)
    assert parse(str(where)) == where


def test_a_keyword_or_odd_name_is_printed_backquoted() -> None:
    where = parse("`and` == 1 or `Not` exists or `x-y` missing or `1st` == 2")
    assert str(where) == "`and` == 1 or `Not` exists or `x-y` missing or `1st` == 2"
    assert where.names == {"and", "Not", "x-y", "1st"}
    assert where.matches({"and": 1})


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("12", 12),
        ("-3", -3),
        ("0.5", 0.5),
        ("-2.25", -2.25),
        ("2.5e3", 2500.0),
        ("1E-2", 0.01),
        ("true", True),
        ("false", False),
    ],
)
def test_number_and_boolean_literals(literal: str, value: object) -> None:
    assert parse(f"X == {literal}").matches({"X": value})
    assert parse(f"X=={literal}").matches({"X": value})  # no spaces needed


def test_no_spaces_are_needed_between_tokens() -> None:
    assert str(parse("(a==1)and(b!=-2)or c in['x',null]and not d<=3")) == (
        "a == 1 and b != -2 or c in ['x', null] and not d <= 3"
    )


def test_equal_structures_are_equal_values() -> None:
    one = parse("Size==3 AND Status!='Draft'")
    other = parse('( Size == 3 )\n  and (Status != "Draft")')
    assert one == other
    assert hash(one) == hash(other)
    assert one.text != other.text
    assert repr(one) == "Where(\"Size==3 AND Status!='Draft'\")"
    # Python's 1 == 1.0 == True must not make different expressions equal.
    assert len({parse("Size == 1"), parse("Size == 1.0"), parse("Size == true")}) == 3
    assert parse("Size == 1") != "Size == 1"


def test_names_lists_every_field_read() -> None:
    where = parse(
        "a == 1 and not (b in [1] or `c d` contains 'x') or e exists or f missing "
        "or g < 2 or a != 3 or h not in [] or i not contains 1"
    )
    assert where.names == frozenset({"a", "b", "c d", "e", "f", "g", "h", "i"})
    assert isinstance(where.names, frozenset)


def test_where_is_frozen() -> None:
    where = parse("a == 1")
    with pytest.raises(AttributeError):
        where.text = "b == 2"  # type: ignore[misc]


# ---- errors ----------------------------------------------------------------------------

OPERATORS = "==, !=, <, <=, >, >=, in, not in, contains, not contains, exists, missing"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("Department ==", "expected a value after '==' at column 14"),
        ("Department = 'Finance'", "unknown operator '=' at column 12 (use '==')"),
        ("a => 1", "unknown operator '=>' at column 3 (use '>=')"),
        ("a =< 1", "unknown operator '=<' at column 3 (use '<=')"),
        ("a <> 1", "unknown operator '<>' at column 3 (use '!=')"),
        ("a ! b", "unknown operator '!' at column 3 (use '!=' or 'not')"),
        ("a == 1 && b == 2", "unknown operator '&&' at column 8 (use 'and')"),
        ("a == 1 || b == 2", "unknown operator '||' at column 8 (use 'or')"),
        ("a == 1 | b == 2", "unknown operator '|' at column 8 (use 'or')"),
        ("", "empty expression (expected a test such as Status == 'Final')"),
        ("  \n ", "empty expression (expected a test such as Status == 'Final')"),
        ("(a == 1", "expected ')' at column 8 (to close the '(' at column 1)"),
        ("((a == 1) or b == 2", "expected ')' at column 20 (to close the '(' at column 1)"),
        ("a == 1)", "expected 'and', 'or' or the end at column 7, found ')'"),
        ("a == 1 b", "expected 'and', 'or' or the end at column 8, found the name 'b'"),
        ("a", f"expected an operator ({OPERATORS}) after the name 'a' at column 2"),
        (
            "`x y` 'z'",
            f"expected an operator ({OPERATORS}) after the name 'x y' at column 7, "
            "found the string 'z'",
        ),
        (
            "a == Draft",
            "expected a value after '==' at column 6, found the name 'Draft' "
            "(quote a string: 'Draft')",
        ),
        ("a < true", "expected a number or a string after '<' at column 5, found 'true'"),
        ("a >= null", "expected a number or a string after '>=' at column 6, found 'null'"),
        (
            "a contains null",
            "expected a string, a number or a boolean after 'contains' at column 12, found 'null'",
        ),
        ("a not == 1", "expected 'in' or 'contains' after 'not' at column 7, found '=='"),
        ("a in 1", "expected '[' after 'in' at column 6, found the number 1"),
        ("a in [1 2]", "expected ',' or ']' at column 9, found the number 2"),
        ("a in [1,", "expected a value after ',' at column 9"),
        ("a in [", "expected a value after '[' at column 7"),
        ("a in [,]", "expected a value after '[' at column 7, found ','"),
        ("'x' == a", "expected a field name, 'not' or '(' at column 1, found the string 'x'"),
        ("true == 1", "expected a field name, 'not' or '(' at column 1, found 'true'"),
        ("a == 1 and", "expected a field name, 'not' or '(' at column 11"),
        ("not", "expected a field name, 'not' or '(' at column 4"),
        (
            "a == 'x\\n'",
            "unknown escape '\\n' at column 8 (in a string, a backslash escapes only "
            "\\', \\\" and \\\\)",
        ),
        (
            "`a\\'b` == 1",
            "unknown escape '\\'' at column 3 (in a name, a backslash escapes only \\` and \\\\)",
        ),
        ("a == 'abc", "unterminated string starting at column 6"),
        ("a == 'abc\\'", "unterminated string starting at column 6"),
        ("`abc == 1", "unterminated name starting at column 1"),
        ("`` == 1", "empty name at column 1"),
        ("a == 1.2.3", "malformed number '1.2.3' at column 6"),
        ("a == 12abc", "malformed number '12abc' at column 6"),
        ("a == 1.", "malformed number '1.' at column 6"),
        ("a == -", "expected a digit after '-' at column 7"),
        ("a == -x", "expected a digit after '-' at column 7"),
        ("a == 1e999", "number out of range '1e999' at column 6"),
        ("a $ 1", "unexpected character '$' at column 3"),
        ("a == 1 and\tb \x00", "unexpected character '\\x00' at column 14"),
        ("a\n== \n", "expected a value after '==' at line 3, column 1"),
        ("a == 1 and\n  b ==", "expected a value after '==' at line 2, column 7"),
        (
            "__import__('os').system('true')",
            f"expected an operator ({OPERATORS}) after the name '__import__' at column 11, "
            "found '('",
        ),
        (
            "a == '" + "x" * 40 + "' b",
            "expected 'and', 'or' or the end at column 49, found the name 'b'",
        ),
        (
            "a == 1 " + "y" * 40,
            "expected 'and', 'or' or the end at column 8, found the name '" + "y" * 30 + "...'",
        ),
    ],
)
def test_error_messages(expression: str, message: str) -> None:
    with pytest.raises(WhereError) as caught:
        parse(expression)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_the_first_error_in_reading_order_is_reported() -> None:
    """Tokens are read as the parser needs them: a later bad character does not hide an
    earlier mistake."""
    with pytest.raises(WhereError, match=r"^unknown operator '=' at column 3"):
        parse("a = 1 and $")


def test_where_error_is_a_value_error_with_the_offset() -> None:
    with pytest.raises(ValueError) as caught:
        parse("Department = 'x'")
    assert isinstance(caught.value, WhereError)
    assert caught.value.offset == 11


def test_a_non_string_is_refused() -> None:
    with pytest.raises(WhereError, match=r"^expected a string expression, not int$"):
        parse(3)  # type: ignore[arg-type]


# ---- semantics over SharePoint's value shapes ------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Strings: exact, case-sensitive, ordered by code point.
        ("Department == 'finance'", False),
        ("Department > 'Ea'", True),
        ("Department < 'Fj'", True),
        ("Department < 'F'", False),
        ("Department contains 'nan'", True),
        ("Department contains 'NAN'", False),
        ("Department contains ''", True),
        ("Empty == ''", True),
        ("Empty == null", False),
        ("Empty exists", True),
        # ISO 8601 dates are strings: ordered as dates.
        ("Modified >= '2024-03-01'", True),
        ("Modified < '2024-03-02'", True),
        ("Modified <= '2024-03-01'", False),  # the stamp sorts after the bare date
        ("Modified > '2024-02-29T23:59:59Z'", True),
        # Numbers: integers and decimals together; never a string or a boolean.
        ("Size == 3.0", True),
        ("Ratio == 0.5", True),
        ("Ratio < 1", True),
        ("Size > 2.5", True),
        ("Size == '3'", False),
        ("Size < '4'", False),
        ("Size contains 3", False),
        ("Size == true", False),
        # Booleans equal only booleans.
        ("Flag == true", True),
        ("Flag == 1", False),
        ("Off == 0", False),
        ("Off == false", True),
        ("Off != true", True),
        ("Flag in [1, 'true']", False),
        # Null and missing: presence.
        ("Nothing == null", True),
        ("Absent == null", True),
        ("Size == null", False),
        ("Nothing != null", False),
        ("Nothing missing", True),
        ("Absent != 'Draft'", True),
        ("Absent == 'Draft'", False),
        ("Absent < 3", False),
        ("Absent >= 3", False),
        ("not Absent < 3", True),
        ("Absent in ['x', null]", True),
        ("Absent contains 'x'", False),
        ("Absent not contains 'x'", True),
        # Multi-choice: == is "any element", != its negation, contains is membership.
        ("Tags == 'alpha'", True),
        ("Tags == 'gamma'", False),
        ("Tags != 'alpha'", False),
        ("Tags != 'gamma'", True),
        ("Tags contains 'beta'", True),
        ("Tags contains 'bet'", False),
        ("Tags in ['gamma', 'beta']", True),
        ("Tags not in ['gamma']", True),
        ("Tags < 'b'", True),
        ("Tags > 'c'", False),
        ("Tags == null", False),
        ("NoTags == null", False),
        ("NoTags exists", True),
        ("NoTags == 'alpha'", False),
        ("NoTags != 'alpha'", True),
        ("NoTags contains 'alpha'", False),
        ("Scores > 5", True),
        ("Scores > 7", False),
        ("Scores == 1.0", True),
        ("Scores contains 7", True),
        ("Nested == 'alpha'", False),  # one level deep
        ("Nested contains 'alpha'", False),
        # A lookup or person: its LookupValue.
        ("Owner == 'Ben Carter'", True),
        ("Owner == 'ben carter'", False),
        ("Owner == 12", False),
        ("Owner == 'ben@contoso.com'", False),
        ("Owner contains 'Carter'", True),
        ("Owner > 'Ana'", True),
        ("Owner in ['Ana Diaz', 'Ben Carter']", True),
        ("Reviewers == 'Ana Diaz'", True),
        ("Reviewers != 'Ana Diaz'", False),
        ("Reviewers contains 'Ana Diaz'", True),
        ("Reviewers contains 'Ana'", False),
        # Managed metadata: its Label, single or multi-valued.
        ("Topic == 'Tax'", True),
        ("Topic != 'Tax'", False),
        ("Topic == 7", False),
        ("Topic contains 'Ta'", True),
        ("Topics == 'Audit'", True),
        ("Topics contains 'Tax'", True),
        ("Topics contains 'Compliance'", False),
        ("Topics < 'B'", True),
        # An object without a display value equals nothing but is present.
        ("Bare == 'x'", False),
        ("Bare != 'x'", True),
        ("Bare == 3", False),
        ("Bare < 'z'", False),
        ("Bare contains ''", False),
        ("Bare exists", True),
        ("Bare == null", False),
    ],
)
def test_semantics_over_value_shapes(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_a_display_value_of_the_wrong_type_is_no_display_value() -> None:
    odd = {"Label": 3, "LookupValue": "fallback"}
    assert matches("X == 'fallback'", {"X": odd})
    assert not matches("X == 3", {"X": {"Label": 3}})
    assert matches("X == 'x'", {"X": ({"Label": "x"},)})  # a tuple is a list too


def test_a_deeply_nested_value_is_no_problem() -> None:
    value: Any = "alpha"
    for _ in range(10_000):
        value = [value]
    assert not matches("Tags == 'alpha' or Tags contains 'alpha' or Tags > 'a'", {"Tags": value})


# ---- limits ----------------------------------------------------------------------------


def test_parentheses_and_not_nest_to_the_limit_and_no_deeper() -> None:
    deepest = "(" * MAX_DEPTH + "a == 1" + ")" * MAX_DEPTH
    assert parse(deepest).matches({"a": 1})
    with pytest.raises(WhereError) as caught:
        parse("(" + deepest + ")")
    assert str(caught.value) == f"nesting deeper than {MAX_DEPTH} levels at column {MAX_DEPTH + 1}"
    nots = "not " * MAX_DEPTH + "a == 1"
    assert parse(nots).matches({"a": 1})  # an even number of nots
    with pytest.raises(WhereError, match=f"^nesting deeper than 64 levels at column {4 * 64 + 1}$"):
        parse("not " + nots)
    mixed = "not (" * (MAX_DEPTH // 2) + "a == 1" + ")" * (MAX_DEPTH // 2)
    assert parse(mixed).matches({"a": 1})
    with pytest.raises(WhereError, match=r"^nesting deeper than 64 levels"):
        parse("(" + mixed + ")")


def test_siblings_do_not_add_up_to_depth() -> None:
    inner = "(" * (MAX_DEPTH - 1) + "a == 1" + ")" * (MAX_DEPTH - 1)
    assert parse(f"({inner}) and ({inner}) or not {inner}").matches({"a": 1})
    assert parse(" and ".join(["not a == 2"] * (MAX_DEPTH + 1))).matches({"a": 1})
    assert parse(" or ".join(["(a == 2)"] * (MAX_DEPTH + 1))).matches({"a": 2})


@pytest.mark.parametrize("opening", ["(", "not ", "not (", "a in [", "(not "])
def test_deep_nesting_within_the_length_is_an_error_not_a_recursion_error(opening: str) -> None:
    text = (opening * MAX_LENGTH)[:MAX_LENGTH]
    with pytest.raises(WhereError):
        parse(text)


def test_the_length_limit() -> None:
    chain = " or ".join(["Status == 'x'"] * 200) + " or a == 1"
    longest = chain.ljust(MAX_LENGTH)
    where = parse(longest)
    assert where.matches({"a": 1})
    assert not where.matches({"a": 2})
    assert parse(str(where)) == where
    with pytest.raises(WhereError) as caught:
        parse(longest + " ")
    assert str(caught.value) == f"expression of {MAX_LENGTH + 1} characters (at most {MAX_LENGTH})"


def test_a_long_flat_chain_evaluates_without_deep_recursion() -> None:
    chain = " and ".join(f"f{i} != {i}" for i in range(250))
    assert len(chain) <= MAX_LENGTH
    assert parse(chain).matches({})
    assert not parse(chain).matches({"f249": 249})


# ---- properties ------------------------------------------------------------------------

FIELDS = ("Status", "Size", "Tags", "Owner", "My Col")
STRINGS = ("", "a", "ab", "Finance", "it's", 'q"d', "b\\s", "Ben")


def _lit(value: object) -> str:
    """A literal as a person would write it, independently of the module's printer."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "True" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _field(name: str) -> str:
    return f"`{name}`" if " " in name else name


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, -2.5, 2.0]),
    st.sampled_from(STRINGS),
)
COMPARABLE = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 1.0]), st.sampled_from(STRINGS))
NAME = st.sampled_from(FIELDS).map(_field)
TEST = st.one_of(
    st.builds("{} {} {}".format, NAME, st.sampled_from(["==", "!="]), SCALARS.map(_lit)),
    st.builds(
        "{} {} {}".format, NAME, st.sampled_from(["<", "<=", ">", ">="]), COMPARABLE.map(_lit)
    ),
    st.builds(
        "{} {} [{}]".format,
        NAME,
        st.sampled_from(["in", "not in", "NOT IN"]),
        st.lists(SCALARS.map(_lit), max_size=3).map(", ".join),
    ),
    st.builds(
        "{} {} {}".format,
        NAME,
        st.sampled_from(["contains", "not contains"]),
        SCALARS.filter(lambda v: v is not None).map(_lit),
    ),
    st.builds("{} {}".format, NAME, st.sampled_from(["exists", "missing", "Exists"])),
)
EXPRESSION = st.recursive(
    TEST,
    lambda inner: st.one_of(
        st.builds("{} and {}".format, inner, inner),
        st.builds("{} OR {}".format, inner, inner),
        st.builds("({}) and ({})".format, inner, inner),
        st.builds("({}) or ({})".format, inner, inner),
        st.builds("not {}".format, inner),
        st.builds("not ({})".format, inner),
        st.builds("({})".format, inner),
    ),
    max_leaves=10,
)
OBJECTS = st.one_of(
    st.builds(
        lambda s: {"LookupId": 1, "LookupValue": s, "Email": "x@y"}, st.sampled_from(STRINGS)
    ),
    st.builds(lambda s: {"Label": s, "TermGuid": "g", "WssId": 2}, st.sampled_from(STRINGS)),
    st.just({"LookupId": 3}),
)
ELEMENT = st.one_of(SCALARS, OBJECTS)
VALUES = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(ELEMENT, st.lists(ELEMENT, max_size=3)), max_size=5
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@given(EXPRESSION, VALUES)
def test_not_is_the_negation(expression: str, values: dict[str, object]) -> None:
    assert parse(f"not ({expression})").matches(values) is not parse(expression).matches(values)


@given(EXPRESSION, VALUES)
def test_printing_round_trips(expression: str, values: dict[str, object]) -> None:
    where = parse(expression)
    again = parse(str(where))
    assert again == where
    assert str(again) == str(where)
    assert again.names == where.names
    assert again.matches(values) is where.matches(values)


@given(NAME, SCALARS, st.lists(SCALARS, max_size=3), VALUES)
def test_the_derived_operators_are_what_the_docs_say(
    name: str, value: object, listed: list[object], values: dict[str, object]
) -> None:
    def same(one: str, other: str) -> None:
        assert parse(one).matches(values) is parse(other).matches(values), (one, other)

    same(f"{name} != {_lit(value)}", f"not {name} == {_lit(value)}")
    same(f"{name} exists", f"{name} != null")
    same(f"{name} missing", f"{name} == null")
    either = " or ".join(f"{name} == {_lit(item)}" for item in listed) or f"{name} in []"
    same(f"{name} in [{', '.join(map(_lit, listed))}]", either)
    same(f"{name} not in [{', '.join(map(_lit, listed))}]", f"not ({either})")
    if value is not None:
        same(f"{name} not contains {_lit(value)}", f"not {name} contains {_lit(value)}")


@given(EXPRESSION, st.dictionaries(st.sampled_from(FIELDS), JSON))
def test_matching_never_raises(expression: str, values: dict[str, object]) -> None:
    assert parse(expression).matches(values) in (True, False)


PIECES = [*"()[],'\"`\\=!<>&|-.e0123456789 \n\t$", "a", "Tags", " and ", " or ", " not "]
GRAMMAR_SOUP = st.lists(
    st.sampled_from([*PIECES, " in ", " contains ", " exists ", "null", "true", "NOT"]),
    max_size=40,
).map("".join)


@given(st.one_of(st.text(max_size=80), GRAMMAR_SOUP))
def test_garbage_gives_a_where_or_a_one_line_where_error(text: str) -> None:
    try:
        where = parse(text)
    except WhereError as error:
        message = str(error)
        assert message
        assert "\n" not in message
        assert message.isprintable()
        if error.offset is not None:
            assert "column" in message
            assert 0 <= error.offset <= len(text)
    else:
        assert isinstance(where, Where)
        assert parse(str(where)) == where


@given(VALUES, st.dictionaries(st.sampled_from("abc"), SCALARS))
def test_the_documented_examples(values: dict[str, object], abc: dict[str, object]) -> None:
    """The claims of docs/rag.md, "Filtering on metadata: `where`"."""
    loose = parse("not a == 1 or b == 2 and c == 3")
    assert loose == parse("(not a == 1) or (b == 2 and c == 3)")
    assert loose.matches(abc) is parse("(not a == 1) or (b == 2 and c == 3)").matches(abc)
    if isinstance(values.get("Tags"), list):  # on a list, contains is membership: ==
        assert parse("Tags contains 'a'").matches(values) is parse("Tags == 'a'").matches(values)
    stamp = {"Modified": "2024-03-01T09:00:00Z"}
    assert parse("Modified >= '2024-03-01' and Modified < '2024-03-02'").matches(stamp)
    assert parse("not (Size < 3)").matches({})
    assert not parse("Size >= 3").matches({})
    assert parse("Status != 'Draft'").matches({})
    assert parse("Title contains 'budget'").matches({"Title": "Q1 budget"})
