"""``cairn data``: snapshot, list, show, diff, infer a schema, validate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cairn import data
from cairn.cli.output import JSON_HELP, console, fmt_number, fmt_time, print_json, table
from cairn.errors import InvalidInput

app = typer.Typer(
    help="Data versions: snapshot, list, show, diff, schema, validate.", no_args_is_help=True
)

AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
_CHANGE = "before → after (change)"
_TABLE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@app.command("snapshot")
def snapshot_cmd(
    path: Path = typer.Argument(..., help="A file or folder."),
    name: str = typer.Option(..., "--name", "-n", help="The dataset it is a version of."),
    description: str = typer.Option(None, "--description", "-d"),
    as_table: bool = typer.Option(
        False, "--table", help="Read a .parquet or .csv file as a table (schema and profile)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Record a file or folder as the next version of a dataset (the same content: the same version)."""
    source = _read_table_file(path)[0] if as_table else path
    version = data.snapshot(source, name, description)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"{version.ref}  {version.kind}  {_fmt_size(version.size_bytes)}  {version.digest}"
    )


@app.command("list")
def list_cmd(
    name: str = typer.Argument(None, help="A dataset: list its versions."), as_json: bool = AS_JSON
) -> None:
    """List datasets, or the versions of one."""
    if name is None:
        found = data.list_datasets()
        if as_json:
            print_json([d.to_dict() for d in found])
            return
        t = table("datasets", ["name", "versions", "latest", "created", "creator", "description"])
        for d in found:
            t.add_row(
                d.name,
                str(d.version_count),
                f"@{d.latest_version}" if d.latest_version else "",
                fmt_time(d.created_at),
                d.creator,
                d.description or "",
            )
        console.print(t)
        if not found:
            console.print("no datasets", style="dim")
        return
    versions = data.list_versions(name)
    if as_json:
        print_json([_summary(v) for v in versions])
        return
    t = table(
        f"versions of {name}", ["version", "content", "size", "digest", "created", "description"]
    )
    t.columns[0].min_width = 7  # the reference and digest are what people copy: never cut
    t.columns[3].min_width = 12
    for v in versions:
        content = f"{v.row_count:,} × {v.column_count}" if v.row_count is not None else v.kind
        t.add_row(
            f"@{v.version}",
            str(content),
            _fmt_size(v.size_bytes),
            v.digest[:12],
            fmt_time(v.created_at)[5:16],
            v.description or "",
        )
    console.print(t)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="name@3, name@latest, name or a digest."),
    as_json: bool = AS_JSON,
) -> None:
    """Show a version: its record, its columns' profile (tables) or files, and the runs that read it."""
    service = data.data_service()
    version = service.get_version(ref)
    files = service.manifest(version)
    run_ids = service.runs_that_read(version)
    if as_json:
        print_json({**version.to_dict(), "files": files, "runs": run_ids})
        return
    info = table(f"dataset version {version.ref}", ["field", "value"])
    for field, value in [
        ("id", version.id),
        ("kind", str(version.kind)),
        ("digest", version.digest),
        ("rows", _fmt_count(version.row_count)),
        ("columns", _fmt_count(version.column_count)),
        ("size", _fmt_size(version.size_bytes)),
        ("created", fmt_time(version.created_at)),
        ("creator", version.creator),
        ("description", version.description or ""),
    ]:
        info.add_row(field, value)
    console.print(info)
    if version.profile:
        console.print(_profile_table(version))
    if files:
        t = table("files", ["path", "size", "sha256"])
        for path, entry in files.items():
            t.add_row(path, _fmt_size(entry["size"]), entry["digest"][:16])
        console.print(t)
    if run_ids:
        console.print("read by runs: " + ", ".join(run_id[:12] for run_id in run_ids))


@app.command("diff")
def diff_cmd(
    before: str = typer.Argument(..., help="The earlier version, e.g. credit@1."),
    after: str = typer.Argument(..., help="The later version, e.g. credit@2."),
    as_json: bool = AS_JSON,
) -> None:
    """What changed between two versions: schema, rows, column statistics, categories, files."""
    found = data.diff(before, after)
    if as_json:
        print_json(found.to_dict())
        return
    old, new = found.rows
    console.print(f"[bold]{found.before.ref} → {found.after.ref}[/]")
    if found.identical:
        console.print("identical content", style="green")
        return
    if old is not None or new is not None:
        console.print(f"rows: {_fmt_count(old)} → {_fmt_count(new)}")
    if found.schema:
        t = table("schema changes", ["column", "change", "before", "after"])
        for c in found.schema:
            t.add_row(c.column, c.change, _fmt_value(c.before), _fmt_value(c.after))
        console.print(t)
    if found.stats:
        t = table("statistics", ["column", _CHANGE], wrap=(_CHANGE,))
        for column, changes in _by_column(found.stats).items():
            t.add_row(column, "\n".join(_fmt_stat_change(c) for c in changes))
        console.print(t)
    if found.categories:
        t = table("shares of the commonest values", ["column", _CHANGE], wrap=(_CHANGE,))
        for column, changes in _by_column(found.categories).items():
            lines = [
                f"{c.value}  {_fmt_share(c.before) or '-'} → {_fmt_share(c.after) or '-'}"
                f"  ({100 * c.delta:+.1f} pts)"
                for c in changes
            ]
            t.add_row(column, "\n".join(lines))
        console.print(t)
    if found.files:
        t = table("files", ["path", "change", "size before", "size after"])
        for c in found.files:
            t.add_row(c.path, c.change, _fmt_size(c.before_size), _fmt_size(c.after_size))
        console.print(t)


@app.command("schema")
def schema_cmd(
    ref: str = typer.Argument(..., help="A table version: name@3, name@latest, name or a digest."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the YAML here (else print it)."),
) -> None:
    """Infer a validation schema (types, nullability, ranges, categories, uniqueness) as YAML."""
    text = data.infer_schema(ref).to_yaml(out)
    if out is None:
        print(text, end="")
    else:
        console.print(f"wrote {out}")


@app.command("validate")
def validate_cmd(
    source: str = typer.Argument(
        ..., metavar="DATA", help="A .parquet or .csv file, or a dataset version reference."
    ),
    schema: Path = typer.Option(..., "--schema", "-s", help="The schema YAML (cairn data schema)."),
    as_json: bool = AS_JSON,
) -> None:
    """Check data against a schema; every violation is listed, and the exit status is 1 if any."""
    if Path(source).is_file():
        content, coerce = _read_table_file(Path(source))
    else:
        content, coerce = _read_version(source)
    report = data.validate(content, schema, coerce=coerce)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        console.print(f"[green]{report}[/]")
    else:
        t = table(
            f"{len(report.violations)} violations in {report.row_count:,} rows",
            ["column", "rule", "rows", "expected", "examples"],
            wrap=("expected", "examples"),
        )
        for v in report.violations:
            examples = ", ".join(repr(e) for e in v.examples)
            t.add_row(v.column, v.rule, f"{v.count:,}", v.expected, examples)
        console.print(t)
    if not report.ok:
        raise SystemExit(1)  # not typer.Exit: the entry point runs click outside standalone mode


# --- helpers ----------------------------------------------------------------------------------


def _summary(version: data.DatasetVersion) -> dict[str, Any]:
    """A version's record without its per-column schema and profile."""
    return {k: v for k, v in version.to_dict().items() if k not in ("schema", "profile")}


def _read_table_file(path: Path) -> tuple[Any, bool]:
    """A .parquet or .csv file as a DataFrame, and whether its types must be coerced (CSV)."""
    import pandas as pd

    kind = _TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InvalidInput.for_field("data", str(path), "a .parquet or .csv file")
    if kind == "csv":
        return pd.read_csv(path), True
    return pd.read_parquet(path), False


def _read_version(ref: str) -> tuple[Any, bool]:
    """A version's data: a table, or the .parquet/.csv file a file version holds."""
    version = data.get_version(ref)
    if version.kind is data.Kind.TABLE:
        return version, False
    return _read_table_file(data.load(version))


def _profile_table(version: data.DatasetVersion) -> Any:
    t = table("columns", ["column", "type", "nulls", "distinct", "summary"], wrap=("summary",))
    for name, p in version.profile.items():
        t.add_row(
            name,
            version.schema[name].dtype if name in version.schema else p.type,
            f"{p.null_count:,}",
            _fmt_count(p.distinct_count),
            _summary_of(p),
        )
    return t


def _summary_of(p: data.ColumnProfile) -> str:
    """One line a person reads: the range and centre of numbers, the commonest values of others."""
    if p.kind == "numeric":
        parts = [("min", p.min), ("median", p.median), ("max", p.max), ("mean", p.mean)]
        return "  ".join(f"{label} {_fmt_value(value)}" for label, value in parts)
    if p.kind == "temporal" and p.min is not None:
        return f"{p.min[:19]} → {p.max[:19]}"
    present = p.count - p.null_count
    return "  ".join(f"{value} {count / present:.0%}" for value, count in p.top[:4] if present)


def _by_column(changes: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for change in changes:
        grouped.setdefault(change.column, []).append(change)
    return grouped


def _fmt_stat_change(change: data.StatChange) -> str:
    text = f"{change.stat}  {_fmt_value(change.before)} → {_fmt_value(change.after)}"
    if change.delta is None:
        return text
    return f"{text}  ({'+' if change.delta > 0 else ''}{_fmt_value(change.delta)})"


def _fmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:19]  # times: to the second
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return fmt_number(value) if isinstance(value, float) else f"{value:,}"


def _fmt_count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _fmt_share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _fmt_size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""  # pragma: no cover
