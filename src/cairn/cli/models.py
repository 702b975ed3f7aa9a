"""``cairn models``: the model registry — versions, aliases, lineage, packages, approvals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

import cairn
from cairn.cli.output import JSON_HELP, console, fmt_number, fmt_time, print_json, table

if TYPE_CHECKING:
    from cairn.registry import Approval, ModelVersion

app = typer.Typer(
    help="Model registry: list, show, versions, alias, lineage, package, approvals.",
    no_args_is_help=True,
)

AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
REF = typer.Argument(..., help="name/3, name@alias or name@latest.")
COMMENT = typer.Option(None, "--comment", "-m", help="Why: kept with the decision.")


def _versions_table(title: str, versions: list[ModelVersion]) -> None:
    metric_keys = sorted({k for v in versions for k in v.metrics})[:3]
    t = table(title, ["ref", "aliases", "flavour", "run", "created", "by", "state", *metric_keys])
    t.columns[0].min_width = max((len(v.ref) for v in versions), default=3)
    for v in versions:
        t.add_row(
            v.ref,
            " ".join("@" + a for a in v.aliases),
            v.flavour,
            v.run_id[:12],
            fmt_time(v.created_at)[:16],
            v.creator,
            "archived" if v.archived_at else "",
            *(fmt_number(v.metrics.get(k)) for k in metric_keys),
        )
    console.print(t)


@app.command("list")
def list_cmd(
    archived: bool = typer.Option(False, "--archived", help="Include archived models."),
    as_json: bool = AS_JSON,
) -> None:
    """List registered models."""
    found = cairn.registry.list_models(include_archived=archived)
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    t = table(
        "models", ["name", "latest", "aliases", "created", "by", "description"], ("description",)
    )
    for m in found:
        aliases = " ".join(f"@{a}={v}" for a, v in m.aliases.items())
        t.add_row(
            m.name,
            str(m.latest_version or ""),
            aliases,
            fmt_time(m.created_at)[:16],
            m.creator,
            m.description or "",
        )
    console.print(t)
    if not found:
        console.print("no models", style="dim")


@app.command("versions")
def versions_cmd(name: str, as_json: bool = AS_JSON) -> None:
    """List a model's versions, newest first."""
    found = cairn.registry.list_versions(name)
    if as_json:
        print_json([v.to_dict() for v in found])
        return
    _versions_table(f"versions of {name}", found)


@app.command("show")
def show(ref: str = REF, as_json: bool = AS_JSON) -> None:
    """Show one version: record, signature, params, metrics, approvals."""
    version = cairn.registry.get_version(ref)
    decisions = cairn.registry.approvals_of(version.ref)
    if as_json:
        data = version.to_dict()
        data["approvals"] = [a.to_dict() for a in decisions]
        data["approved"] = cairn.registry.is_approved(version)
        print_json(data)
        return
    info = table(f"model version {version.ref}", ["field", "value"], ("value",))
    for field, value in [
        ("aliases", " ".join("@" + a for a in version.aliases)),
        ("flavour", version.flavour),
        ("run", version.run_id),
        ("created", f"{fmt_time(version.created_at)} by {version.creator}"),
        ("digest", version.digest),
        ("size", f"{version.size:,} bytes"),
        ("python", str(version.environment.get("python_version") or "")),
        ("prediction", _prediction(version)),
        ("approved", "yes" if cairn.registry.is_approved(version) else "no"),
        ("archived", fmt_time(version.archived_at)),
        ("description", version.description or ""),
    ]:
        info.add_row(field, value)
    console.print(info)
    t = table("signature: inputs", ["column", "type", "nullable", "categories"], ("categories",))
    for c in version.signature.inputs:
        cats = ", ".join(map(str, c.categories)) if c.categories is not None else ""
        t.add_row(c.name, c.type, "yes" if c.nullable else "no", cats)
    console.print(t)
    for title, values in (("params", version.params), ("metrics", version.metrics)):
        if values:
            t = table(title, ["key", "value"])
            for k, v in sorted(values.items()):
                t.add_row(k, fmt_number(v) if title == "metrics" else str(v))
            console.print(t)
    if decisions:
        t = table("reviews", ["when", "reviewer", "decision", "comment"], ("comment",))
        for a in decisions:
            t.add_row(fmt_time(a.created_at), a.reviewer, a.decision, a.comment or "")
        console.print(t)


def _prediction(version: ModelVersion) -> str:
    sig = version.signature
    classes = f", classes {sig.classes}" if sig.classes is not None else ""
    return f"{sig.prediction_type}{classes}{', probabilities' if sig.has_proba else ''}"


@app.command("alias")
def alias_cmd(
    name: str,
    alias: str = typer.Argument(None, help="e.g. champion; omit with --history for all."),
    version: int = typer.Argument(None, help="The version number to point the alias at."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias."),
    history: bool = typer.Option(False, "--history", help="Show every move of the alias."),
    override_reason: str = typer.Option(
        None,
        "--override-reason",
        help="Pass the evaluation gate anyway, for this reason (recorded).",
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Point NAME@ALIAS at VERSION (atomically, with a record of the move), or show history."""
    if history or (alias is None and not delete):
        moves = cairn.registry.alias_history(name, alias)
        if as_json:
            print_json([m.to_dict() for m in moves])
            return
        t = table(f"alias moves of {name}", ["when", "alias", "from", "to", "by"])
        for m in moves:
            t.add_row(
                fmt_time(m.moved_at),
                m.alias,
                str(m.from_version or "-"),
                str(m.to_version or "-"),
                m.moved_by,
            )
        console.print(t)
        return
    if delete:
        move = cairn.registry.delete_alias(name, alias)
    elif version is None:
        raise typer.BadParameter("give the VERSION to point the alias at, or --delete")
    else:
        move = cairn.registry.set_alias(name, alias, version, override_reason=override_reason)
    if as_json:
        print_json(move.to_dict())
        return
    console.print(
        f"{name}@{alias}: {move.from_version or '-'} → {move.to_version or '-'}", highlight=False
    )


@app.command("lineage")
def lineage_cmd(
    ref: str = typer.Argument(..., help="A model ref, or with --dataset a dataset version."),
    dataset: bool = typer.Option(False, "--dataset", help="Which versions this dataset fed."),
    as_json: bool = AS_JSON,
) -> None:
    """Where a version came from (run, pipeline, data, reviews), or what a dataset fed."""
    if dataset:
        fed = cairn.registry.versions_from_dataset(ref)
        if as_json:
            print_json([v.ref for v in fed])
            return
        _versions_table(f"model versions trained on {ref}", fed)
        return
    view = cairn.registry.lineage(ref)
    if as_json:
        print_json(view)
        return
    console.print(f"[bold]{view['version']}[/]", highlight=False)
    run = view["run"]
    console.print(f"  ← run {run['id'][:12]} ({run['experiment']}/{run['name'] or ''})")
    if view["pipeline_run"]:
        console.print(f"     ← pipeline run {view['pipeline_run']}", highlight=False)
    for item in view["datasets"]:
        console.print(f"     ← dataset {item['ref']}", highlight=False)
    for e in view["evaluations"]:
        verdict = "passed" if e["passed"] else "failed"
        console.print(f"  ✓ evaluation {e['id'][:12]} on {e['suite']}: {verdict}", highlight=False)
    for a in view["approvals"]:
        console.print(f"  ✓ {a['decision']} by {a['reviewer']}: {a['comment'] or ''}")
    for alias in view["aliases"]:
        console.print(f"  → @{alias}", highlight=False)
    for d in view["deployments"]:
        console.print(f"  → deployed to {d['target']} ({d['status']})", highlight=False)


@app.command("package")
def package_cmd(
    ref: str = REF,
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (replaced if present)."),
) -> None:
    """Write a self-contained folder: model, signature, requirements, metadata, entry point."""
    folder = cairn.registry.package(ref, out)
    console.print(f"packaged {cairn.registry.get_version(ref).ref} into {folder}", highlight=False)


@app.command("request-approval")
def request_approval(ref: str = REF, as_json: bool = AS_JSON) -> None:
    """Ask a second person to review a version before it is deployed."""
    request = cairn.registry.request_approval(ref)
    if as_json:
        print_json(request.to_dict())
        return
    console.print(f"review of {request.ref} requested by {request.requested_by}", highlight=False)


@app.command("approve")
def approve(ref: str = REF, comment: str = COMMENT, as_json: bool = AS_JSON) -> None:
    """Approve a version (not one you made)."""
    _decided(cairn.registry.approve(ref, comment), as_json)


@app.command("reject")
def reject(ref: str = REF, comment: str = COMMENT, as_json: bool = AS_JSON) -> None:
    """Reject a version."""
    _decided(cairn.registry.reject(ref, comment), as_json)


def _decided(approval: Approval, as_json: bool) -> None:
    if as_json:
        print_json(approval.to_dict())
        return
    console.print(f"{approval.ref}: {approval.decision} by {approval.reviewer}", highlight=False)
