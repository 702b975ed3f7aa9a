"""scikit-learn autologging: params, training metrics and a loadable model per outermost fit."""

from __future__ import annotations

import pytest
import skops.io
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import cairn
from cairn.tracking.autolog import MODEL_PATH


@pytest.fixture
def autologging():
    cairn.autolog(experiment="auto")
    yield
    cairn.autolog(disable=True)


def test_classifier_fit_records_params_metrics_and_model(autologging):
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=500)).fit(X, y)
    [run] = cairn.Client().search_runs("auto")
    assert run.name == "Pipeline"
    assert run.params["logisticregression__C"] == "0.3"
    assert 0.95 < run.metrics["training_roc_auc"] <= 1.0
    assert 0.9 < run.metrics["training_accuracy"] <= 1.0
    assert run.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    data = cairn.Client().load_artifact(run.id, MODEL_PATH)
    loaded = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    assert (loaded.predict(X[:50]) == model.predict(X[:50])).all()


def test_regressor_metrics(autologging):
    X, y = load_diabetes(return_X_y=True)
    Ridge(alpha=0.5).fit(X, y)
    [run] = cairn.Client().search_runs("auto")
    assert run.params["alpha"] == "0.5"
    assert run.metrics["training_rmse"] == pytest.approx(run.metrics["training_mse"] ** 0.5)
    assert 0.3 < run.metrics["training_r2"] < 0.7


def test_inner_fits_of_a_grid_search_are_not_logged_again(autologging):
    X, y = load_breast_cancer(return_X_y=True)
    GridSearchCV(LogisticRegression(max_iter=5000), {"C": [0.1, 1.0]}, cv=2).fit(X[:200], y[:200])
    runs = cairn.Client().search_runs("auto")
    assert [r.name for r in runs] == ["GridSearchCV"]


def test_fit_inside_an_active_run_becomes_its_child(autologging):
    X, y = load_breast_cancer(return_X_y=True)
    with cairn.start_run(experiment="manual") as parent:
        LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
        LogisticRegression(C=2.0, max_iter=5000).fit(X, y)  # would clash on params in one run
    children = cairn.Client().search_runs(filter=f"parent_id = '{parent.id}'")
    assert sorted(r.params["C"] for r in children) == ["1.0", "2.0"]


def test_disable_restores_plain_fit():
    cairn.autolog(experiment="auto")
    cairn.autolog(disable=True)
    X, y = load_breast_cancer(return_X_y=True)
    LogisticRegression(max_iter=5000).fit(X, y)
    assert len(cairn.Client().search_runs()) == 0
