"""Real models on the credit generator's data, shared by the registry and serving tests."""

from __future__ import annotations

import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cairn.datasets import CREDIT_CATEGORICAL, CREDIT_FEATURES, CREDIT_LABEL


def credit_pipeline(frame: pd.DataFrame, C: float = 1.0) -> Pipeline:  # noqa: N803
    """One-hot categoricals, imputed and scaled numbers, logistic regression."""
    features = frame[list(CREDIT_FEATURES)]
    categorical = [c for c in CREDIT_CATEGORICAL if c in features]
    numeric = [c for c in features if c not in categorical]
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ),
        LogisticRegression(C=C, max_iter=300),
    ).fit(features, frame[CREDIT_LABEL])
