"""Live performance: the model's predictions scored against the labels sent as feedback."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def performance(logged: pd.DataFrame) -> dict[str, float]:
    """Metrics of the labelled rows of a prediction-log window (``prediction``, ``label``,
    ``probabilities`` columns), by name: ``performance.labelled`` (rows with a label) and,
    when there are any, accuracy (plus precision, recall, F1 and ROC AUC for two classes) or,
    for numeric predictions, MAE and RMSE."""
    if logged.empty or "label" not in logged.columns:
        return {"performance.labelled": 0.0}
    labelled = logged[logged["label"].notna()]
    out = {"performance.labelled": float(len(labelled))}
    if labelled.empty:
        return out
    truth, predicted = labelled["label"].to_numpy(), labelled["prediction"].to_numpy()
    if _is_continuous(predicted):
        error = truth.astype(np.float64) - predicted.astype(np.float64)
        out["performance.mae"] = float(np.mean(np.abs(error)))
        out["performance.rmse"] = float(np.sqrt(np.mean(error**2)))
        return out
    truth, predicted = _comparable(truth), _comparable(predicted)
    out["performance.accuracy"] = float(np.mean(truth == predicted))
    classes = np.unique(np.concatenate([truth, predicted]))
    if len(classes) == 2:
        positive = classes[-1]  # "1", "True", or the later name
        scores = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}
        for name, score in scores.items():
            out[f"performance.{name}"] = float(
                score(truth, predicted, pos_label=positive, zero_division=0.0)
            )
        probabilities = labelled.get("probabilities")
        if probabilities is not None and probabilities.notna().all() and len(set(truth)) == 2:
            positive_score = np.asarray(probabilities.tolist(), dtype=np.float64)[:, -1]
            out["performance.roc_auc"] = float(skm.roc_auc_score(truth == positive, positive_score))
    return out


def _comparable(values: np.ndarray) -> np.ndarray:
    """Class labels as text; numbers first as floats, since labels joined from feedback come
    back as 1.0 where the model predicted 1."""
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    if not np.isnan(numbers).any():
        return numbers.astype(str)
    return values.astype(str)


def _is_continuous(values: np.ndarray) -> bool:
    if values.dtype.kind == "f":
        return not np.all(np.mod(values, 1) == 0)
    if values.dtype.kind == "O":
        return any(isinstance(v, float) and not v.is_integer() for v in values[:100])
    return False
