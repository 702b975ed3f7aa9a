"""The feature store demo: train from point-in-time features, serve a request that carries only
an applicant id.

    .venv/bin/python examples/demo_features.py        # into ./.cairn (or $CAIRN_HOME)

Two feature views describe each applicant:

- ``credit_bureau``: credit-bureau pulls, kept as a dataset version. Each applicant is pulled the
  day before applying and again a few days after (the later pull already reflects the loan, and
  must never reach the training rows: it is from their future);
- ``applications``: the application itself (amount, term, rate, purpose, income, ...), from a
  Parquet file, with two features derived by a transformation (loan to income, payment to
  income) that runs the same code for training and for serving.

The demo applies the definitions, builds a training set by historical retrieval (snapshotted as
a dataset version whose lineage reaches the views), trains a model, materializes the newest values
into the online store, fills a request that carries only an applicant id, scores it, and checks
online against offline values.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import cairn.data
import cairn.features as features
from cairn.datasets import make_credit_applications
from cairn.features import (
    DatasetSource,
    Entity,
    FeatureService,
    FeatureView,
    ParquetSource,
)
from cairn.serving import serving_in_background

BUREAU = ["credit_score", "num_credit_lines", "num_delinquencies", "debt_to_income"]
APPLICATION = {
    "age": "int64",
    "annual_income": "float64",
    "employment_years": "float64",
    "home_ownership": "string",
    "loan_purpose": "string",
    "loan_amount": "float64",
    "term_months": "int64",
    "interest_rate": "float64",
}
CATEGORICAL = ["home_ownership", "loan_purpose"]


def affordability(frame: pd.DataFrame) -> pd.DataFrame:
    """Derived features: the same code runs offline (training) and online (serving)."""
    monthly_rate = frame["interest_rate"] / 1200
    term = frame["term_months"].astype("float64")
    payment = frame["loan_amount"] * monthly_rate / (1 - (1 + monthly_rate) ** -term)
    return pd.DataFrame(
        {
            "loan_to_income": frame["loan_amount"] / frame["annual_income"],
            "payment_to_income": 12 * payment / frame["annual_income"],
        }
    )


def definitions(applications_file: Path) -> FeatureService:
    applicant = Entity("applicant", join_keys="applicant_id", description="a loan applicant")
    bureau = FeatureView(
        name="credit_bureau",
        entities=[applicant],
        source=DatasetSource("credit-bureau@latest"),
        features={
            "credit_score": "int64",
            "num_credit_lines": "int64",
            "num_delinquencies": "int64",
            "debt_to_income": "float64",
        },
        timestamp="pulled_at",
        ttl=timedelta(days=90),
        description="credit-bureau pulls",
    )
    application = FeatureView(
        name="applications",
        entities=[applicant],
        source=ParquetSource(applications_file),
        features=APPLICATION,
        timestamp="application_time",
        ttl=timedelta(days=90),
        transformation=affordability,
        derived={"loan_to_income": "float64", "payment_to_income": "float64"},
        description="what the applicant asked for, and what they earn",
    )
    return FeatureService("credit_model", [bureau, application])


def make_sources(n_rows: int, seed: int, folder: Path) -> pd.DataFrame:
    """The applications (a Parquet file) and the bureau pulls (a dataset version)."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    apps = make_credit_applications(n_rows, seed=seed, start=now - pd.Timedelta(days=40), days=30)
    folder.mkdir(parents=True, exist_ok=True)
    apps[["applicant_id", "application_time", *APPLICATION]].to_parquet(
        folder / "applications.parquet"
    )
    rng = np.random.default_rng(seed)
    before = apps[["applicant_id", *BUREAU]].assign(
        pulled_at=apps["application_time"] - pd.Timedelta(days=1)
    )
    after = before.assign(  # after the loan: more debt, one more line, a lower score
        pulled_at=apps["application_time"] + pd.Timedelta(days=5),
        credit_score=before["credit_score"] - rng.integers(5, 60, len(apps)),
        num_credit_lines=before["num_credit_lines"] + 1,
        debt_to_income=(before["debt_to_income"] + 0.05).clip(upper=0.95),
    )
    cairn.data.snapshot(pd.concat([before, after], ignore_index=True), "credit-bureau")
    return apps[["applicant_id", "application_time", "defaulted"]]


def model_inputs(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The features as the model takes them: numbers as floats (NaN for missing), text as text."""
    return pd.DataFrame(
        {
            c: frame[c].astype("object") if c in CATEGORICAL else frame[c].astype("float64")
            for c in columns
        }
    )


def train(training: pd.DataFrame, columns: list[str]) -> tuple[Any, float]:
    X, y = model_inputs(training, columns), training["defaulted"]
    split = int(len(X) * 0.8)  # the applications are in time order: train on the past
    model = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
            remainder="passthrough",
        ),
        HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05),
    ).fit(X[:split], y[:split])
    auc = roc_auc_score(y[split:], model.predict_proba(X[split:])[:, 1])
    return model, float(auc)


def run(
    n_rows: int = 5_000, seed: int = 0, folder: str | Path = "feature-data", show: bool = True
) -> dict[str, Any]:
    """The whole demo; returns what it found (the tests check it)."""
    say = print if show else (lambda *_: None)
    labels = make_sources(n_rows, seed, Path(folder).absolute())
    service = definitions(Path(folder).absolute() / "applications.parquet")
    applied = features.apply(service)
    say("applied:", ", ".join(f"{a.kind} {a.ref}" for a in applied))

    training_version = features.training_set(
        labels, service, "credit-training", description="point-in-time features + labels"
    )
    training = cairn.data.load(training_version)
    columns = service.feature_names
    model, auc = train(training, columns)
    say(f"training set {training_version.ref}: {len(training):,} rows; holdout ROC AUC {auc:.3f}")

    done = features.materialize()
    say("materialized:", ", ".join(f"{m.view} {m.rows:,} entities" for m in done))

    applicant_id = int(labels["applicant_id"].iloc[-1])
    request = pd.DataFrame({"applicant_id": [applicant_id]})  # only the id
    filled = features.fill_request(request, service)
    probability = float(model.predict_proba(model_inputs(filled, columns))[0, 1])
    say(f"request {{'applicant_id': {applicant_id}}} -> default probability {probability:.3f}")
    say(filled.T.to_string(header=False))

    with cairn.start_run(experiment="feature-store-demo") as run:
        run.log_input(training_version)
        version = run.log_model(
            model, name="credit-features", input_example=model_inputs(training.head(), columns)
        )
    with serving_in_background(version.ref, "--features", service.name) as url:
        served = httpx.post(
            f"{url}/v1/models/credit-features/predict",
            json={"records": [{"applicant_id": applicant_id}]},  # only the id, over HTTP
        ).json()
    say(
        f"cairn serve {version.ref} --features {service.name}: the same request over HTTP -> "
        f"{served['probabilities'][0][1]:.3f}"
    )

    skew = features.check_skew(service, sample=200)
    say(
        f"skew check on {skew.entities} applicants: {'no mismatch' if skew.ok else skew.mismatch_counts()}"
    )
    return {
        "training_set": training_version.ref,
        "training_rows": len(training),
        "auc": auc,
        "applicant_id": applicant_id,
        "online": filled.iloc[0].to_dict(),
        "probability": probability,
        "served": served,
        "skew_ok": skew.ok,
        "features": columns,
    }


if __name__ == "__main__":
    run()
