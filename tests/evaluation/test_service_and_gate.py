"""Evaluations recorded in the store with lineage and a report, and the promotion gate, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from evaluation_helpers import FEATURES, biased_labels, credit_model
from sklearn.linear_model import LogisticRegression

import cairn
import cairn.data
import cairn.registry as registry
from cairn import evaluation
from cairn.errors import InvalidInput
from cairn.evaluation import GateFailed, Suite, Verdict
from cairn.evaluation.checks import FairnessCheck, MetricCheck, RegressionCheck
from cairn.store.lineage import edges_to

pytestmark = pytest.mark.usefixtures("use_store")
SENSITIVE = ["age_band", "sex"]


@pytest.fixture
def versions(credit_train, credit_holdout, good_model):
    """credit-risk/1 (champion), /2 (a close retrain), /3 (taught biased labels)."""
    trained_on = cairn.data.snapshot(credit_train, name="credit-train")
    cairn.data.snapshot(credit_holdout, name="credit-holdout")
    models = [
        good_model,
        credit_model(credit_train, LogisticRegression(C=0.5, max_iter=500)),
        credit_model(biased_labels(credit_train)),
    ]
    made = []
    for model in models:
        with cairn.start_run(experiment="credit") as run:
            run.log_input(trained_on)
            made.append(
                run.log_model(
                    model, name="credit-risk", input_example=credit_train[FEATURES].head(20)
                )
            )
    registry.set_alias("credit-risk", "champion", 1)
    return made


@pytest.fixture
def gate_suite(tmp_path):
    """A small policy suite, kept as YAML as a team would."""
    suite = Suite(
        "credit-gate",
        [
            MetricCheck(metric="auc", min=0.7),
            RegressionCheck(metric="auc", tolerance=0.005, resamples=300),
            FairnessCheck(max_demographic_parity_difference=0.15),
        ],
        sensitive=["age_band"],
    )
    path = tmp_path / "credit-gate.yaml"
    suite.to_yaml(path)
    return path


def test_an_evaluation_is_recorded_with_lineage_report_and_json(versions):
    candidate = versions[1]
    found = evaluation.evaluate(candidate.ref, "credit-holdout@1", sensitive=SENSITIVE)
    assert found.passed, [c.message for c in found.checks if c.blocks]
    assert found.suite_name == "binary-classification" and found.row_count == 6000
    assert found.compared_with["champion"]["ref"] == "credit-risk/1"
    assert found.compared_with["previous"]["ref"] == "credit-risk/1"
    kinds = {c.kind for c in found.checks}
    assert kinds == {"metric", "regression", "fairness", "slices", "robustness", "budget", "data"}
    assert all(c.verdict is not Verdict.ERRORED for c in found.checks)
    data = next(c for c in found.checks if c.kind == "data")
    assert "credit-train@1" in data.message
    edges = {(e.src_kind, e.src_id, e.relation) for e in edges_to("evaluation", found.id)}
    holdout = cairn.data.get_version("credit-holdout@1")
    assert edges == {
        ("model_version", candidate.id, "evaluated"),
        ("dataset_version", holdout.id, "evaluation_data"),
    }
    html = evaluation.report_html(found.id)
    assert html.count("<img") >= 4 and "ROC" in html and "credit-risk/1" in html
    assert json.loads(json.dumps(found.to_dict(), allow_nan=False))["checks"][0]["verdict"]
    assert evaluation.get_evaluation(found.id[:8]) == found
    assert [e.id for e in evaluation.list_evaluations("credit-risk")] == [found.id]
    assert evaluation.list_evaluations("credit-risk/1") == []
    assert registry.lineage(candidate.ref)["evaluations"] == [
        {"id": found.id, "suite": "binary-classification", "passed": True}
    ]


def test_a_dataframe_is_snapshotted_so_the_record_names_a_version(versions, credit_holdout):
    suite = Suite("auc-only", [MetricCheck(metric="auc", min=0.7)])
    found = evaluation.evaluate(versions[0].ref, credit_holdout, suite=suite)
    assert found.dataset == "credit-risk-evaluation@1" and found.passed


def test_no_policy_means_no_gate(versions):
    assert evaluation.get_policy("credit-risk") is None
    assert evaluation.require_passing_evaluation(versions[2].ref) is None
    assert registry.set_alias("credit-risk", "champion", 3).to_version == 3


def test_the_gate_needs_a_passing_evaluation_on_the_policy_suite(versions, gate_suite):
    evaluation.set_policy("credit-risk", gate_suite)
    with pytest.raises(GateFailed, match="no evaluation on suite 'credit-gate'") as caught:
        registry.set_alias("credit-risk", "champion", 2)
    assert caught.value.http_status == 409 and caught.value.value == "credit-risk/2"
    other = Suite("auc-only", [MetricCheck(metric="auc", min=0.7)])
    evaluation.evaluate(versions[1].ref, "credit-holdout@1", suite=other)
    with pytest.raises(GateFailed, match="no evaluation on suite 'credit-gate'"):
        evaluation.require_passing_evaluation(versions[1].ref, "deploy")
    passing = evaluation.evaluate(versions[1].ref, "credit-holdout@1")  # the policy's suite
    assert passing.passed and passing.suite_name == "credit-gate"
    assert evaluation.require_passing_evaluation(versions[1].ref, "deploy") == passing
    assert registry.set_alias("credit-risk", "champion", 2).to_version == 2
    assert registry.get_version("credit-risk@champion").version == 2


def test_an_unfair_version_is_stopped_and_an_override_is_recorded(
    versions, gate_suite, monkeypatch
):
    evaluation.set_policy("credit-risk", gate_suite)
    unfair = evaluation.evaluate(versions[2].ref, "credit-holdout@1")
    assert not unfair.passed
    fairness = next(c for c in unfair.checks if c.kind == "fairness")
    assert fairness.verdict is Verdict.FAILED and "age_band" in fairness.message
    with pytest.raises(
        GateFailed, match="failed: .*fairness: demographic parity difference <= 0.15 \\(failed\\)"
    ):
        registry.set_alias("credit-risk", "champion", 3)
    assert registry.get_version("credit-risk@champion").version == 1
    assert [m.to_version for m in registry.alias_history("credit-risk", "champion")] == [1]
    with pytest.raises(InvalidInput) as caught:
        registry.set_alias("credit-risk", "champion", 3, override_reason="  ")
    assert caught.value.field == "override_reason"
    monkeypatch.setenv("CAIRN_USER", "head-of-risk")
    registry.set_alias("credit-risk", "champion", 3, override_reason="regulator-approved pilot")
    assert registry.get_version("credit-risk@champion").version == 3
    (override,) = evaluation.overrides_of(versions[2].ref)
    assert override.reason == "regulator-approved pilot" and override.creator == "head-of-risk"
    assert override.action == "champion" and override.evaluation_id == unfair.id
    assert "fairness" in override.problem
    deploy = evaluation.require_passing_evaluation(
        versions[2].ref, "deploy", override_reason="same pilot"
    )
    assert deploy.action == "deploy" and len(evaluation.overrides_of(versions[2].ref)) == 2


def test_an_evaluation_against_an_old_champion_is_stale(versions, gate_suite):
    evaluation.set_policy("credit-risk", gate_suite)
    assert evaluation.evaluate(versions[1].ref, "credit-holdout@1").passed  # against /1
    registry.set_alias("credit-risk", "champion", 3, override_reason="test a moved champion")
    with pytest.raises(GateFailed, match="compared it with credit-risk/1.*moved since"):
        registry.set_alias("credit-risk", "champion", 2)
    assert evaluation.evaluate(versions[1].ref, "credit-holdout@1").passed  # against /3
    assert registry.set_alias("credit-risk", "champion", 2).to_version == 2


def test_policy_set_show_clear(versions, gate_suite):
    policy = evaluation.set_policy("credit-risk", gate_suite)
    assert policy.suite_name == "credit-gate" and policy.suite["sensitive"] == ["age_band"]
    assert evaluation.get_policy("credit-risk") == policy
    evaluation.clear_policy("credit-risk")
    assert evaluation.get_policy("credit-risk") is None
    template = evaluation.set_policy("credit-risk", sensitive=["sex"])
    assert template.suite_name == "binary-classification" and template.suite["sensitive"] == ["sex"]
    with pytest.raises(InvalidInput, match="action"):
        evaluation.require_passing_evaluation(versions[0].ref, "launch")


def test_deploying_needs_the_gate_too(versions, gate_suite, monkeypatch):
    """cairn deploy: an approved version is still refused without a passing evaluation."""
    from cairn.serving.deployments import deploy, list_deployments

    evaluation.set_policy("credit-risk", gate_suite)
    monkeypatch.setenv("CAIRN_USER", "second-reviewer")
    registry.approve(versions[2].ref)
    registry.approve(versions[1].ref)
    assert not evaluation.evaluate(versions[2].ref, "credit-holdout@1").passed
    with pytest.raises(GateFailed, match="credit-risk/3 cannot go ahead \\(deploy\\)"):
        deploy(versions[2].ref)
    assert list_deployments() == []
    assert evaluation.evaluate(versions[1].ref, "credit-holdout@1").passed
    assert deploy(versions[1].ref).ref == "credit-risk/2"
    forced = deploy(versions[2].ref, target="pilot", override_reason="shadow traffic only")
    assert forced.target == "pilot"
    (override,) = evaluation.overrides_of(versions[2].ref)
    assert override.action == "deploy" and override.reason == "shadow traffic only"


def test_a_process_that_never_imports_evaluation_is_gated_all_the_same(versions, gate_suite):
    """The registry loads the gate itself before an alias moves, so a script (or the CLI) that
    only imports ``cairn.registry`` cannot slip past it."""
    evaluation.set_policy("credit-risk", gate_suite)
    script = (
        "import sys, cairn.registry\n"
        "assert 'cairn.evaluation' not in sys.modules\n"
        "cairn.registry.set_alias('credit-risk', 'champion', 2)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "GateFailed" in done.stderr, done.stderr
    assert registry.get_version("credit-risk@champion").version == 1
