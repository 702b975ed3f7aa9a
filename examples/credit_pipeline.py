"""The credit-risk training pipeline of the demo: a versioned dataset in, a scored model out.

Run it alone with `cairn pipelines run credit_pipeline:training --param model=gbm` (from this
folder, or with it on PYTHONPATH). Each step is cached: running it again with the same code,
parameters and data executes nothing.
"""

from __future__ import annotations

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import cairn
from cairn.datasets import credit

FEATURES = list(credit.NUMERIC) + ["home_ownership", "loan_purpose"]


@cairn.step
def load(dataset: str) -> pd.DataFrame:
    """The dataset version named by ``dataset`` (e.g. credit-applications@1), recorded as input."""
    import cairn.data

    version = cairn.data.get_version(dataset)
    cairn.active_run().log_input(version)
    return cairn.data.load(version.ref)


@cairn.step
def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(
        frame, test_size=0.25, random_state=seed, stratify=frame[credit.LABEL]
    )
    return train, test


@cairn.step(cpus=2)
def train(frame: pd.DataFrame, model: str, lr: float, seed: int) -> Pipeline:
    prepare = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(credit.NUMERIC),
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["home_ownership", "loan_purpose"]),
        ]
    )
    if model == "gbm":
        estimator = HistGradientBoostingClassifier(
            learning_rate=lr, max_iter=200, random_state=seed
        )
    else:
        estimator = LogisticRegression(C=1.0 / lr, max_iter=1000)
    return make_pipeline(prepare, estimator).fit(frame[FEATURES], frame[credit.LABEL])


@cairn.step
def evaluate(fitted: Pipeline, frame: pd.DataFrame) -> dict:
    proba = fitted.predict_proba(frame[FEATURES])[:, 1]
    scores = {
        "auc": float(roc_auc_score(frame[credit.LABEL], proba)),
        "log_loss": float(log_loss(frame[credit.LABEL], proba)),
    }
    cairn.active_run().log_metrics(scores)
    return scores


@cairn.pipeline(name="credit-training")
def training(
    dataset: str = "credit-applications@latest", model: str = "gbm", lr: float = 0.05, seed: int = 0
):
    train_set, test_set = split(load(dataset), seed)
    fitted = train(train_set, model, lr, seed)
    return {"model": fitted, "scores": evaluate(fitted, test_set)}
