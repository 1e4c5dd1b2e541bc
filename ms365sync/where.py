"""Which documents a filter keeps: a small expression language over SharePoint column values.

A target's `where` in sites.toml (and the RAG example's `--where`) is an expression such as
`Department == 'Finance' and Status != 'Draft'`. It is read by a hand-written tokenizer and
recursive-descent parser, never by `eval` or Python's own parser, and evaluated over one
document's column values (internal name -> value as Graph's `fields` gives it).

Grammar, from the lowest precedence to the highest (keywords in any case, names exactly)::

    expression := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expression ")" | test
    test       := name ("==" | "!=" | "<" | "<=" | ">" | ">=") value
                | name ["not"] "in" "[" [value ("," value)* [","]] "]"
                | name ["not"] "contains" value
                | name ("exists" | "missing")
    value      := string | number | "true" | "false" | "null"
    name       := identifier | "`" any characters "`"

- identifier: a letter or `_`, then letters, digits and `_` (`Department`, `_IpLabelId`,
  `My_x0020_Column`, `OData__x005f_Foo`); a keyword (`and or not in contains exists missing
  true false null`, in any case) is not a name. Any other name goes in backquotes:
  `` `Any Name` ``, with `` \\` `` and `\\\\` for a backquote and a backslash.
- string: in '...' or "...", with `\\'`, `\\"` and `\\\\` the only escapes.
- number: an integer or a decimal with an optional minus and exponent (`12`, `-3`, `0.5`,
  `2.5e3`); `1` and `1.0` are equal.
- Whitespace separates tokens anywhere. At most `MAX_LENGTH` (4,096) characters and
  `MAX_DEPTH` (64) levels of parentheses and `not`.

Semantics, for one document's values:

- A missing field is null. `F == null` is true when F is missing or null, `F != null`
  when it has a value (also an empty string or list); `F exists` and `F missing` say the same.
- `!=` is exactly `not ==`, and `not in` / `not contains` are `not` of `in` / `contains`: a
  document without F matches `F != 'Draft'`.
- `==` compares like with like: a string only with a string (case-sensitive), a number
  with a number (an integer and a decimal numerically: `1 == 1.0`), a boolean only with a
  boolean (`true == 1` is false); anything else is unequal.
- `<`, `<=`, `>`, `>=` compare numbers numerically and strings by code point (so ISO 8601
  dates compare as dates: `Modified >= '2024-03-01'`; note that `'2024-03-01T09:00:00Z'`
  sorts after `'2024-03-01'`). Other pairs (a boolean, null, a string against a number)
  are false, never an error, so `not (F < 3)` is not the same as `F >= 3`. The parser
  accepts only a number or a string after them.
- An object is seen as its display value: `Label` for managed metadata ({Label, TermGuid,
  WssId}), else `LookupValue` for a lookup or a person ({LookupId, LookupValue, Email});
  one without either equals nothing and orders with nothing.
- A list (multi-choice, multi-lookup, multi-person, multi-value managed metadata) is
  true for `==`, `<` ... if ANY element is (so `Tags != 'x'` means no element is 'x');
  its elements are compared one level deep (a list inside a list equals nothing).
- `F in [a, b]` is `F == a or F == b`.
- `F contains v`: on a list, an element equals v (as `==`); on a string (or an object's
  display value), v is a substring of it, case-sensitive; on anything else false. The
  parser refuses `contains null`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Where", "WhereError", "parse", "parse_where"]

MAX_LENGTH = 4096
MAX_DEPTH = 64

Value = str | int | float | bool | None  # a literal of the language

_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "contains", "exists", "missing", "true", "false", "null"}
)
_CONSTANTS: dict[str, Value] = {"true": True, "false": False, "null": None}
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_TAIL = re.compile(r"[\w.]*")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
# Applied only to two numbers or two strings (_ordered checks).
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# Operators of other languages, and what to write instead.
_MISTAKES = {
    "=": "==",
    "=>": ">=",
    "=<": "<=",
    "<>": "!=",
    "!": "!=' or 'not",
    "&&": "and",
    "&": "and",
    "||": "or",
    "|": "or",
}
_CLIP = 30
# quote -> (what it encloses, the characters a backslash escapes in it, those as the error says)
_QUOTES = {
    "'": ("string", "'\"\\", "\\', \\\" and \\\\"),
    '"': ("string", "'\"\\", "\\', \\\" and \\\\"),
    "`": ("name", "`\\", "\\` and \\\\"),
}


class WhereError(ValueError):
    """An expression that cannot be parsed: one line naming the column and what was expected.

    `offset` is the 0-based index into the expression (None when no single place is wrong).
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


# ---- the syntax tree -------------------------------------------------------------------


@dataclass(frozen=True)
class _Compare:
    name: str
    op: str
    value: Value


@dataclass(frozen=True)
class _In:
    name: str
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class _Contains:
    name: str
    value: Value
    negated: bool


@dataclass(frozen=True)
class _Exists:
    name: str
    present: bool


@dataclass(frozen=True)
class _Not:
    operand: _Node


@dataclass(frozen=True)
class _And:
    operands: tuple[_Node, ...]


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Node, ...]


_Node = _Compare | _In | _Contains | _Exists | _Not | _And | _Or


# ---- the public value ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Where:
    """A parsed expression. Two are equal when their canonical forms (`str`) are: the same
    structure whatever the spacing, the case of keywords or redundant parentheses."""

    text: str
    _root: _Node = field(repr=False)
    _canonical: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_canonical", _show(self._root, 0))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Where) and other._canonical == self._canonical

    def __hash__(self) -> int:
        return hash(self._canonical)

    @property
    def names(self) -> frozenset[str]:
        """Every field name the expression reads (the columns a sync has to fetch)."""
        return frozenset(_names(self._root))

    def matches(self, values: Mapping[str, object]) -> bool:
        """Whether a document with these column values (internal name -> value as Graph's
        `fields` gives it; a missing name is null) passes the filter. Never raises."""
        return _evaluate(self._root, values)

    def __str__(self) -> str:
        """The expression in canonical form: single-quoted strings, lowercase keywords,
        only the parentheses precedence needs. `parse(str(w)) == w`."""
        return self._canonical

    def __repr__(self) -> str:
        return f"Where({self.text!r})"


def parse(text: str) -> Where:
    """Parse a `where` expression (grammar in the module docstring).

    Raises WhereError (a ValueError) with one line naming the column and what was
    expected, for a syntax error, an expression over MAX_LENGTH characters or one nested
    deeper than MAX_DEPTH.
    """
    if not isinstance(text, str):
        raise WhereError(f"expected a string expression, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise WhereError(f"expression of {len(text)} characters (at most {MAX_LENGTH})")
    if not text.strip():
        raise WhereError("empty expression (expected a test such as Status == 'Final')")
    return Where(text, _Parser(text).parse())


parse_where = parse  # the name `ms365sync` exports it under


# ---- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # name, string, number, word (a keyword, lowercased), op, punct, end
    text: str  # the name, the keyword, the operator or punctuation
    start: int
    end: int
    value: Value = None  # a string's or number's value


def _at(text: str, offset: int) -> str:
    """'column 14', or 'line 2, column 3' in an expression of several lines (1-based)."""
    line_start = text.rfind("\n", 0, offset) + 1
    column = f"column {offset - line_start + 1}"
    return f"line {text.count(chr(10), 0, offset) + 1}, {column}" if "\n" in text else column


def _printable(text: str) -> str:
    clipped = text if len(text) <= _CLIP else text[:_CLIP] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in clipped)


def _tokens(text: str) -> Iterator[_Token]:
    """The tokens of `text`, lazily, so the first error in reading order is the one raised."""
    i, length = 0, len(text)
    while i < length:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()[],":
            yield _Token("punct", char, i, i + 1)
            i += 1
        elif char in "=!<>&|":
            token = _operator(text, i)
            yield token
            i = token.end
        elif char in "'\"`":
            token = _quoted(text, i)
            yield token
            i = token.end
        elif char == "-" or "0" <= char <= "9":
            token = _number(text, i)
            yield token
            i = token.end
        elif match := _IDENTIFIER.match(text, i):
            word = match.group()
            keyword = word.isascii() and word.lower() in _KEYWORDS
            yield _Token(
                "word" if keyword else "name", word.lower() if keyword else word, i, match.end()
            )
            i = match.end()
        else:
            raise WhereError(
                f"unexpected character '{_printable(char)}' at {_at(text, i)}", offset=i
            )
    yield _Token("end", "", length, length)


def _operator(text: str, i: int) -> _Token:
    two = text[i : i + 2]
    if two in _COMPARISONS:
        return _Token("op", two, i, i + 2)
    found = two if two in _MISTAKES else text[i]
    if found in _COMPARISONS:
        return _Token("op", found, i, i + 1)
    raise WhereError(
        f"unknown operator '{found}' at {_at(text, i)} (use '{_MISTAKES[found]}')", offset=i
    )


def _quoted(text: str, start: int) -> _Token:
    """A string ('...' or "...") or a backquoted name, from its opening quote."""
    quote = text[start]
    what, escapes, shown = _QUOTES[quote]
    chars: list[str] = []
    i = start + 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\":
            escaped = text[i + 1 : i + 2]
            if not escaped or escaped not in escapes:
                raise WhereError(
                    f"unknown escape '\\{_printable(escaped)}' at {_at(text, i)} "
                    f"(in a {what}, a backslash escapes only {shown})",
                    offset=i,
                )
            i += 1
        chars.append(text[i])
        i += 1
    if i >= len(text):
        raise WhereError(f"unterminated {what} starting at {_at(text, start)}", offset=start)
    value = "".join(chars)
    if quote == "`":
        if not value:
            raise WhereError(f"empty name at {_at(text, start)}", offset=start)
        return _Token("name", value, start, i + 1)
    return _Token("string", "", start, i + 1, value)


def _number(text: str, start: int) -> _Token:
    match = _NUMBER.match(text, start)
    if match is None:
        raise WhereError(f"expected a digit after '-' at {_at(text, start + 1)}", offset=start)
    tail = _NUMBER_TAIL.match(text, match.end())
    end = tail.end() if tail else match.end()
    source = text[start:end]
    if end > match.end():
        raise WhereError(
            f"malformed number '{_printable(source)}' at {_at(text, start)}", offset=start
        )
    is_int = not any(c in source for c in ".eE")
    value: int | float = int(source) if is_int else float(source)
    if not math.isfinite(value):
        raise WhereError(
            f"number out of range '{_printable(source)}' at {_at(text, start)}", offset=start
        )
    return _Token("number", "", start, end, value)


# ---- the parser ------------------------------------------------------------------------


class _Parser:
    """Recursive descent with one token of lookahead; `and`/`or` chains and runs of `not`
    are loops, so Python's stack grows only with parentheses (at most MAX_DEPTH)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.token = next(self.tokens)
        self.depth = 0

    def parse(self) -> _Node:
        node = self.or_expression()
        if self.token.kind != "end":
            self.fail("'and', 'or' or the end")
        return node

    def advance(self) -> _Token:
        token = self.token
        if token.kind != "end":
            self.token = next(self.tokens)
        return token

    def at_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text in words

    def at_punct(self, char: str) -> bool:
        return self.token.kind == "punct" and self.token.text == char

    def fail(self, expected: str, after: str = "", hint: str = "") -> NoReturn:
        token, text = self.token, self.text
        message = f"expected {expected}" + (f" after {after}" if after else "")
        message += f" at {_at(text, token.start)}"
        if token.kind != "end":
            message += f", found {_describe(token, text)}"
        raise WhereError(message + hint, offset=token.start)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise WhereError(
                f"nesting deeper than {MAX_DEPTH} levels at {_at(self.text, token.start)}",
                offset=token.start,
            )

    def or_expression(self) -> _Node:
        operands = [self.and_expression()]
        while self.at_word("or"):
            self.advance()
            operands.append(self.and_expression())
        return _joined(_Or, operands)

    def and_expression(self) -> _Node:
        operands = [self.not_expression()]
        while self.at_word("and"):
            self.advance()
            operands.append(self.not_expression())
        return _joined(_And, operands)

    def not_expression(self) -> _Node:
        nots = 0
        while self.at_word("not"):
            self.enter(self.advance())
            nots += 1
        node = self.primary()
        self.depth -= nots
        for _ in range(nots):
            node = _Not(node)
        return node

    def primary(self) -> _Node:
        token = self.token
        if self.at_punct("("):
            self.enter(self.advance())
            node = self.or_expression()
            if not self.at_punct(")"):
                self.fail("')'", hint=f" (to close the '(' at {_at(self.text, token.start)})")
            self.advance()
            self.depth -= 1
            return node
        if token.kind != "name":
            self.fail("a field name, 'not' or '('")
        self.advance()
        return self.test(token.text)

    def test(self, name: str) -> _Node:
        token = self.token
        if token.kind == "op":
            self.advance()
            return _Compare(name, token.text, self.value(token))
        negated = self.at_word("not")
        if negated:
            self.advance()
            if not self.at_word("in", "contains"):
                self.fail("'in' or 'contains'", after="'not'")
        elif self.at_word("exists", "missing"):
            self.advance()
            return _Exists(name, token.text == "exists")
        elif not self.at_word("in", "contains"):
            operators = "==, !=, <, <=, >, >=, in, not in, contains, not contains, exists, missing"
            self.fail(f"an operator ({operators})", after=f"the name '{_printable(name)}'")
        keyword = self.advance()
        if keyword.text == "in":
            return _In(name, self.values(keyword), negated)
        return _Contains(name, self.value(keyword), negated)

    def value(self, after: _Token) -> Value:
        token, shown = self.token, f"'{after.text}'"
        if token.kind in ("string", "number"):
            value = token.value
        elif token.kind == "word" and token.text in _CONSTANTS:
            value = _CONSTANTS[token.text]
        else:
            quote = f" (quote a string: '{_printable(token.text)}')" if token.kind == "name" else ""
            self.fail("a value", after=shown, hint=quote)
        if after.text in _ORDER and (value is None or isinstance(value, bool)):
            self.fail("a number or a string", after=shown)
        if after.text == "contains" and value is None:
            self.fail("a string, a number or a boolean", after=shown)
        self.advance()
        return value

    def values(self, keyword: _Token) -> tuple[Value, ...]:
        if not self.at_punct("["):
            self.fail("'['", after=f"'{keyword.text}'")
        after = self.advance()
        values: list[Value] = []
        while not self.at_punct("]"):
            values.append(self.value(after))
            if self.at_punct(","):
                after = self.advance()
            elif not self.at_punct("]"):
                self.fail("',' or ']'")
        self.advance()
        return tuple(values)


def _joined(kind: type[_And] | type[_Or], operands: list[_Node]) -> _Node:
    """One operand as itself; several as one flat `and` / `or` (nested ones merged, which
    keeps the tree, and the stack evaluating it, shallow)."""
    if len(operands) == 1:
        return operands[0]
    flat: list[_Node] = []
    for node in operands:
        flat.extend(node.operands if isinstance(node, kind) else (node,))
    return kind(tuple(flat))


def _describe(token: _Token, text: str) -> str:
    source = _printable(text[token.start : token.end])
    if token.kind == "name":
        return f"the name '{_printable(token.text)}'"
    if token.kind == "string":
        return f"the string {source}"
    if token.kind == "number":
        return f"the number {source}"
    return f"'{source}'"


# ---- evaluation ------------------------------------------------------------------------


class _Nothing:
    """An object without a display value: equal to nothing, ordered with nothing."""


_NOTHING = _Nothing()


def _shown(value: object) -> object:
    """What a comparison sees of one value: an object's display value, else the value."""
    if isinstance(value, Mapping):
        for key in ("Label", "LookupValue"):
            label = value.get(key)
            if isinstance(label, str):
                return label
        return _NOTHING
    return value


def _elements(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _equal(value: object, literal: Value) -> bool:
    """One (non-list) value against a non-null literal: like with like."""
    value = _shown(value)
    if isinstance(literal, bool) or isinstance(value, bool):
        return isinstance(literal, bool) and isinstance(value, bool) and value == literal
    if isinstance(literal, (int, float)):
        return isinstance(value, (int, float)) and value == literal
    return isinstance(value, str) and value == literal


def _is(value: object, literal: Value) -> bool:
    """`F == literal` for a field's whole value: presence for null, else any element."""
    if literal is None:
        return value is None
    return any(_equal(element, literal) for element in _elements(value))


def _ordered(value: object, op: str, literal: Value) -> bool:
    value = _shown(value)
    if isinstance(value, bool) or isinstance(literal, bool):
        return False
    numbers = isinstance(value, (int, float)) and isinstance(literal, (int, float))
    strings = isinstance(value, str) and isinstance(literal, str)
    return (numbers or strings) and _ORDER[op](value, literal)


def _contains(value: object, literal: Value) -> bool:
    if isinstance(value, (list, tuple)):
        return _is(value, literal)
    shown = _shown(value)
    return isinstance(shown, str) and isinstance(literal, str) and literal in shown


def _evaluate(node: _Node, values: Mapping[str, object]) -> bool:
    if isinstance(node, _Or):
        return any(_evaluate(operand, values) for operand in node.operands)
    if isinstance(node, _And):
        return all(_evaluate(operand, values) for operand in node.operands)
    if isinstance(node, _Not):
        return not _evaluate(node.operand, values)
    return _test(node, values.get(node.name))


def _test(node: _Compare | _In | _Contains | _Exists, value: object) -> bool:
    """One test over the field's value (None when the field is missing)."""
    if isinstance(node, _Exists):
        return (value is not None) == node.present
    if isinstance(node, _In):
        return any(_is(value, literal) for literal in node.values) != node.negated
    if isinstance(node, _Contains):
        return _contains(value, node.value) != node.negated
    if node.op in ("==", "!="):
        return _is(value, node.value) == (node.op == "==")
    return any(_ordered(element, node.op, node.value) for element in _elements(value))


def _names(node: _Node) -> Iterator[str]:
    if isinstance(node, (_And, _Or)):
        for operand in node.operands:
            yield from _names(operand)
    elif isinstance(node, _Not):
        yield from _names(node.operand)
    else:
        yield node.name


# ---- printing --------------------------------------------------------------------------


def _name(name: str) -> str:
    bare = _IDENTIFIER.fullmatch(name) and not (name.isascii() and name.lower() in _KEYWORDS)
    if bare:
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _literal(value: Value) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def _show(node: _Node, context: int) -> str:
    """`node` as text; `context` is the precedence around it (0 top, 1 or, 2 and, 3 not)."""
    if isinstance(node, (_Or, _And)):
        level, word = (1, " or ") if isinstance(node, _Or) else (2, " and ")
        text = word.join(_show(operand, level) for operand in node.operands)
        return f"({text})" if context > level else text
    if isinstance(node, _Not):
        return "not " + _show(node.operand, 3)
    name = _name(node.name)
    if isinstance(node, _Exists):
        return f"{name} {'exists' if node.present else 'missing'}"
    if isinstance(node, _In):
        listed = ", ".join(_literal(value) for value in node.values)
        return f"{name} {'not ' if node.negated else ''}in [{listed}]"
    if isinstance(node, _Contains):
        return f"{name} {'not ' if node.negated else ''}contains {_literal(node.value)}"
    return f"{name} {node.op} {_literal(node.value)}"
