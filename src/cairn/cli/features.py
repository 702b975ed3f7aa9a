"""``cairn features``: list, show, apply, materialize, schedule, get."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cairn.cli.output import JSON_HELP, console, fmt_time, print_json, table
from cairn.errors import InvalidInput

app = typer.Typer(
    help="Feature store: list, show, apply, materialize, schedule, get.", no_args_is_help=True
)

AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
KINDS = ("entity", "feature_view", "feature_service")


def _store() -> Any:
    from cairn import features

    return features.feature_store()


@app.command("list")
def list_cmd(
    kind: str = typer.Option(None, "--kind", "-k", help="entity, feature_view or feature_service."),
    as_json: bool = AS_JSON,
) -> None:
    """List the applied definitions (their latest versions)."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput.for_field("kind", kind, "entity, feature_view or feature_service")
    found = _store().list(kind)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    t = table(
        "feature store", ["kind", "name", "version", "summary", "applied", "by"], ("summary",)
    )
    for a in found:
        t.add_row(
            a.kind,
            a.name,
            str(a.version),
            _summary(a.kind, a.spec),
            fmt_time(a.created_at),
            a.creator,
        )
    console.print(t)
    if not found:
        console.print("nothing applied yet: cairn features apply definitions.py", style="dim")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="A feature view or service: name, name@latest or name@2."),
    as_json: bool = AS_JSON,
) -> None:
    """Show a definition: its spec, its versions and (a view) its materializations."""
    from cairn.errors import NotFound

    store = _store()
    for kind in ("feature_view", "feature_service", "entity"):
        try:
            applied = store.get(kind, name)
        except NotFound:
            continue
        versions = store.versions(kind, applied.name)
        history = store.materializations(applied.name) if kind == "feature_view" else []
        if as_json:
            print_json(
                {
                    **applied.to_dict(),
                    "versions": [v.version for v in versions],
                    "materializations": [m.to_dict() for m in history],
                }
            )
            return
        console.print(
            f"[bold]{kind.replace('_', ' ')} {applied.ref}[/]  ({len(versions)} versions)"
        )
        console.print_json(json.dumps(applied.spec))
        if history:
            t = table("materializations", ["version", "online store", "from", "to", "rows"])
            for m in history:
                t.add_row(
                    str(m.version),
                    m.online_store,
                    fmt_time(m.start),
                    fmt_time(m.end),
                    f"{m.rows:,}",
                )
            console.print(t)
        return
    raise NotFound.for_field("feature view, service or entity", name)


@app.command("apply")
def apply_cmd(
    path: Path = typer.Argument(..., help="A Python file defining entities, views and services."),
    as_json: bool = AS_JSON,
) -> None:
    """Register the definitions in a file; each changed one becomes a new version."""
    if not path.is_file():
        raise InvalidInput.for_field("path", str(path), "a Python file")
    applied = _store().apply(str(path))
    if as_json:
        print_json([{**a.to_dict(), "changed": a.changed} for a in applied])
        return
    for a in applied:
        state = "[green]new version[/]" if a.changed else "[dim]unchanged[/]"
        console.print(f"{a.kind.replace('_', ' '):16} {a.ref:32} {state}")


@app.command("materialize")
def materialize_cmd(
    views: list[str] = typer.Argument(None, help="Feature views (default: all)."),
    start: str = typer.Option(None, "--start", help="From this time (default: the watermark)."),
    end: str = typer.Option(None, "--end", help="Up to this time (default: now)."),
    as_json: bool = AS_JSON,
) -> None:
    """Write the newest feature values into the online store (incremental by default)."""
    done = _store().materialize(views or None, start=start, end=end)
    if as_json:
        print_json([m.to_dict() for m in done])
        return
    for m in done:
        since = fmt_time(m.start) or "the beginning"
        console.print(
            f"{m.view}@{m.version}: {m.rows:,} entities from {since} to {fmt_time(m.end)}, "
            f"{m.written:,} written to {m.online_store}"
        )


@app.command("schedule")
def schedule_cmd(
    views: list[str] = typer.Argument(None, help="Feature views (default: all)."),
    cron: str = typer.Option(..., "--cron", help="When, in UTC, e.g. '*/15 * * * *'."),
    name: str | None = typer.Option(None, "--name", help="The schedule's name."),
    team: str = typer.Option("default", "--team", help="The job queue team its jobs run as."),
    as_json: bool = AS_JSON,
) -> None:
    """Materialize on a cron: a schedule that `cairn scheduler` runs, `cairn schedules` lists."""
    from cairn.features import schedule_materialization

    added = schedule_materialization(cron, views or None, name=name, team=team)
    if as_json:
        print_json(added.to_dict())
        return
    console.print(
        f"schedule {added.name}: materialize {', '.join(views) if views else 'every view'} "
        f"at '{added.cron}', next {fmt_time(added.next_fire_at())}; `cairn scheduler` runs it"
    )


@app.command("get")
def get_cmd(
    features: list[str] = typer.Argument(
        ..., help="A feature service name, or view:feature / view:* references."
    ),
    entity: list[str] = typer.Option(
        ..., "--entity", "-e", help="key=value, e.g. applicant_id=42 (repeat for more)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Look features up in the online store."""
    keys: dict[str, list[Any]] = {}
    for item in entity:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput.for_field("entity", item, "key=value, e.g. applicant_id=42")
        keys.setdefault(key, []).append(value)
    named: Any = features[0] if len(features) == 1 and ":" not in features[0] else features
    found = _store().get_online_features(keys, named).to_dict()
    if as_json:
        print_json(found)
        return
    t = table("online features", list(found))
    for row in zip(*found.values(), strict=True):
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def _summary(kind: str, spec: dict[str, Any]) -> str:
    if kind == "entity":
        return "keys: " + ", ".join(spec["join_keys"])
    if kind == "feature_view":
        names = [f[0] for f in spec["features"] + spec["derived"]]
        ttl = spec["ttl_seconds"]
        return (
            f"{len(names)} features ({', '.join(names[:4])}{', …' if len(names) > 4 else ''})"
            + (f", ttl {ttl / 3600:g} h" if ttl else "")
        )
    return f"{len(spec['features'])} features"
