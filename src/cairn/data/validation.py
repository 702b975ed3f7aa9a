"""Data validation: a ``Schema`` of rules per column, inferred from data, kept as YAML.

``infer_schema`` reads the rules off a version's stored profile (or a DataFrame's): each
column's type and nullability, its range, its allowed values and whether it is unique.
``Schema.to_yaml`` writes them for people to edit; ``validate`` translates the schema into a
pandera ``DataFrameSchema``, runs it lazily (every failure, not only the first), and turns
pandera's failure cases into a ``ValidationReport`` of violations (column, rule, count,
examples). A column the schema lists but the data lacks is a violation, and so is, unless
``strict: false``, a column the data has but the schema does not list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cairn.artifacts.base import create_temp
from cairn.data.entities import TOP_K, ColumnProfile, ColumnSchema, DatasetVersion, Kind
from cairn.errors import InvalidInput, NotFound

#: A column is inferred unique only with at least this many rows: fewer may be so by chance.
UNIQUE_MIN_ROWS = 50
#: Examples of failing values a violation keeps.
MAX_EXAMPLES = 5
_RULE_KEYS = ("type", "nullable", "unique", "min", "max", "allowed")
_SCHEMA_KEYS = ("strict", "columns")
_VALUE_RULES = ("min", "max", "allowed")
_HEADER = """\
# cairn data schema: the rules `cairn data validate DATA --schema FILE` checks.
# Each column has a type (a pandas dtype: int64, float64, bool, str, category, datetime64[ns],
# ...) and nullable (may it hold missing values). Optional: min and max (numbers), allowed (the
# only values it may hold) and unique (no value twice). Delete a rule to stop checking it.
# A listed column the data lacks is a violation; with strict: true, so is an unlisted one.
"""


@dataclass(frozen=True)
class ColumnRule:
    """What one column must satisfy; None (or False for ``unique``) means: not checked."""

    type: str | None = None
    nullable: bool = True
    unique: bool = False
    min: int | float | None = None
    max: int | float | None = None
    allowed: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Type and nullability always; the other rules when set."""
        data: dict[str, Any] = {"type": self.type, "nullable": self.nullable}
        if self.unique:
            data["unique"] = True
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.allowed is not None:
            data["allowed"] = list(self.allowed)
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ColumnRule:
        """From a mapping read from YAML; InvalidInput names the bad key (``where.key``)."""
        _check_keys(data, where, _RULE_KEYS)
        checks = {
            "type": (lambda v: v is None or isinstance(v, str), "a pandas dtype such as int64"),
            "nullable": (lambda v: isinstance(v, bool), "true or false"),
            "unique": (lambda v: isinstance(v, bool), "true or false"),
            "min": (lambda v: v is None or _is_number(v), "a number"),
            "max": (lambda v: v is None or _is_number(v), "a number"),
            "allowed": (lambda v: v is None or isinstance(v, list), "a list of values"),
        }
        for key, value in data.items():
            accepts, expected = checks[key]
            if not accepts(value):
                raise InvalidInput.for_field(f"{where}.{key}", value, expected)
        allowed = data.get("allowed")
        return cls(
            type=data.get("type"),
            nullable=data.get("nullable", True),
            unique=data.get("unique", False),
            min=data.get("min"),
            max=data.get("max"),
            allowed=None if allowed is None else tuple(allowed),
        )


@dataclass(frozen=True)
class Schema:
    """Rules per column, in order; ``strict``: columns not listed are violations."""

    columns: dict[str, ColumnRule] = field(default_factory=dict)
    strict: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "strict": self.strict,
            "columns": {name: rule.to_dict() for name, rule in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "schema") -> Schema:
        _check_keys(data, where, _SCHEMA_KEYS)
        strict = data.get("strict", True)
        if not isinstance(strict, bool):
            raise InvalidInput.for_field(f"{where}.strict", strict, "true or false")
        columns = data.get("columns") or {}
        if not isinstance(columns, dict):
            raise InvalidInput.for_field(f"{where}.columns", columns, "a mapping of column rules")
        return cls(
            {
                str(name): ColumnRule.from_dict(rule or {}, f"{where}.columns.{name}")
                for name, rule in columns.items()
            },
            strict,
        )

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The schema as commented YAML, one block per column; also written to ``path``."""
        text = _HEADER + yaml.dump(
            _flow_lists(self.to_dict()),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        if path is not None:
            _write_atomic(Path(path), text)
        return text

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Schema:
        """The schema in the YAML file at ``path``; InvalidInput names what is wrong."""
        source = Path(path)
        try:
            text = source.read_text()
        except FileNotFoundError:
            raise NotFound.for_field("schema file", str(source)) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(
                f"schema file {str(source)!r} is not valid YAML: {exc}",
                field="schema",
                value=str(source),
            ) from exc
        return cls.from_dict(data, where=source.name)

    def to_pandera(self, coerce: bool = False) -> Any:
        """The pandera ``DataFrameSchema`` that checks these rules (``coerce``: cast first)."""
        return _translate(self, coerce)[0]


@dataclass(frozen=True)
class Violation:
    """Rows of ``column`` breaking ``rule`` (type, nullable, unique, min, max, allowed), or the
    column itself ``missing`` or ``unexpected``. ``count`` is the number of rows, 1 for a rule
    about the whole column."""

    column: str
    rule: str
    count: int
    examples: tuple[Any, ...]
    expected: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "rule": self.rule,
            "count": self.count,
            "examples": list(self.examples),
            "expected": self.expected,
        }

    def __str__(self) -> str:
        if self.rule in ("missing", "unexpected"):
            return f"{self.column}: {self.rule} column ({self.expected})"
        examples = ", ".join(repr(e) for e in self.examples)
        rows = "row breaks" if self.count == 1 else "rows break"
        text = f"{self.column}: {self.count:,} {rows} {self.rule} (expected {self.expected})"
        return f"{text}, e.g. {examples}" if examples else text


@dataclass(frozen=True)
class ValidationReport:
    """Every violation of a schema by some data; ``ok`` when there is none."""

    violations: tuple[Violation, ...]
    row_count: int
    column_count: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "row_count": self.row_count,
            "column_count": self.column_count,
            "violations": [v.to_dict() for v in self.violations],
        }

    def __str__(self) -> str:
        shape = f"{self.row_count:,} rows, {self.column_count} columns"
        if self.ok:
            return f"valid: {shape}"
        count = len(self.violations)
        lines = [f"invalid: {count} violation{'s' if count > 1 else ''} in {shape}"]
        return "\n".join([*lines, *(f"  - {v}" for v in self.violations)])


# --- inferring --------------------------------------------------------------------------------


def infer_schema(data: Any) -> Schema:
    """Rules that ``data`` (a table version or its reference, a DataFrame or Arrow table)
    satisfies: its types and nullability, numeric ranges, allowed values of categorical and
    few-valued text columns, and uniqueness of integer and text columns without repeats."""
    from cairn.data import content

    if content.is_table(data):
        from cairn.data.profile import profile_table

        table = content.as_arrow(data)
        profile = profile_table(table, content.data_columns(table))
        schema = content.table_schema(content.pandas_dtypes(table), profile)
    else:
        version = _table_version(data)
        schema, profile = version.schema, version.profile
    return Schema({name: _infer_rule(schema[name], profile[name]) for name in schema})


def _few_values(distinct: int | None, present: int) -> bool:
    """Whether a text column holds few enough values, each often enough, to list them all."""
    return distinct is not None and distinct <= TOP_K and 2 * distinct <= present


def _infer_rule(column: ColumnSchema, profile: ColumnProfile) -> ColumnRule:
    present = profile.count - profile.null_count
    allowed = None
    if profile.categories is not None:
        allowed = profile.categories
    elif profile.kind == "string" and _few_values(profile.distinct_count, present):
        allowed = tuple(value for value, _ in profile.top)
    integer = profile.kind == "numeric" and profile.type.startswith(("int", "uint"))
    integer_or_text = integer or profile.kind == "string"
    unique = (
        integer_or_text
        and profile.null_count == 0
        and profile.count >= UNIQUE_MIN_ROWS
        and profile.distinct_count == profile.count
    )
    numeric = profile.kind == "numeric"
    return ColumnRule(
        type=column.dtype,
        nullable=column.nullable,
        unique=bool(unique),
        min=profile.min if numeric else None,
        max=profile.max if numeric else None,
        allowed=allowed,
    )


# --- validating -------------------------------------------------------------------------------


def validate(
    data: Any, schema: Schema | str | os.PathLike, *, coerce: bool = False
) -> ValidationReport:
    """Check ``data`` (DataFrame, Arrow table, table version or its reference) against
    ``schema`` (a Schema or the path of its YAML); every violation, not only the first.

    ``coerce`` casts columns to the schema's types first (for CSV, which has none); a value
    that cannot be cast is a ``type`` violation.
    """
    import pandas as pd
    import pandera.pandas as pa

    from cairn.data import content

    if not isinstance(schema, Schema):
        schema = Schema.from_yaml(schema)
    if isinstance(data, pd.DataFrame):
        frame = data
    elif content.is_table(data):
        frame = content.as_arrow(data).to_pandas()
    else:
        from cairn.data.versions import load

        frame = load(_table_version(data))
    checker, rules = _translate(schema, coerce)
    try:
        checker.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        violations = _violations(exc.failure_cases, schema, rules, frame)
    else:
        violations = ()
    return ValidationReport(violations, len(frame), len(frame.columns))


def _translate(schema: Schema, coerce: bool) -> tuple[Any, dict[str, list[str]]]:
    """The pandera schema, and for each column the rule each of its checks stands for."""
    import pandera.pandas as pa

    columns, rules = {}, {}
    for name, rule in schema.columns.items():
        checks, names = [], []
        if rule.min is not None:
            checks.append(pa.Check.ge(rule.min))
            names.append("min")
        if rule.max is not None:
            checks.append(pa.Check.le(rule.max))
            names.append("max")
        if rule.allowed is not None:
            checks.append(pa.Check.isin(list(rule.allowed)))
            names.append("allowed")
        try:
            columns[name] = pa.Column(
                rule.type, checks=checks, nullable=rule.nullable, unique=rule.unique, coerce=coerce
            )
        except TypeError as exc:
            raise InvalidInput.for_field(
                f"columns.{name}.type", rule.type, f"a pandas dtype such as int64 ({exc})"
            ) from exc
        rules[name] = names
    return pa.DataFrameSchema(columns, strict=schema.strict), rules


def _violations(
    failures: Any, schema: Schema, rules: dict[str, list[str]], frame: Any
) -> tuple[Violation, ...]:
    """pandera's failure cases (one row per failing value) as one violation per column and rule."""
    columns = failures["column"].where(failures["column"].notna(), failures["failure_case"])
    failures = failures.assign(
        column=columns.astype(str),
        rule=[
            _rule_of(str(check), number, column, rules)
            for check, number, column in zip(
                failures["check"], failures["check_number"], columns, strict=True
            )
        ],
    )
    mistyped = set(failures.loc[failures["rule"] == "type", "column"])
    violations = []
    for (column, rule), group in failures.groupby(["column", "rule"], sort=False):
        rows = group["index"].dropna()
        if rule in _VALUE_RULES and column in mistyped and rows.empty:
            continue  # a check that could not run on values of the wrong type
        examples = () if rule in ("missing", "unexpected") else _examples(group, frame)
        count = rows.nunique() if len(rows) else 1
        violations.append(
            Violation(column, rule, int(count), examples, _expected(schema, column, rule))
        )
    order = {name: i for i, name in enumerate(schema.columns)}
    return tuple(sorted(violations, key=lambda v: (order.get(v.column, len(order)), v.rule)))


def _rule_of(check: str, number: Any, column: str, rules: dict[str, list[str]]) -> str:
    """Our name for the rule a pandera check stands for."""
    if check == "column_in_dataframe":
        return "missing"
    if check == "column_in_schema":
        return "unexpected"
    if check.startswith(("dtype(", "coerce_dtype(")):
        return "type"
    if check == "not_nullable":
        return "nullable"
    if check == "field_uniqueness":
        return "unique"
    if number is not None and number == number and column in rules:
        return rules[column][int(number)]
    return check


def _expected(schema: Schema, column: str, rule: str) -> str:
    spec = schema.columns.get(column)
    if rule == "missing":
        return "a column of that name"
    if rule == "unexpected":
        return "only the columns the schema lists"
    if spec is None:
        return rule
    if rule == "type":
        return str(spec.type)
    if rule == "nullable":
        return "no missing values"
    if rule == "unique":
        return "no value twice"
    if rule == "min":
        return f">= {spec.min}"
    if rule == "max":
        return f"<= {spec.max}"
    if rule == "allowed":
        shown = ", ".join(map(str, (spec.allowed or ())[:8]))
        return f"one of {shown}{', ...' if len(spec.allowed or ()) > 8 else ''}"
    return rule


def _examples(group: Any, frame: Any) -> tuple[Any, ...]:
    """A few distinct failing values, as the data holds them (pandera may turn ints to floats)."""
    values = group["failure_case"].drop_duplicates().head(MAX_EXAMPLES)
    column = group["column"].iloc[0]
    integers = column in frame.columns and frame[column].dtype.kind in "iu"
    return tuple(
        int(v) if integers and isinstance(v, float) and v.is_integer() else _plain(v)
        for v in values
    )


def _plain(value: Any) -> Any:
    """A failing value as plain JSON-ready Python: None for missing, text for the exotic."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --- helpers ----------------------------------------------------------------------------------


def _table_version(ref: Any) -> DatasetVersion:
    from cairn.data.versions import get_version

    if not isinstance(ref, str | DatasetVersion):
        kind = type(ref).__qualname__
        raise InvalidInput(
            f"cannot read rules from an object of type {kind}: give a DataFrame, an Arrow "
            "table, or a table version or its reference",
            field="data",
            value=kind,
        )
    version = get_version(ref)
    if version.kind is not Kind.TABLE:
        raise InvalidInput.for_field("data", version.ref, f"a table version, not a {version.kind}")
    return version


def _check_keys(data: Any, where: str, known: tuple[str, ...]) -> None:
    if not isinstance(data, dict):
        raise InvalidInput.for_field(where, data, f"a mapping with keys {', '.join(known)}")
    for key in data:
        if key not in known:
            raise InvalidInput.for_field(
                f"{where}.{key}", data[key], f"one of the keys {', '.join(known)}"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Dumper(yaml.SafeDumper):
    """Block style, except short lists of allowed values; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _FlowList(list):
    pass


_Dumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _flow_lists(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _flow_lists(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return _FlowList(data)
    return data


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
