"""Suites in code and YAML, templates, and bad input refused naming the column or the key."""

from __future__ import annotations

import pytest
from evaluation_helpers import FEATURES, context_for, credit_model

from cairn.errors import InvalidInput, NotFound
from cairn.evaluation import Suite, Verdict, load_suite, template_for
from cairn.evaluation.checks import FairnessCheck, MetricCheck, RegressionCheck


def test_yaml_round_trip_and_digest(tmp_path):
    suite = Suite(
        "credit-standard",
        [
            MetricCheck(metric="auc", min=0.75),
            RegressionCheck(metric="auc", against=["champion"], tolerance=0.005),
            FairnessCheck(max_demographic_parity_difference=0.1, blocking=False),
        ],
        label="defaulted",
        sensitive=["age_band"],
    )
    path = tmp_path / "suite.yaml"
    suite.to_yaml(path)
    again = load_suite(path)
    assert again == suite and again.digest == suite.digest
    assert again.to_dict()["checks"][1] == {
        "kind": "regression",
        "metric": "auc",
        "against": ["champion"],
        "tolerance": 0.005,
    }
    assert suite.with_options(sensitive=["sex"]).digest != suite.digest


def test_templates_for_each_task_validate():
    for task in ("binary", "multiclass", "regression"):
        suite = template_for(task)
        suite.validate(task)
        assert load_suite(suite.name) == suite
    binary = template_for("binary")
    assert {c.kind for c in binary.checks} == {
        "metric",
        "regression",
        "fairness",
        "slices",
        "robustness",
        "budget",
        "data",
    }


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("name: s\nchecks:\n  - kind: metric\n    minn: 1\n", "s.yaml.checks[0].minn", 1),
        ("name: s\nchecks:\n  - kind: vibes\n", "s.yaml.checks[0].kind", "vibes"),
        ("name: s\nchecks: nope\n", "s.yaml.checks", "nope"),
        ("name: s\ncolour: red\nchecks: []\n", "s.yaml.colour", "red"),
        ("name: bad name\nchecks:\n  - kind: data\n", "suite.name", "bad name"),
    ],
)
def test_bad_suite_files_name_the_key(tmp_path, text, field, value):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        Suite.from_yaml(path)
    assert (caught.value.field, caught.value.value) == (field, value)


def test_a_check_unfit_for_the_task_is_named():
    suite = Suite("s", [MetricCheck(metric="auc", min=0.7), MetricCheck(metric="rmse", max=3)])
    with pytest.raises(InvalidInput, match="check 1") as caught:
        suite.validate("binary")
    assert caught.value.field == "checks[1].metric"
    with pytest.raises(InvalidInput) as caught:
        Suite("s", [RegressionCheck(against=["boss"])]).validate("binary")
    assert caught.value.field == "checks[0].against"


def test_missing_suite_file_and_unknown_template():
    with pytest.raises(NotFound):
        load_suite("nowhere.yaml")
    with pytest.raises(InvalidInput, match="binary-classification"):
        load_suite("nonsense")


# --- bad evaluation input ------------------------------------------------------------------------


def test_missing_label_column_is_named(good_model, credit_holdout):
    with pytest.raises(InvalidInput, match="'defaulted' is not a column") as caught:
        context_for(good_model, credit_holdout.drop(columns=["defaulted"]), label="defaulted")
    assert (caught.value.field, caught.value.value) == ("label", "defaulted")
    with pytest.raises(InvalidInput, match="no column is recognisably the label") as caught:
        context_for(good_model, credit_holdout.drop(columns=["defaulted"]))
    assert caught.value.field == "label"


def test_missing_label_values_are_named(good_model, credit_holdout):
    holes = credit_holdout.assign(defaulted=credit_holdout["defaulted"].astype(float))
    holes.loc[holes.index[:7], "defaulted"] = float("nan")
    with pytest.raises(InvalidInput, match="'defaulted' has 7 missing") as caught:
        context_for(good_model, holes, label="defaulted")
    assert caught.value.field == "defaulted"


def test_labels_the_model_does_not_know_are_named(good_model, credit_holdout):
    odd = credit_holdout.assign(defaulted=credit_holdout["defaulted"] * 2)
    with pytest.raises(InvalidInput, match="holds \\[2\\]") as caught:
        context_for(good_model, odd, label="defaulted")
    assert caught.value.field == "defaulted"


def test_an_absent_sensitive_attribute_is_named(good_model, credit_holdout):
    with pytest.raises(InvalidInput, match="'ethnicity' is not a column") as caught:
        context_for(good_model, credit_holdout, sensitive=["age_band", "ethnicity"])
    assert (caught.value.field, caught.value.value) == ("sensitive", "ethnicity")


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda f: f.drop(columns=["credit_score"]), "credit_score"),
        (lambda f: f.assign(credit_score=f["credit_score"].astype(str)), "credit_score"),
        (
            lambda f: f.assign(loan_purpose=f["loan_purpose"].astype(str).str.upper()),
            "loan_purpose",
        ),
    ],
)
def test_an_evaluation_set_unlike_training_names_the_column(
    good_model, credit_holdout, change, column
):
    with pytest.raises(InvalidInput, match=column) as caught:
        context_for(good_model, change(credit_holdout), example=credit_holdout)
    assert caught.value.field == column


def test_a_check_that_cannot_run_is_errored_and_the_rest_still_runs(credit_train, credit_holdout):
    """On a set with no defaults, AUC is undefined: that check errors; the others run."""
    model = credit_model(credit_train)
    no_defaults = credit_holdout[credit_holdout["defaulted"] == 0]
    suite = Suite(
        "s",
        [
            MetricCheck(metric="auc", min=0.7),
            MetricCheck(metric="brier", max=0.5),
            FairnessCheck(sensitive=["age_band"], max_metric_difference=1.0),
        ],
    )
    ctx = context_for(model, no_defaults, features=FEATURES, label="defaulted")
    results = suite.run(ctx)
    assert [r.verdict for r in results] == [Verdict.ERRORED, Verdict.PASSED, Verdict.PASSED]
    assert "could not run" in results[0].message and "both classes" in results[0].message
    assert results[0].blocks and not results[1].blocks


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_templates_run_on_bundled_data_without_errors(task):
    from sklearn.datasets import load_diabetes, load_wine
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    loader, model = {
        "multiclass": (
            load_wine,
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        ),
        "regression": (load_diabetes, LinearRegression()),
    }[task]
    frame = loader(as_frame=True).frame
    features = [c for c in frame.columns if c != "target"]
    model.fit(frame[features], frame["target"])
    ctx = context_for(model, frame, features=features, label="target")
    suite = template_for(task)
    suite.validate(ctx.task)
    results = {r.kind + ":" + r.name: r for r in suite.run(ctx)}
    assert not [r.message for r in results.values() if r.verdict is Verdict.ERRORED]
    assert all(r.verdict is Verdict.PASSED for r in results.values() if r.kind == "metric")
