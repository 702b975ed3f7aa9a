"""``cairn evaluate REF --data DATASET``: run an evaluation suite, exit 1 when it fails (so a
CI job can gate on it); ``cairn evaluations``: list, show, report, policies and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

import cairn
from cairn.cli.output import JSON_HELP, console, fmt_time, print_json, table

if TYPE_CHECKING:
    from cairn.evaluation import Evaluation

app = typer.Typer(
    help="Evaluations: list, show, report; the policy that gates promotion; overrides.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="The suite a model's versions must pass.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
SUITE = typer.Option(
    None,
    "--suite",
    "-s",
    help="A suite YAML file or a template (binary-classification, multiclass-classification, "
    "regression). Default: the model's policy suite, else the template for what it predicts.",
)
SENSITIVE = typer.Option(
    None, "--sensitive", help="A sensitive attribute for fairness checks (repeat for several)."
)
LABEL = typer.Option(None, "--label", help="The label column (inferred for classifiers).")
STYLE = {"passed": "green", "failed": "red", "errored": "yellow", "skipped": "dim"}  # by verdict


def evaluate_cmd(
    ref: str = typer.Argument(..., help="The model version: name/3, name@alias, name@latest."),
    data: str = typer.Option(..., "--data", "-d", help="The evaluation dataset version, name@2."),
    suite: str = SUITE,
    sensitive: list[str] = SENSITIVE,
    label: str = LABEL,
    report: Path = typer.Option(None, "--report", help="Also write the HTML report here."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and perturbations."),
    as_json: bool = AS_JSON,
) -> None:
    """Evaluate a model version on a dataset version; exit status 1 when the suite fails."""
    with console.status(f"evaluating {ref} on {data}", spinner="dots"):
        found = cairn.evaluation.evaluate(
            ref, data, suite=suite, label=label, sensitive=sensitive or None, seed=seed
        )
    if report is not None:
        report.write_text(cairn.evaluation.report_html(found.id))
    if as_json:
        print_json(found.to_dict())
    else:
        _show(found)
        if report is not None:
            console.print(f"report written to {report}", highlight=False)
    if not found.passed:
        raise typer.Exit(1)


def _show(found: Evaluation) -> None:
    t = table(
        f"evaluation {found.id[:12]} of {found.ref} on {found.dataset} "
        f"(suite {found.suite_name}, {found.row_count:,} rows)",
        ["verdict", "check", "value", "why"],
        ("check", "why"),
    )
    t.columns[1].max_width = 40
    for c in found.checks:
        name = c.name if c.blocking else f"{c.name} (advisory)"
        value = "" if c.value is None else f"{c.value:.4g}"
        t.add_row(f"[{STYLE[c.verdict]}]{c.verdict}[/]", name, value, c.message)
    console.print(t)
    verdict = "[bold green]PASSED[/]" if found.passed else "[bold red]FAILED[/]"
    counts = ", ".join(f"{n} {v}" for v, n in found.counts().items() if n)
    console.print(f"{verdict}: {counts}; {found.seconds:.1f}s", highlight=False)


@app.command("list")
def list_cmd(
    model: str = typer.Argument(..., help="A model (every version) or a version (name/3)."),
    as_json: bool = AS_JSON,
) -> None:
    """List evaluations, newest first."""
    found = cairn.evaluation.list_evaluations(model)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    t = table(
        f"evaluations of {model}", ["id", "version", "data", "suite", "verdict", "when", "by"]
    )
    for e in found:
        t.add_row(
            e.id[:12],
            e.ref,
            e.dataset,
            e.suite_name,
            "[green]passed[/]" if e.passed else "[red]failed[/]",
            fmt_time(e.created_at),
            e.creator,
        )
    console.print(t)
    if not found:
        console.print("no evaluations", style="dim")


@app.command("show")
def show(
    evaluation_id: str = typer.Argument(..., help="An evaluation id or 6+ of its characters."),
    as_json: bool = AS_JSON,
) -> None:
    """Show an evaluation: every check's value, threshold, verdict and why."""
    found = cairn.evaluation.get_evaluation(evaluation_id)
    if as_json:
        print_json(found.to_dict())
        return
    _show(found)


@app.command("report")
def report_cmd(
    evaluation_id: str = typer.Argument(..., help="An evaluation id or 6+ of its characters."),
    out: Path = typer.Option(..., "--out", "-o", help="The HTML file to write."),
) -> None:
    """Write an evaluation's HTML report (plots included) to a file."""
    out.write_text(cairn.evaluation.report_html(evaluation_id))
    console.print(f"report written to {out}", highlight=False)


@app.command("overrides")
def overrides_cmd(
    ref: str = typer.Argument(..., help="A model version."), as_json: bool = AS_JSON
) -> None:
    """Gate overrides of a version: who, when, why, and what the gate found wrong."""
    found = cairn.evaluation.overrides_of(ref)
    if as_json:
        print_json([o.to_dict() for o in found])
        return
    t = table(
        f"gate overrides of {ref}",
        ["when", "by", "action", "reason", "problem"],
        ("reason", "problem"),
    )
    for o in found:
        t.add_row(fmt_time(o.created_at), o.creator, o.action, o.reason, o.problem)
    console.print(t)


@policy_app.command("set")
def policy_set(
    model: str = typer.Argument(..., help="The registered model."),
    suite: str = SUITE,
    sensitive: list[str] = SENSITIVE,
    label: str = LABEL,
    as_json: bool = AS_JSON,
) -> None:
    """Require a passing evaluation on SUITE before a version becomes champion or is deployed."""
    policy = cairn.evaluation.set_policy(model, suite, label=label, sensitive=sensitive or None)
    if as_json:
        print_json(policy.to_dict())
        return
    console.print(
        f"{model}: versions need a passing evaluation on suite {policy.suite_name} "
        f"({policy.suite_digest[:12]}) to become champion or be deployed",
        highlight=False,
    )


@policy_app.command("show")
def policy_show(
    model: str = typer.Argument(..., help="The registered model."), as_json: bool = AS_JSON
) -> None:
    """Show the model's policy (none: its versions are not gated)."""
    policy = cairn.evaluation.get_policy(model)
    if as_json:
        print_json(None if policy is None else policy.to_dict())
        return
    if policy is None:
        console.print(
            f"{model} has no evaluation policy: its versions are not gated", highlight=False
        )
        return
    console.print(
        f"{model}: suite {policy.suite_name} ({policy.suite_digest[:12]}), set by "
        f"{policy.updated_by} at {fmt_time(policy.updated_at)}",
        highlight=False,
    )
    for check in policy.suite["checks"]:
        console.print(f"  - {check}", highlight=False)


@policy_app.command("clear")
def policy_clear(model: str = typer.Argument(..., help="The registered model.")) -> None:
    """Remove the model's policy: its versions are no longer gated."""
    cairn.evaluation.clear_policy(model)
    console.print(f"{model}: no evaluation policy", highlight=False)
