"""Each check passes and fails for the right reason on real data: the credit generator and
scikit-learn's bundled data sets. Contexts are built around fitted models without a store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import FEATURES, biased_labels, context_for, credit_model, forest
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cairn.data import snapshot
from cairn.evaluation import Verdict
from cairn.evaluation.checks import (
    BudgetCheck,
    DataCheck,
    FairnessCheck,
    MetricCheck,
    RegressionCheck,
    RobustnessCheck,
    SliceCheck,
)


def run(check, ctx):
    return check.run(ctx)


# --- metric thresholds ---------------------------------------------------------------------------


def test_metric_threshold_passes_a_good_model_and_fails_a_high_bar(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    passed = run(MetricCheck(metric="auc", min=0.7), ctx)
    assert passed.verdict is Verdict.PASSED and 0.75 < passed.value < 0.9
    failed = run(MetricCheck(metric="auc", min=0.95), ctx)
    assert failed.verdict is Verdict.FAILED
    assert "below 0.95" in failed.message and failed.threshold == ">= 0.95"


def test_calibration_and_baseline_fail_a_badly_calibrated_model(credit_train, credit_holdout):
    naive = context_for(credit_model(credit_train, GaussianNB()), credit_holdout)
    sound = context_for(credit_model(credit_train), credit_holdout)
    assert run(MetricCheck(metric="ece", max=0.05), sound).verdict is Verdict.PASSED
    ece = run(MetricCheck(metric="ece", max=0.05), naive)
    assert ece.verdict is Verdict.FAILED and ece.value > 0.05
    better_than_prior = MetricCheck(metric="log_loss", max="baseline")
    assert run(better_than_prior, sound).verdict is Verdict.PASSED
    worse = run(better_than_prior, naive)
    assert worse.verdict is Verdict.FAILED
    assert worse.value > worse.detail["baseline"] and "baseline" in worse.threshold


def test_threshold_metrics_use_the_decision_threshold(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    strict = run(MetricCheck(metric="recall", min=0.5, threshold=0.5), ctx)
    lenient = run(MetricCheck(metric="recall", min=0.5, threshold=0.1), ctx)
    assert strict.verdict is Verdict.FAILED and lenient.verdict is Verdict.PASSED
    assert lenient.detail["decision_threshold"] == 0.1


def test_regression_metrics_on_the_diabetes_set():
    data = load_diabetes(as_frame=True).frame
    train, test = train_test_split(data, test_size=0.3, random_state=0)
    features = [c for c in data.columns if c != "target"]
    model = LinearRegression().fit(train[features], train["target"])
    ctx = context_for(model, test, features=features)
    assert ctx.label == "target" and ctx.task == "regression"
    r2 = run(MetricCheck(metric="r2", min="baseline"), ctx)
    assert r2.verdict is Verdict.PASSED and r2.value > 0.3
    rmse = run(MetricCheck(metric="rmse", max=30.0), ctx)
    assert rmse.verdict is Verdict.FAILED and "above 30" in rmse.message


# --- regression against earlier versions ---------------------------------------------------------


def test_a_retrain_with_another_seed_is_not_flagged(credit_train, credit_holdout):
    champion, retrain = forest(credit_train, seed=0), forest(credit_train, seed=1)
    ctx = context_for(retrain, credit_holdout, references={"champion": (champion, None)})
    for metric in ("auc", "log_loss", "accuracy"):
        result = run(RegressionCheck(metric=metric, against=["champion"]), ctx)
        assert result.verdict is Verdict.PASSED, result.message
        comparison = result.detail["comparisons"]["champion"]
        assert comparison["ci_low"] < 0 < comparison["ci_high"] or metric == "accuracy"


def test_a_deliberately_worse_model_is_flagged(credit_train, credit_holdout):
    champion = forest(credit_train, seed=0)
    stumps = credit_model(
        credit_train, RandomForestClassifier(n_estimators=3, max_depth=2, random_state=0)
    )
    ctx = context_for(stumps, credit_holdout, references={"champion": (champion, None)})
    result = run(RegressionCheck(metric="auc", against=["champion"], tolerance=0.005), ctx)
    assert result.verdict is Verdict.FAILED
    comparison = result.detail["comparisons"]["champion"]
    assert comparison["ci_high"] < -0.005 and comparison["difference"] == result.value
    assert "worse beyond the tolerance" in result.message and "m/2" in result.message


def test_mcnemar_flags_a_worse_classifier_on_the_digits_set():
    digits = load_digits(as_frame=True).frame
    train, test = train_test_split(digits, test_size=0.5, random_state=0)
    features = [c for c in digits.columns if c != "target"]
    champion = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    champion.fit(train[features], train["target"])
    worse = GaussianNB().fit(train[features], train["target"])
    ctx = context_for(
        worse, test, features=features, label="target", references={"champion": (champion, None)}
    )
    result = run(RegressionCheck(metric="accuracy", against=["champion"]), ctx)
    assert result.verdict is Verdict.FAILED
    assert result.detail["comparisons"]["champion"]["p_value"] < 1e-6
    assert "McNemar" in result.message


def test_no_champion_is_skipped_not_passed(good_model, credit_holdout):
    result = run(RegressionCheck(), context_for(good_model, credit_holdout))
    assert result.verdict is Verdict.SKIPPED
    assert "no champion" in result.message and "no previous" in result.message


def test_a_champion_that_cannot_predict_this_data_is_errored(credit_train, credit_holdout):
    extra = credit_train.assign(bureau_flag=1.0)
    champion = credit_model(extra, features=[*FEATURES, "bureau_flag"])
    ctx = context_for(
        credit_model(credit_train),
        credit_holdout,
        references={"champion": (champion, [*FEATURES, "bureau_flag"])},
        example=extra,
    )
    result = run(RegressionCheck(against=["champion"]), ctx)
    assert result.verdict is Verdict.ERRORED and "bureau_flag" in result.message


# --- fairness ------------------------------------------------------------------------------------


def test_fairness_passes_a_sound_model_and_fails_one_taught_biased_labels(
    good_model, credit_train, credit_holdout
):
    check = FairnessCheck(max_demographic_parity_difference=0.15)
    sound = run(check, context_for(good_model, credit_holdout, sensitive=["age_band", "sex"]))
    assert sound.verdict is Verdict.PASSED, sound.message
    groups = sound.detail["attributes"]["age_band"]["groups"]
    assert set(groups) == {"18-25", "26-35", "36-50", "51-65", "65+"}
    assert {"count", "selection_rate", "true_positive_rate", "accuracy"} <= set(groups["18-25"])
    biased = credit_model(biased_labels(credit_train))
    unfair = run(check, context_for(biased, credit_holdout, sensitive=["age_band", "sex"]))
    assert unfair.verdict is Verdict.FAILED
    assert "age_band: demographic parity difference" in unfair.message
    assert "sex" not in unfair.message  # judged, and fine, on its own
    assert unfair.value > 0.2


def test_fairness_measures_agree_with_fairlearn_on_every_row(good_model, credit_holdout):
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    ctx = context_for(good_model, credit_holdout, sensitive=["age_band"])
    check = FairnessCheck(
        max_demographic_parity_difference=1.0, max_equalized_odds_difference=1.0, min_group_size=1
    )
    measures = run(check, ctx).detail["attributes"]["age_band"]["measures"]
    decided = ctx.outcomes.predicted_codes
    truth = ctx.outcomes.positive.astype(int)
    groups = credit_holdout["age_band"].astype(str)
    assert measures["demographic_parity_difference"]["value"] == pytest.approx(
        demographic_parity_difference(truth, decided, sensitive_features=groups)
    )
    assert measures["equalized_odds_difference"]["value"] == pytest.approx(
        equalized_odds_difference(truth, decided, sensitive_features=groups)
    )


def test_small_groups_are_listed_not_judged(good_model, credit_holdout):
    check = FairnessCheck(max_demographic_parity_difference=0.15, min_group_size=1000)
    result = run(check, context_for(good_model, credit_holdout, sensitive=["age_band"]))
    small = result.detail["attributes"]["age_band"]["too_small"]
    assert "65+" in small and small["65+"] < 1000
    assert "65+" not in result.detail["attributes"]["age_band"]["groups"]


def test_fairness_without_a_sensitive_attribute_is_skipped(good_model, credit_holdout):
    result = run(
        FairnessCheck(max_demographic_parity_difference=0.1),
        context_for(good_model, credit_holdout),
    )
    assert result.verdict is Verdict.SKIPPED and "sensitive" in result.message


def test_fairness_of_a_regressor_by_group_metric_gap():
    data = load_diabetes(as_frame=True, scaled=False).frame
    features = [c for c in data.columns if c not in ("target", "sex")]
    model = LinearRegression().fit(data[features], data["target"])
    ctx = context_for(model, data, features=features, sensitive=["sex"])
    result = run(FairnessCheck(metric="mae", max_metric_difference=1.0), ctx)
    assert result.verdict is Verdict.FAILED and "sex: metric difference" in result.message
    assert set(result.detail["attributes"]["sex"]["groups"]) == {"1.0", "2.0"}


# --- slices --------------------------------------------------------------------------------------


def test_slices_name_the_worst_and_fail_a_high_bound(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    assert run(SliceCheck(metric="auc", min=0.55), ctx).verdict is Verdict.PASSED
    result = run(SliceCheck(metric="auc", min=0.7), ctx)
    assert result.verdict is Verdict.FAILED
    worst = result.detail["slices"][0]
    assert worst["value"] == result.value and not worst["ok"]
    assert f"{worst['feature']}={worst['slice']}" in result.message
    kinds = {s["feature"] for s in result.detail["slices"]}
    assert {"home_ownership", "credit_score"} <= kinds


def test_slices_below_the_minimum_size_are_not_judged(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    result = run(SliceCheck(features=["loan_purpose"], min=0.99, min_size=800), ctx)
    assert {s["slice"] for s in result.detail["too_small"]} >= {"bnpl_refinance"}
    assert all(s["size"] >= 800 for s in result.detail["slices"])


def test_slices_all_too_small_are_skipped_not_passed(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout.head(150))
    result = run(SliceCheck(metric="auc", min=0.6, min_size=200), ctx)
    assert result.verdict is Verdict.SKIPPED and "no slice of 200+ rows" in result.message


def test_slices_with_a_gap_to_the_whole_set(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    result = run(SliceCheck(features=["home_ownership"], max_gap=0.0001), ctx)
    assert result.verdict is Verdict.FAILED  # some category is below the overall AUC
    assert result.threshold.startswith(">= ")


# --- robustness ----------------------------------------------------------------------------------


def test_robustness_passes_a_model_that_imputes(good_model, credit_holdout):
    result = run(RobustnessCheck(rows=1000), context_for(good_model, credit_holdout))
    assert result.verdict is Verdict.PASSED, result.message
    assert result.detail["stability"]["noise"] > 0.95
    assert "missing credit_score" in result.detail["stability"]


def test_robustness_fails_a_model_that_cannot_take_missing_values():
    iris = load_iris(as_frame=True).frame
    features = [c for c in iris.columns if c != "target"]
    model = LogisticRegression(max_iter=1000).fit(iris[features], iris["target"])
    result = run(RobustnessCheck(rows=150), context_for(model, iris, features=features))
    assert result.verdict is Verdict.FAILED
    assert "cannot predict with missing values in 'sepal length (cm)'" in result.message


def test_robustness_fails_a_model_that_noise_flips():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000)})
    frame["label"] = (frame["x"] > 0).astype(int)
    model = LogisticRegression(C=1e6).fit(frame[["x"]], frame["label"])
    result = run(
        RobustnessCheck(noise=0.5, missing_rate=0.0),
        context_for(model, frame, features=["x"], label="label"),
    )
    assert result.verdict is Verdict.FAILED and "unstable: noise" in result.message


# --- budgets -------------------------------------------------------------------------------------


def test_budget_passes_generous_bounds_and_fails_tight_ones(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    loose = run(BudgetCheck(max_row_ms=10_000.0, max_batch_ms=60_000.0, max_size_mb=10.0), ctx)
    assert loose.verdict is Verdict.PASSED
    assert set(loose.detail["measured"]) == {"row_ms", "batch_ms", "size_mb"}
    tight = run(BudgetCheck(max_row_ms=1e-6, max_size_mb=1e-6, repeat=2), ctx)
    assert tight.verdict is Verdict.FAILED
    assert "row_ms" in tight.message and "size_mb" in tight.message


# --- data ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("use_store")
def test_data_check_against_the_training_data_schema(good_model, credit_train, credit_holdout):
    trained_on = snapshot(credit_train, name="credit-train")
    ctx = context_for(good_model, credit_holdout, sensitive=["age_band"])
    ctx.registry.datasets = [trained_on]
    passed = run(DataCheck(), ctx)
    assert passed.verdict is Verdict.PASSED and "credit-train@1" in passed.message
    shifted = credit_holdout.copy()
    shifted.loc[shifted.index[:40], "credit_score"] = np.nan  # never missing in training
    shifted["home_ownership"] = shifted["home_ownership"].cat.add_categories(["boat"])
    shifted.loc[shifted.index[:3], "home_ownership"] = "boat"
    ctx.frame = shifted
    failed = run(DataCheck(), ctx)
    assert failed.verdict is Verdict.FAILED
    assert "credit_score" in failed.message and "home_ownership" in failed.message
    columns = {v["column"] for v in failed.detail["violations"]}
    assert columns == {"credit_score", "home_ownership"}


def test_data_check_without_training_data_uses_the_signature(good_model, credit_holdout):
    ctx = context_for(good_model, credit_holdout)
    result = run(DataCheck(), ctx)
    assert result.verdict is Verdict.PASSED and "signature" in result.message
