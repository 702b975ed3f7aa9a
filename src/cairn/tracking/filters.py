"""The run-search language: filter expressions and order-by items, compiled to SQLAlchemy.

A filter such as ``metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'risk'`` is parsed
by a LALR grammar (lark) straight into a boolean clause over ``schema.runs``; every value the
user typed becomes a bound parameter, never SQL text, so no input can change the statement.

Fields:
    ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` (also ``metric.``, ``param.``, ``tag.``)
    and the run attributes ``attributes.<name>`` or bare ``<name>``: run_id, name, status,
    start_time, end_time, creator (or user), experiment_id, parent_id, git_commit, source.
    A key holding dots, spaces or dashes is quoted: ``metrics.`val.auc```, ``params."lr-max"``.
    A double-quoted text right after a dot is a key; anywhere else it is a string literal.

Operators: ``= == != <> < <= > >=``, ``like``, ``ilike``, ``not like``, ``not ilike``,
``in (…)``, ``not in (…)``, ``is null``, ``is not null``, combined with ``not`` > ``and`` >
``or`` and parentheses. Keywords are case-insensitive; keys and values are not.

Semantics, chosen to be the same on SQLite and PostgreSQL:

- A comparison on a metric, param or tag holds only for runs that have the key: ``!=`` and
  ``not in`` do not match runs without it (``not (params.x = 'a')`` does). ``is null`` means
  "has no such key", ``is not null`` "has it". Likewise an attribute that is NULL (a run
  without a name) matches no comparison; ``is null`` finds it.
- Metrics compare with numbers only. A metric stored as NULL is NaN: every comparison on it is
  false, ``!=`` included (SQL semantics), yet the run has the key.
- Params and tags are strings. ``=``, ``!=`` and ``in`` against a number compare with the
  number's text as typed (``params.lr = 0.1`` matches ``'0.1'``, not ``'0.10'``). ``<``, ``<=``,
  ``>``, ``>=`` against a number compare numerically, on values that look like a number only
  (``'abc'`` or ``'2024-01-01'`` never match); against a string they compare as text, in the
  database's collation.
- ``like`` is case-sensitive on both backends (SQLite: GLOB), ``ilike`` compares lower-cased
  sides; ``%`` and ``_`` are wildcards and a backslash makes the next character literal.
- ``start_time`` and ``end_time`` take milliseconds since the epoch or an ISO-8601 date or
  date-time (``'2026-11-01'``, ``'2026-11-01T12:00:00Z'``); a time without offset is UTC.
- ``status`` values are checked against running, finished, failed, killed (any case).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, UnexpectedToken
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    FromClause,
    Numeric,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from cairn.errors import FilterSyntaxError
from cairn.store import schema
from cairn.tracking.entities import RunStatus

__all__ = ["ATTRIBUTES", "RUN_STATUSES", "apply_order_by", "compile_filter"]

RUN_STATUSES = tuple(str(status) for status in RunStatus)

# Attribute name in the language -> column of schema.runs.
ATTRIBUTES: dict[str, str] = {
    "run_id": "id",
    "name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "creator": "creator",
    "user": "creator",
    "experiment_id": "experiment_id",
    "parent_id": "parent_id",
    "git_commit": "git_commit",
    "source": "source",
}
_TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
_NOT_NULL_COLUMNS = frozenset(c.name for c in schema.runs.columns if not c.nullable)

# Namespace as typed (lower-cased) -> kind of field.
_NAMESPACES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
}
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "like", "ilike"})
_KEYED_TABLES = {"metric": schema.latest_metrics, "param": schema.params, "tag": schema.tags}
_FIELD_HELP = (
    "metrics.<key>, params.<key>, tags.<key> or an attribute ("
    + ", ".join(sorted(ATTRIBUTES))
    + ")"
)

_GRAMMAR = r"""
?filter: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr                        -> negation
         | _LPAR or_expr _RPAR
         | predicate

?predicate: field COMP_OP value                 -> compare
          | field LIKE value                    -> like
          | field _NOT LIKE value               -> not_like
          | field _IN _LPAR values _RPAR        -> in_list
          | field _NOT _IN _LPAR values _RPAR   -> not_in_list
          | field _IS _NULL                     -> is_null
          | field _IS _NOT _NULL                -> is_not_null

values: value (_COMMA value)*
?value: NUMBER | SQ_STRING | DQ_STRING

field: NAME _DOT key                            -> prefixed_field
     | NAME                                     -> bare_field
?key: KEY | BQ_KEY | DQ_STRING

order_item: field NAME?

// Keywords outrank NAME and end at a word boundary, so "notes" stays a name.
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_IS.2: /is\b/i
_NULL.2: /null\b/i
LIKE.2: /i?like\b/i

COMP_OP: /==|!=|<>|<=|>=|=|<|>/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
KEY: /[A-Za-z0-9_]+/
BQ_KEY: /`[^`]*`/
NUMBER: /[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/
SQ_STRING: /'(?:[^'\\]|\\.)*'/s
DQ_STRING: /"(?:[^"\\]|\\.)*"/s
_DOT: "."
_LPAR: "("
_RPAR: ")"
_COMMA: ","

%ignore /\s+/
"""


# -- custom SQL constructs, compiled per dialect ------------------------------------------------


class _looks_numeric(FunctionElement[bool]):  # noqa: N801 - SQL function naming
    """True when a text value is a plain decimal number, so that reading it as one is exact.

    PostgreSQL tests the shape ``[-+]?(digits[.digits]|.digits)([eE][-+]?digits)?`` with a
    regex, because its CAST raises on 'abc'. SQLite has no regex and casts leniently ('abc' is
    0, '2024-01-01' is 2024), but comparing a text column with its CAST applies SQLite's numeric
    affinity, which converts well-formed numbers only: ``v = CAST(v AS REAL)`` holds for them
    alone. A GLOB keeps out the spaces that SQLite would tolerate and the regex would not.
    """

    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True
    name = "looks_numeric"


class _as_number(FunctionElement[Any]):  # noqa: N801 - SQL function naming
    """A text value read as a number: NUMERIC on PostgreSQL (no overflow at '1e999'), REAL else."""

    type = Numeric()
    inherit_cache = True
    name = "as_number"


# Exponents stay within what PostgreSQL's NUMERIC holds, so the guarded CAST cannot raise.
_NUMBER_REGEX = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,4})?$"


@compiles(_looks_numeric, "postgresql")
def _looks_numeric_pg(element: _looks_numeric, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses.clauses
    return compiler.process(value.regexp_match(_NUMBER_REGEX), **kw)


@compiles(_looks_numeric)
def _looks_numeric_sqlite(element: _looks_numeric, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses.clauses
    check = and_(
        not_(value.bool_op("GLOB")(literal("*[^0-9.eE+-]*"))),
        value == cast(value, Float),
    )
    return f"({compiler.process(check, **kw)})"


@compiles(_as_number, "postgresql")
def _as_number_pg(element: _as_number, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses.clauses
    return compiler.process(cast(value, Numeric), **kw)


@compiles(_as_number)
def _as_number_sqlite(element: _as_number, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses.clauses
    return compiler.process(cast(value, Float), **kw)


class _like(FunctionElement[bool]):  # noqa: N801 - SQL function naming
    """Case-sensitive LIKE on every backend: ``(value, like_pattern, glob_pattern)``.

    SQLite's LIKE ignores ASCII case, so there the same pattern is matched with GLOB; both
    patterns are rendered from one parsed pattern, so they mean the same thing.
    """

    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True
    name = "cairn_like"


@compiles(_like)
def _like_default(element: _like, compiler: Any, **kw: Any) -> str:
    value, like_pattern, _glob_pattern = element.clauses.clauses
    sql = compiler.process(value.like(like_pattern, escape="\\"), **kw)
    return f"({sql})"


@compiles(_like, "sqlite")
def _like_sqlite(element: _like, compiler: Any, **kw: Any) -> str:
    value, _like_pattern, glob_pattern = element.clauses.clauses
    sql = compiler.process(value.bool_op("GLOB")(glob_pattern), **kw)
    return f"({sql})"


def _like_patterns(pattern: str) -> tuple[str, str]:
    """The LIKE (escape ``\\``) and GLOB forms of a user's LIKE pattern."""
    like: list[str] = []
    glob: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "%":
            like.append("%")
            glob.append("*")
            continue
        if char == "_":
            like.append("_")
            glob.append("?")
            continue
        if char == "\\":
            char = next(chars, "\\")  # a trailing backslash stands for itself
        like.append("\\" + char if char in "%_\\" else char)
        glob.append(f"[{char}]" if char in "*?[" else char)
    return "".join(like), "".join(glob)


# -- parse tree -> SQL ---------------------------------------------------------------------------


class _Problem(Exception):
    """A meaningful error at a token, turned into a FilterSyntaxError by the caller."""

    def __init__(self, message: str, token: Token) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


@dataclass(frozen=True, slots=True)
class _Field:
    kind: str  # "metric", "param", "tag" or "attribute"
    name: str  # the key, or the attribute's name in the language
    label: str  # as the user should read it, e.g. "metrics.auc"
    token: Token


@dataclass(frozen=True, slots=True)
class _Literal:
    value: str | int | float  # decoded string, or the number
    text: str  # the string, or the number as typed
    is_number: bool
    token: Token

    def shown(self) -> str:
        return self.text if self.is_number else repr(self.text)

    def pattern(self) -> str:
        """The string as a LIKE pattern: ``\\%``, ``\\_`` and ``\\\\`` stay escapes."""
        return _unquote(self.token, like=True)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unquote(token: Token, *, like: bool = False) -> str:
    """The text inside quotes, with ``\\n``, ``\\t`` and ``\\<char>`` escapes decoded.

    With ``like`` an escaped wildcard or backslash keeps its backslash, so that the LIKE
    pattern still reads it as a literal character.
    """
    body = token.value[1:-1]
    if token.type == "BQ_KEY" or "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        char = match.group(1)
        if like and char in "%_\\":
            return match.group(0)
        return _ESCAPES.get(char, char)

    return _ESCAPE_RE.sub(replace, body)


def _literal(token: Token) -> _Literal:
    if token.type == "NUMBER":
        text = token.value
        number: int | float
        try:
            number = int(text)
        except ValueError:
            number = float(text)
        return _Literal(number, text, True, token)
    text = _unquote(token)
    return _Literal(text, text, False, token)


class _ToSql(Transformer):
    """Builds SQL while the LALR parser reduces; stateless, so one instance serves all threads."""

    def prefixed_field(self, children: list[Token]) -> _Field:
        namespace, key = children
        kind = _NAMESPACES.get(namespace.value.lower())
        if kind is None:
            raise _Problem(
                f"unknown field namespace {namespace.value!r}; "
                "use metrics., params., tags. or attributes.",
                namespace,
            )
        name = key.value if key.type == "KEY" else _unquote(key)
        if kind == "attribute":
            return self._attribute(name, namespace, f"{namespace.value}.{key.value}")
        if not name:
            raise _Problem(f"{namespace.value}. needs a key, got an empty one", key)
        return _Field(kind, name, f"{namespace.value}.{key.value}", namespace)

    def bare_field(self, children: list[Token]) -> _Field:
        (name,) = children
        return self._attribute(name.value, name, name.value)

    @staticmethod
    def _attribute(name: str, token: Token, label: str) -> _Field:
        lowered = name.lower()
        if lowered in _KEYWORDS:
            raise _Problem(f"expected a field ({_FIELD_HELP}), found the keyword {name!r}", token)
        if lowered not in ATTRIBUTES:
            if lowered in _NAMESPACES:
                raise _Problem(f"{name!r} needs a key after a dot, e.g. {name}.<key>", token)
            raise _Problem(
                f"unknown attribute {name!r}; valid fields are {_FIELD_HELP}",
                token,
            )
        return _Field("attribute", lowered, label, token)

    def values(self, children: list[Token]) -> list[_Literal]:
        return [_literal(token) for token in children]

    def compare(self, children: list[Any]) -> ColumnElement[bool]:
        field, op, value = children
        return _predicate(field, _OPERATORS[op.value], [_literal(value)], op)

    def like(self, children: list[Any]) -> ColumnElement[bool]:
        field, op, value = children
        return _predicate(field, op.value.lower(), [_literal(value)], op)

    def not_like(self, children: list[Any]) -> ColumnElement[bool]:
        field, op, value = children
        return not_(_predicate(field, op.value.lower(), [_literal(value)], op))

    def in_list(self, children: list[Any]) -> ColumnElement[bool]:
        field, values = children
        return _predicate(field, "in", values, field.token)

    def not_in_list(self, children: list[Any]) -> ColumnElement[bool]:
        field, values = children
        return _predicate(field, "not in", values, field.token)

    def is_null(self, children: list[Any]) -> ColumnElement[bool]:
        return _predicate(children[0], "is null", [], children[0].token)

    def is_not_null(self, children: list[Any]) -> ColumnElement[bool]:
        return _predicate(children[0], "is not null", [], children[0].token)

    def negation(self, children: list[Any]) -> ColumnElement[bool]:
        return not_(children[0])

    def and_expr(self, children: list[Any]) -> ColumnElement[bool]:
        return and_(*children)

    def or_expr(self, children: list[Any]) -> ColumnElement[bool]:
        return or_(*children)

    def order_item(self, children: list[Any]) -> tuple[_Field, bool]:
        field, direction = children[0], children[1] if len(children) > 1 else None
        if direction is None or direction.value.lower() == "asc":
            return field, False
        if direction.value.lower() == "desc":
            return field, True
        raise _Problem(f"unknown direction {direction.value!r}; use asc or desc", direction)


_OPERATORS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_ORDERING = frozenset({"<", "<=", ">", ">="})


_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _apply(op: str, column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return _COMPARE[op](column, value)


def _predicate(
    field: _Field, op: str, literals: list[_Literal], op_token: Token
) -> ColumnElement[bool]:
    """The SQL for ``field op literals``; checks that the operator and values suit the field."""
    if field.kind == "attribute":
        column = schema.runs.c[ATTRIBUTES[field.name]]
        if op == "is null":
            return column.is_(None)
        if op == "is not null":
            return column.is_not(None)
        if field.name in _TIME_ATTRIBUTES:
            return _time_condition(field, op, literals, column, op_token)
        if field.name == "status":
            return _status_condition(field, op, literals, column, op_token)
        return _text_condition(field, op, literals, column, op_token)

    # An uncorrelated ``runs.id IN (SELECT run_id ... WHERE key = ? AND value ...)``: the
    # database answers it from the (key, value) index once, instead of probing per run.
    table = _KEYED_TABLES[field.kind]
    keyed = select(table.c.run_id).where(table.c.key == field.name)
    if op == "is null":
        return schema.runs.c.id.not_in(keyed)
    if op == "is not null":
        return schema.runs.c.id.in_(keyed)
    if field.kind == "metric":
        condition = _metric_condition(field, op, literals, table.c.value, op_token)
    else:
        condition = _text_condition(field, op, literals, table.c.value, op_token)
    return schema.runs.c.id.in_(keyed.where(condition))


def _metric_condition(
    field: _Field, op: str, literals: list[_Literal], column: ColumnElement[Any], op_token: Token
) -> ColumnElement[bool]:
    if op in ("like", "ilike"):
        raise _Problem(f"{field.label} is a number: {op} does not apply to it", op_token)
    for lit in literals:
        if not lit.is_number:
            raise _Problem(
                f"{field.label} compares with numbers only, not the string {lit.text!r}",
                lit.token,
            )
    numbers = [float(lit.value) for lit in literals]
    if op == "in":
        return column.in_(numbers)
    if op == "not in":
        return column.not_in(numbers)
    return _apply(op, column, numbers[0])


def _text_condition(
    field: _Field, op: str, literals: list[_Literal], column: ColumnElement[Any], op_token: Token
) -> ColumnElement[bool]:
    """Conditions on a text value (params, tags, text attributes)."""
    if op in ("like", "ilike"):
        (lit,) = literals
        if lit.is_number:
            raise _Problem(f"{op} takes a quoted pattern, got {lit.text}", lit.token)
        like_pattern, glob_pattern = _like_patterns(lit.pattern())
        if op == "like":
            return _like(column, literal(like_pattern), literal(glob_pattern))
        return func.lower(column).like(func.lower(literal(like_pattern)), escape="\\")
    if op == "in":
        return column.in_([lit.text for lit in literals])
    if op == "not in":
        return column.not_in([lit.text for lit in literals])
    (lit,) = literals
    if op in _ORDERING and lit.is_number:
        number = case((_looks_numeric(column), _as_number(column)), else_=null())
        return _apply(op, number, literal(Decimal(lit.text), Numeric()))
    return _apply(op, column, lit.text)


def _status_condition(
    field: _Field, op: str, literals: list[_Literal], column: ColumnElement[Any], op_token: Token
) -> ColumnElement[bool]:
    if op in _ORDERING:
        raise _Problem(
            f"{field.label} takes =, !=, in, not in, like or ilike, not {op_token.value}",
            op_token,
        )
    if op in ("like", "ilike"):  # stored lower-case, so a pattern in any case finds them
        (lit,) = literals
        lowered = Token.new_borrow_pos(lit.token.type, lit.token.value.lower(), lit.token)
        return _text_condition(field, op, [_literal(lowered)], column, op_token)
    checked = []
    for lit in literals:
        status = lit.text.lower()
        if lit.is_number or status not in RUN_STATUSES:
            raise _Problem(
                f"{field.label}={lit.shown()} is not a run status; "
                f"use one of {', '.join(RUN_STATUSES)}",
                lit.token,
            )
        checked.append(_Literal(status, status, False, lit.token))
    return _text_condition(field, op, checked, column, op_token)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time_value(field: _Field, lit: _Literal) -> ColumnElement[Any] | int:
    if lit.is_number:
        if isinstance(lit.value, int) or float(lit.value).is_integer():
            return int(lit.value)
        return literal(float(lit.value), Float())  # not rounded by a bind cast to BIGINT
    try:
        moment = datetime.fromisoformat(lit.text)
    except ValueError:
        raise _Problem(
            f"{field.label}={lit.text!r} is not a time: expected milliseconds since the epoch "
            "or an ISO-8601 date or date-time such as '2026-11-01' or '2026-11-01T12:00:00Z'",
            lit.token,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _time_condition(
    field: _Field, op: str, literals: list[_Literal], column: ColumnElement[Any], op_token: Token
) -> ColumnElement[bool]:
    if op in ("like", "ilike"):
        raise _Problem(f"{field.label} is a time: {op} does not apply to it", op_token)
    values = [_time_value(field, lit) for lit in literals]
    if op == "in":
        return column.in_(values)
    if op == "not in":
        return column.not_in(values)
    return _apply(op, column, values[0])


# -- parser and error messages -------------------------------------------------------------------


@functools.cache
def _parser() -> Lark:
    """The LALR parser, built once per process on first use (about 30 ms)."""
    return Lark(
        _GRAMMAR,
        parser="lalr",
        start=["filter", "order_item"],
        transformer=_ToSql(),
        maybe_placeholders=False,
    )


@functools.cache
def _plain_parser() -> Lark:
    """The same grammar without actions, used on errors only: to say what could come next."""
    return Lark(_GRAMMAR, parser="lalr", start=["filter", "order_item"])


def _acceptable(text: str, start: str) -> set[str]:
    """The terminals the grammar would take where ``text`` first goes wrong.

    Taken from the parser state before the offending token is fed, since feeding it can first
    reduce (``(a > 1`` then the end: after reducing, only ')' is left, though 'and' was fine).
    """
    interactive = _plain_parser().parse_interactive(text, start=start)
    before_token, token = interactive.copy(), None
    try:
        for token in interactive.iter_parse():  # noqa: B007 - the loop tracks the last token
            before_token = interactive.copy()
        before_token = interactive.copy()
        token = None
        interactive.feed_eof()
    except UnexpectedToken as error:
        if error.token is token or error.token.type == "$END":
            return set(before_token.accepts())
        return set(interactive.accepts())
    except UnexpectedInput:
        return set(interactive.accepts())
    return set()  # pragma: no cover - called only for text that failed to parse


_COMPARISON = (
    "a comparison operator (=, !=, <, <=, >, >=, like, ilike, in, not in, is null, is not null)"
)
_PUNCTUATION = (("_LPAR", "'('"), ("_COMMA", "','"), ("_AND", "'and'"), ("_OR", "'or'"))


def _expected_words(expected: set[str], start: str, namespace: str | None) -> str:
    """What the parser wanted, in plain words."""
    end = "the end of the expression" if start == "filter" else "the end of the item"
    if namespace is not None and "_DOT" in expected:
        return f"'.' and a key after {namespace!r}"
    if start == "order_item" and "$END" in expected and "NAME" in expected:
        return f"asc, desc or {end}"
    words: list[str] = []
    if "NAME" in expected:
        words.append(f"a field ({_FIELD_HELP})")
    if "_NOT" in expected and "NAME" in expected:
        words.append("'not'")
    if "KEY" in expected:
        words.append("a key (in backticks or double quotes if it holds dots, spaces or dashes)")
    if "COMP_OP" in expected or "_IS" in expected:
        words.append(_COMPARISON)
    elif "_NULL" in expected:
        words.append("null or not null" if "_NOT" in expected else "null")
    if "NUMBER" in expected:
        words.append("a value (a number or a quoted string)")
    words.extend(word for name, word in _PUNCTUATION if name in expected)
    if "_RPAR" in expected:
        words.append("')'")
    if "$END" in expected:
        words.append(end)
    if not words:  # pragma: no cover - every terminal of the grammar is named above
        words = sorted(expected)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _fail(text: str, start: str, field: str, message: str, pos: int) -> NoReturn:
    """Raise a FilterSyntaxError quoting ``text``, with a caret under offset ``pos``."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    shown = text[line_start : len(text) if line_end < 0 else line_end].replace("\t", " ")
    column = pos - line_start + 1
    where = f"column {column}"
    if "\n" in text:
        where = f"line {text.count(chr(10), 0, pos) + 1}, {where}"
    what = "filter" if start == "filter" else "order_by item"
    raise FilterSyntaxError(
        f"invalid {what} {text!r} at {where}: {message}\n  {shown}\n  {' ' * (column - 1)}^",
        field=field,
        value=text,
    )


_WORD_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")
_KEY_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*\.\s*[A-Za-z0-9_]+$")
_UNTERMINATED = {
    "'": "an unterminated quoted string",
    '"': "an unterminated quoted string",
    "`": "an unterminated backtick-quoted key",
}


def _parse(text: str, start: str, field: str) -> Any:
    try:
        return _parser().parse(text, start=start)
    except _Problem as problem:
        _fail(text, start, field, problem.message, problem.token.start_pos or 0)
    except UnexpectedInput as error:
        pos, message = _describe(error, text, start)
        _fail(text, start, field, message, pos)


def _describe(error: UnexpectedInput, text: str, start: str) -> tuple[int, str]:
    """Where a syntax error is and what to say about it."""
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        pos, found = len(text.rstrip()), "the end"
    elif isinstance(error, UnexpectedToken):
        pos, found = error.token.start_pos or 0, repr(error.token.value)
    else:
        pos = error.pos_in_stream or 0
        found = _UNTERMINATED.get(text[pos], f"the character {text[pos]!r}")
    before = text[:pos]
    word = _WORD_BEFORE.search(before)
    namespace = None
    if (
        word
        and word.group(1).lower() in _NAMESPACES
        and not before[: word.start()].rstrip().endswith(".")
    ):
        namespace = word.group(1)
    message = (
        f"expected {_expected_words(_acceptable(text, start), start, namespace)}, found {found}"
    )
    if _KEY_BEFORE.search(before) and re.match(r"[-./:@A-Za-z_]", text[pos : pos + 1]):
        message += "; a key that holds dots, spaces or dashes goes in backticks: metrics.`val.auc`"
    return pos, message


# -- public API ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _compile_filter(text: str) -> ColumnElement[bool]:
    return _parse(text, "filter", "filter")


def compile_filter(text: str | None) -> ColumnElement[bool] | None:
    """A boolean clause over ``schema.runs`` for the filter ``text``; None when it is empty.

    Metrics, params and tags are matched with IN subqueries on
    ``latest_metrics``, ``params`` and ``tags`` keyed by ``runs.id``. Each text is parsed once
    and its clause cached (clauses are immutable, so sharing them is safe). Raises
    :class:`~cairn.errors.FilterSyntaxError` (``field="filter"``) pointing at the bad token.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise FilterSyntaxError(
            f"filter={text!r} is invalid: expected a string", field="filter", value=repr(text)
        )
    return _compile_filter(text) if text.strip() else None


@functools.lru_cache(maxsize=512)
def _order_item(text: str) -> tuple[_Field, bool]:
    if not text.strip():
        raise FilterSyntaxError(
            "order_by holds an empty item: expected a field, optionally followed by asc or desc",
            field="order_by",
            value=text,
        )
    return _parse(text, "order_item", "order_by")


_DEFAULT_ORDER = (
    _Field("attribute", "start_time", "start_time", Token("NAME", "start_time")),
    True,
)


def apply_order_by(stmt: Select[Any], order_by: Sequence[str] | None) -> Select[Any]:
    """``stmt`` (a select over ``schema.runs``) ordered by the items of ``order_by``.

    An item is a field with an optional ``asc`` (the default) or ``desc``: ``"metrics.auc desc"``,
    ``"params.model"``, ``"start_time asc"``, ``"name"``. Metrics, params and tags are joined
    with LEFT OUTER JOINs on their key; runs without a value (and NaN metrics) sort last in both
    directions. ``runs.id`` always ends the order, in the direction of the last item, so pages
    are stable; with no items the order is ``start_time desc, id desc``.
    """
    if isinstance(order_by, str):
        order_by = [order_by]
    items = [
        _order_item(item) if isinstance(item, str) else _bad_item(item) for item in order_by or ()
    ]
    if not items:
        items = [_DEFAULT_ORDER]
    runs = schema.runs
    terms: list[ColumnElement[Any]] = []
    for field, descending in items:
        if field.kind == "attribute":
            column: ColumnElement[Any] = runs.c[ATTRIBUTES[field.name]]
            nullable = column.name not in _NOT_NULL_COLUMNS
        else:
            table: FromClause = _KEYED_TABLES[field.kind].alias()
            on = and_(table.c.run_id == runs.c.id, table.c.key == field.name)
            stmt = stmt.outerjoin_from(runs, table, on)
            column, nullable = table.c.value, True
        if nullable:
            terms.append(column.is_(None))  # false sorts first: values, then missing ones
        terms.append(column.desc() if descending else column.asc())
    last_descending = items[-1][1]
    terms.append(runs.c.id.desc() if last_descending else runs.c.id.asc())
    return stmt.order_by(*terms)


def _bad_item(item: object) -> NoReturn:
    raise FilterSyntaxError(
        f"order_by item {item!r} is invalid: expected a string such as 'metrics.auc desc'",
        field="order_by",
        value=repr(item),
    )
