"""The cairn demo: a credit-risk team climbs the ladder, one level at a time.

Run with `make demo`. Everything goes into the embedded store (SQLite and a local artifact
folder under $CAIRN_HOME, no server).

Level 1, tracked experiments: generate loan applications, train several models with their
hyperparameters, log every step's metrics, plots and fitted models, compare the runs.
Level 1, versioned data and pipelines: snapshot the data as a dataset version, train through a
cached pipeline that reads it (a second run executes nothing), and see what changed when a new,
drifted month of applications arrives.
Level 1, deployment: register the pipeline's model, a second person approves it, it is
deployed and served over HTTP, answers predictions and takes feedback (demo_serving.py).
Level 2, monitoring: traffic through the server, a calm day then a downturn; the monitor
catches the drift and alerts a webhook once (demo_monitoring.py).
Level 2, evaluation: each new version runs the standard suite against the champion before it
may be promoted; a regressing and a biased version are stopped (demo_evaluation.py).
Level 2, feature store: train from point-in-time features, serve a request that carries only
an applicant id (demo_features.py).
Later levels extend this same script.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import demo_evaluation  # the next parts of the demo, beside this file
import demo_features
import demo_monitoring
import demo_serving
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import cairn
from cairn.datasets import credit

EXPERIMENT = "credit-risk"
console = Console()


def preprocessor() -> ColumnTransformer:
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(credit.NUMERIC),
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["home_ownership", "loan_purpose"]),
        ]
    )


CANDIDATES = {
    "logreg-C0.1": (LogisticRegression, {"C": 0.1, "max_iter": 500}),
    "logreg-C10": (LogisticRegression, {"C": 10.0, "max_iter": 500}),
    "forest-depth8": (RandomForestClassifier, {"n_estimators": 150, "max_depth": 8, "n_jobs": 2}),
    "gbm-lr0.05": (HistGradientBoostingClassifier, {"learning_rate": 0.05, "max_iter": 200}),
    "gbm-lr0.2": (HistGradientBoostingClassifier, {"learning_rate": 0.2, "max_iter": 200}),
}


def staged_curve(model, X_val, y_val) -> list[tuple[int, float, float]]:  # noqa: ANN001, N803
    """(step, val_auc, val_log_loss) as a model grows: boosting stages or forest trees."""
    estimator = model[-1]
    features = model[:-1].transform(X_val)
    if hasattr(estimator, "staged_predict_proba"):
        stages = enumerate(estimator.staged_predict_proba(features))
        return [
            (i, roc_auc_score(y_val, p[:, 1]), log_loss(y_val, p)) for i, p in stages if i % 5 == 0
        ]
    if hasattr(estimator, "estimators_"):
        votes = np.cumsum(
            [tree.predict_proba(features)[:, 1] for tree in estimator.estimators_], axis=0
        )
        curve = []
        for i in range(0, len(votes), 5):
            p = np.clip(votes[i] / (i + 1), 1e-6, 1 - 1e-6)
            curve.append((i, roc_auc_score(y_val, p), log_loss(y_val, p)))
        return curve
    return []


def roc_figure(y_val, proba, title: str):  # noqa: ANN001, ANN201
    fpr, tpr, _ = roc_curve(y_val, proba)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(y_val, proba):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    return fig


def versioned_pipeline():  # noqa: ANN201
    """Level 1 continued: a dataset version, a cached pipeline, and a diff of the next month."""
    import cairn.data
    import cairn.pipelines

    console.rule("[bold]Level 1: versioned data, pipelines as code")
    january = credit.make_credit_applications(20_000, seed=7)
    v1 = cairn.data.snapshot(january, name="credit-applications", description="January")
    console.print(
        f"snapshot {v1.ref}: {v1.row_count:,} rows x {v1.column_count} columns, "
        f"sha256 {v1.digest[:12]}; snapshotting the same data again gives "
        f"{cairn.data.snapshot(january, name='credit-applications').ref}"
    )
    timings = []
    for attempt in ("first run", "second run"):
        started = time.perf_counter()
        result = cairn.pipelines.run("credit_pipeline:training", params={"dataset": v1.ref})
        result.raise_for_status()
        timings.append(time.perf_counter() - started)
        hits = sum(step.cache == "hit" for step in result.steps)
        console.print(
            f"pipeline {attempt}: {result.status}, test AUC {result.outputs['scores']['auc']:.4f}, "
            f"{hits} of {len(result.steps)} steps from the cache, {timings[-1]:.2f}s"
        )
    console.print(f"the cached re-run was {timings[0] / timings[1]:.0f} times faster")

    february = credit.make_credit_applications(20_000, seed=8, drift=0.8, first_id=20_001)
    v2 = cairn.data.snapshot(february, name="credit-applications", description="February")
    report = cairn.data.validate(february, cairn.data.infer_schema(v1))
    changes = cairn.data.diff(v1, v2)
    moved = [c for c in changes.stats if c.stat == "mean" and c.column in credit.DRIFTING]
    console.print(
        f"new month {v2.ref}: validated against January's schema: "
        f"{'ok' if report.ok else f'{len(report.violations)} violations'}; "
        f"the diff shows {len(changes.stats)} changed statistics, e.g. "
        + ", ".join(f"{c.column} mean {c.before:.3g} -> {c.after:.3g}" for c in moved[:3])
    )
    return result, february


def main() -> None:
    started = time.perf_counter()
    console.rule("[bold]cairn demo: Level 1, tracked experiments")
    data = credit.make_credit_applications(20_000, seed=7)
    console.print(
        f"generated {len(data):,} loan applications, default rate {data[credit.LABEL].mean():.1%} "
        f"(cairn.datasets.credit, seed 7)"
    )
    features = list(credit.NUMERIC) + ["home_ownership", "loan_purpose"]
    X_train, X_val, y_train, y_val = train_test_split(  # noqa: N806
        data[features],
        data[credit.LABEL],
        test_size=0.25,
        random_state=0,
        stratify=data[credit.LABEL],
    )

    run_ids = []
    with console.status("training") as status:
        for name, (cls, params) in CANDIDATES.items():
            status.update(f"training {name}")
            with cairn.start_run(
                experiment=EXPERIMENT, name=name, params={"model": cls.__name__, **params}
            ) as run:
                run.set_tags({"team": "credit-risk", "dataset": "credit-applications seed=7"})
                run.log_params({"train_rows": len(X_train), "features": len(features)})
                model = make_pipeline(preprocessor(), cls(random_state=0, **params))
                t0 = time.perf_counter()
                model.fit(X_train, y_train)
                run.log_metric("fit_seconds", time.perf_counter() - t0)
                for step, auc, loss in staged_curve(model, X_val, y_val):
                    run.log_metrics({"val_auc_curve": auc, "val_log_loss_curve": loss}, step=step)
                proba = model.predict_proba(X_val)[:, 1]
                run.log_metrics(
                    {"val_auc": roc_auc_score(y_val, proba), "val_log_loss": log_loss(y_val, proba)}
                )
                fig = roc_figure(y_val, proba, name)
                run.log_figure(fig, "plots/roc.png")
                plt.close(fig)
                run.log_dataframe(
                    pd.DataFrame({"y_true": y_val.to_numpy(), "p_default": proba}),
                    "predictions/validation",
                )
                import skops.io

                run.service.log_object(run.id, skops.io.dumps(model), "model/model.skops")
            run_ids.append(run.id)
            console.print(f"  tracked run [cyan]{run.id[:12]}[/] {name}")

    console.print("\nautologging: a scikit-learn fit recorded with no logging code")
    cairn.autolog(experiment=EXPERIMENT)
    make_pipeline(preprocessor(), LogisticRegression(C=1.0, max_iter=500)).fit(X_train, y_train)
    cairn.autolog(disable=True)

    client = cairn.Client()
    best = client.search_runs(
        EXPERIMENT, filter="metrics.val_auc > 0", order_by="metrics.val_auc desc"
    )
    table = Table(title=f"runs of {EXPERIMENT!r}, best validation AUC first", header_style="bold")
    for column in ("run", "name", "model", "val_auc", "val_log_loss", "fit_seconds"):
        table.add_column(column)
    for r in best:
        table.add_row(
            r.id[:12],
            r.name,
            r.params["model"],
            f"{r.metrics['val_auc']:.4f}",
            f"{r.metrics['val_log_loss']:.4f}",
            f"{r.metrics['fit_seconds']:.2f}",
        )
    console.print(table)
    winner = best[0]
    points = sum(len(client.get_metric_history(r.id, "val_auc_curve")) for r in best)
    console.print(
        f"best: [bold green]{winner.name}[/] (val AUC {winner.metrics['val_auc']:.4f}); "
        f"{len(best) + 1} runs, {points} curve points, every artifact hashed and stored once."
    )
    pipeline_run, february = versioned_pipeline()
    demo_serving.run(pipeline_run, february)
    home_parent = Path(os.environ.get("CAIRN_HOME", ".")).parent
    demo_monitoring.run(
        "credit-risk@champion",
        credit.make_credit_applications(5_000, seed=9, first_id=100_001),
        out=home_parent / "monitoring-report.html",
    )
    demo_evaluation.run(console=console, reports=Path(os.environ.get("CAIRN_HOME", ".")).parent)
    console.rule("[bold]Level 2: one feature definition for training and serving")
    demo_features.run(folder=Path(os.environ.get("CAIRN_HOME", ".")).parent / "feature-data")
    home = os.environ.get("CAIRN_HOME", ".cairn")
    console.rule("where to look next")
    console.print(
        f"everything is in {home}; from the repository folder:\n"
        f"  export CAIRN_HOME={home}\n"
        f"  .venv/bin/cairn runs list -e {EXPERIMENT}\n"
        f"  .venv/bin/cairn pipelines show {pipeline_run.run_id[:12]}\n"
        f"  .venv/bin/cairn data diff credit-applications@1 credit-applications@2\n"
        f"  .venv/bin/cairn runs show {winner.id[:12]}\n"
        f"  .venv/bin/cairn models lineage credit-risk@champion\n"
        f"  .venv/bin/cairn deployments\n"
        f"  .venv/bin/cairn serve credit-risk@champion --port 8080\n"
        f"  .venv/bin/cairn runs compare {' '.join(r.id[:12] for r in best[:3])}\n"
        f'  .venv/bin/cairn runs search "metrics.val_auc > 0.78 and params.model = '
        f"'HistGradientBoostingClassifier'\" -o 'metrics.val_auc desc'\n"
        f"done in {time.perf_counter() - started:.1f}s",
        highlight=False,
    )


if __name__ == "__main__":
    main()
