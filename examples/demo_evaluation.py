"""Level 2, evaluation before promotion: every new credit-risk version runs the standard suite
against the champion, and only a passing version becomes champion.

``run(...)`` gates the model with an evaluation policy (the binary-classification template,
judging fairness across age band and sex), trains three candidates on the champion's training
data and tries to promote each: a retrain that passes and is promoted, a cheaper model that
regresses against the champion, and a model taught a biased labelling of young applicants,
which fails the fairness check. The two failures are stopped by the gate; each evaluation's
HTML report is written next to the script's working folder.

Runs on its own (``python examples/demo_evaluation.py``, with a fresh ``CAIRN_HOME`` it makes
the data and a first champion), or from the main demo with its registered model and data.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import cairn
import cairn.data
import cairn.registry as registry
from cairn import evaluation
from cairn.datasets import credit
from cairn.errors import NotFound

MODEL = "credit-risk"
TRAINING = "credit-applications"
HOLDOUT = "credit-holdout"
SENSITIVE = ("age_band", "sex")


def build(estimator: Any, features: list[str]) -> Pipeline:
    categorical = [c for c in features if c in credit.CATEGORICAL]
    numeric = [c for c in features if c not in categorical]
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ),
        estimator,
    )


def biased(frame: pd.DataFrame) -> pd.DataFrame:
    """A new labelling extract that marks most applicants under 26 as defaulted."""
    rng = np.random.default_rng(0)
    young = (frame["age_band"] == "18-25").to_numpy() & (rng.random(len(frame)) < 0.6)
    return frame.assign(**{credit.LABEL: np.where(young, 1, frame[credit.LABEL])})


CANDIDATES = {
    "retrain (logistic, C=0.5)": (lambda: LogisticRegression(C=0.5, max_iter=1000), False),
    "compact forest for cheaper serving": (
        lambda: RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0),
        False,
    ),
    "retrain on the new labelling extract": (lambda: LogisticRegression(max_iter=1000), True),
}


def first_champion(console: Console) -> None:
    """Standalone: a training dataset version and a first model, made champion."""
    data = credit.make_credit_applications(20_000, seed=7)
    trained_on = cairn.data.snapshot(data, name=TRAINING, description="January")
    features = list(credit.FEATURES)
    with cairn.start_run(experiment=MODEL, name="logistic") as run:
        run.log_input(trained_on)
        model = build(LogisticRegression(max_iter=1000), features).fit(
            data[features], data[credit.LABEL]
        )
        version = run.log_model(model, name=MODEL, input_example=data[features].head(20))
    registry.set_alias(MODEL, "champion", version.version)
    console.print(f"no {MODEL} yet: trained {version.ref} on {trained_on.ref}, made it champion")


def run(
    model: str = MODEL,
    holdout: str | None = None,
    console: Console | None = None,
    reports: Path = Path("."),
) -> dict[str, Any]:
    """Gate ``model`` on the standard suite and put three candidates through it.

    ``holdout``: the evaluation dataset version (default: a fresh month, snapshotted as
    ``credit-holdout``). Returns {version ref: "promoted" or why it was stopped}.
    """
    console = console or Console()
    console.rule("[bold]Level 2: evaluation suites gate promotion")
    try:
        champion = registry.get_version(f"{model}@champion")
    except NotFound:
        first_champion(console)
        champion = registry.get_version(f"{model}@champion")
    recorded = registry.lineage(champion.ref)["datasets"]
    if recorded:  # retrain on what the champion was trained on
        trained_on = cairn.data.get_version(recorded[0]["ref"])
    else:
        fresh = credit.make_credit_applications(20_000, seed=7)
        trained_on = cairn.data.snapshot(fresh, name=TRAINING, description="January")
    train = cairn.data.load(trained_on)
    if holdout is None:
        fresh = credit.make_credit_applications(20_000, seed=21, first_id=5_000_000)
        holdout = cairn.data.snapshot(fresh, name=HOLDOUT, description="held-out month").ref
    policy = evaluation.set_policy(model, sensitive=SENSITIVE)
    console.print(
        f"policy: a {model} version becomes champion only after passing suite "
        f"[bold]{policy.suite_name}[/] ({len(policy.suite['checks'])} checks, fairness across "
        f"{' and '.join(SENSITIVE)}) on {holdout}; champion now {champion.ref}",
        highlight=False,
    )
    features = champion.signature.columns
    outcome: dict[str, str] = {}
    for description, (make, relabel) in CANDIDATES.items():
        frame = biased(train) if relabel else train
        with cairn.start_run(experiment=model, name=description) as tracked:
            tracked.log_input(trained_on)
            fitted = build(make(), features).fit(frame[features], frame[credit.LABEL])
            version = tracked.log_model(
                fitted, name=model, input_example=frame[features].head(20), description=description
            )
        started = time.perf_counter()
        found = evaluation.evaluate(version.ref, holdout)
        report = reports / f"evaluation-{version.name}-{version.version}.html"
        report.write_text(evaluation.report_html(found.id))
        console.print(
            f"\n{version.ref} ({description}): evaluated against champion "
            f"{found.compared_with['champion']['ref']} in {time.perf_counter() - started:.1f}s, "
            f"report {report}",
            highlight=False,
        )
        console.print(_headline(found))
        try:
            registry.set_alias(model, "champion", version.version)
        except evaluation.GateFailed as refused:
            outcome[version.ref] = refused.message
            console.print(f"[bold red]stopped[/]: {refused.message}", highlight=False)
        else:
            outcome[version.ref] = "promoted"
            console.print(f"[bold green]promoted[/]: {version.ref} is champion", highlight=False)
    console.print(
        f"\nchampion: {registry.get_version(f'{model}@champion').ref}; every evaluation is in "
        f"the store (cairn evaluations list {model}), linked to its model and dataset version",
        highlight=False,
    )
    return outcome


def _headline(found: evaluation.Evaluation) -> Table:
    """The regression and fairness checks, and every other blocking check that did not pass."""
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    table.add_column("verdict")
    table.add_column("check", max_width=44)
    table.add_column("why", overflow="fold")
    style = {"passed": "green", "failed": "red", "errored": "yellow", "skipped": "dim"}
    for check in found.checks:
        if check.blocking and (
            check.kind in ("regression", "fairness") or check.verdict != "passed"
        ):
            why = check.message if len(check.message) < 160 else check.message[:157] + "..."
            table.add_row(f"[{style[check.verdict]}]{check.verdict}[/]", check.name, why)
    return table


if __name__ == "__main__":
    run()
