"""Autologging for scikit-learn: every fit records its params, training metrics and model.

``cairn.autolog()`` wraps ``fit``, ``fit_transform`` and ``fit_predict`` of every scikit-learn
estimator class. Each outermost call
gets a run of its own (a child run when one is already active, so that several fits in one run
never clash on params); fits made inside it, such as a grid search's, are not logged again.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import warnings
from typing import Any

from cairn.tracking.fluent import start_run
from cairn.tracking.run import ActiveRun

log = logging.getLogger(__name__)

MODEL_PATH = "model/model.skops"
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_originals: dict[tuple[type, str], Any] = {}
_config: dict[str, Any] = {"experiment": None, "log_models": True}
_depth = threading.local()


def autolog(
    experiment: str | None = None, *, log_models: bool = True, disable: bool = False
) -> None:
    """Switch scikit-learn autologging on (or off with ``disable=True``)."""
    if disable:
        for (cls, method), original in _originals.items():
            setattr(cls, method, original)
        _originals.clear()
        return
    _config.update(experiment=experiment, log_models=log_models)
    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classes = [cls for _, cls in all_estimators()]
    for cls in classes:
        for method in FIT_METHODS:
            for klass in cls.__mro__:  # wrap where the method is defined, once
                if method in vars(klass):
                    original = vars(klass)[method]
                    # plain functions only: available_if descriptors guard methods themselves
                    wrappable = inspect.isfunction(original) and klass.__module__.startswith(
                        "sklearn"
                    )
                    if wrappable and (klass, method) not in _originals:
                        _originals[klass, method] = original
                        setattr(klass, method, _wrap(original))
                    break


def _wrap(fit):  # noqa: ANN001, ANN202
    @functools.wraps(fit)
    def logged_fit(self, *args, **kwargs):  # noqa: ANN001, ANN202
        if getattr(_depth, "value", 0) > 0:
            return fit(self, *args, **kwargs)
        _depth.value = 1
        try:
            with start_run(_config["experiment"], name=type(self).__name__) as run:
                run.log_params(_params(self))
                run.set_tags(
                    {"estimator_class": f"{type(self).__module__}.{type(self).__qualname__}"}
                )
                result = fit(self, *args, **kwargs)
                X = args[0] if args else kwargs.get("X")  # noqa: N806
                y = args[1] if len(args) > 1 else kwargs.get("y")
                if X is not None:
                    _log_training_metrics(run, self, X, y)
                if _config["log_models"]:
                    _log_model(run, self)
            return result
        finally:
            _depth.value = 0

    return logged_fit


def _params(estimator: Any) -> dict[str, Any]:
    """get_params(deep=True), with nested estimators named by class rather than repr'd whole."""
    out = {}
    for key, value in estimator.get_params(deep=True).items():
        if hasattr(value, "get_params"):
            value = type(value).__name__
        text = repr(value) if isinstance(value, float) else str(value)
        out[key] = text if len(text) <= 500 else text[:497] + "..."
    return out


def _log_training_metrics(run: ActiveRun, estimator: Any, X: Any, y: Any) -> None:  # noqa: N803
    if y is None:
        return
    from sklearn.base import is_classifier, is_regressor

    try:
        if is_classifier(estimator):
            values = _classifier_metrics(estimator, X, y)
        elif is_regressor(estimator):
            values = _regressor_metrics(estimator, X, y)
        else:
            return
    except Exception:  # a metric that cannot be computed must not fail the user's fit
        log.warning(
            "cairn autolog: training metrics skipped for %s",
            type(estimator).__name__,
            exc_info=True,
        )
        return
    run.log_metrics({f"training_{k}": v for k, v in values.items()}, step=0)


def _classifier_metrics(estimator: Any, X: Any, y: Any) -> dict[str, float]:  # noqa: N803
    import numpy as np
    from sklearn import metrics

    predicted = estimator.predict(X)
    binary = len(np.unique(y)) == 2
    average = "binary" if binary else "weighted"
    pos_label = estimator.classes_[1] if binary else 1
    values = {
        "accuracy": metrics.accuracy_score(y, predicted),
        "precision": metrics.precision_score(
            y, predicted, average=average, pos_label=pos_label, zero_division=0
        ),
        "recall": metrics.recall_score(
            y, predicted, average=average, pos_label=pos_label, zero_division=0
        ),
        "f1": metrics.f1_score(y, predicted, average=average, pos_label=pos_label, zero_division=0),
    }
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        values["log_loss"] = metrics.log_loss(y, proba, labels=estimator.classes_)
        if binary:
            values["roc_auc"] = metrics.roc_auc_score(y, proba[:, 1])
        else:
            values["roc_auc"] = metrics.roc_auc_score(
                y, proba, multi_class="ovr", labels=estimator.classes_
            )
    return {k: float(v) for k, v in values.items()}


def _regressor_metrics(estimator: Any, X: Any, y: Any) -> dict[str, float]:  # noqa: N803
    from sklearn import metrics

    predicted = estimator.predict(X)
    mse = metrics.mean_squared_error(y, predicted)
    return {
        "mse": float(mse),
        "rmse": float(mse**0.5),
        "mae": float(metrics.mean_absolute_error(y, predicted)),
        "r2": float(metrics.r2_score(y, predicted)),
    }


def _log_model(run: ActiveRun, estimator: Any) -> None:
    """Save the fitted estimator with skops, which loads without running arbitrary pickles."""
    try:
        import skops.io

        data = skops.io.dumps(estimator)
    except Exception:
        log.warning(
            "cairn autolog: could not save %s with skops", type(estimator).__name__, exc_info=True
        )
        return
    run.service.log_object(run.id, data, MODEL_PATH)
