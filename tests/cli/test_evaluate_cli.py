"""`cairn evaluate` and `cairn evaluations`, driven as a CI job and a user drive them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

import cairn
import cairn.data
from cairn.cli import app

pytestmark = pytest.mark.usefixtures("use_store")
runner = CliRunner()
SUITE = """\
name: iris-gate
checks:
  - {kind: metric, metric: accuracy, min: 0.9}
  - {kind: regression, metric: accuracy, against: [champion]}
"""


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture
def iris(tmp_path) -> str:
    """iris/1 (logistic regression, champion) and iris/2 (always the majority class)."""
    frame = load_iris(as_frame=True).frame
    features = frame.drop(columns=["target"])
    dataset = cairn.data.snapshot(frame, name="iris")
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    for model in (good, DummyClassifier(strategy="most_frequent")):
        model.fit(features, frame["target"])
        with cairn.start_run(experiment="iris") as run:
            run.log_input(dataset)
            run.log_model(model, name="iris", input_example=features.head())
    assert cli("models", "alias", "iris", "champion", "1").exit_code == 0
    path = tmp_path / "iris-gate.yaml"
    path.write_text(SUITE)
    return str(path)


def test_evaluate_exits_zero_when_the_suite_passes_and_one_when_it_fails(iris, tmp_path):
    report = tmp_path / "report.html"
    passed = cli("evaluate", "iris/1", "--data", "iris@1", "--suite", iris, "--report", str(report))
    assert passed.exit_code == 0, passed.output
    assert "PASSED" in passed.output and "skipped" in passed.output  # it is the champion
    assert "<img" in report.read_text()
    failed = cli("evaluate", "iris/2", "--data", "iris@1", "--suite", iris, "--json")
    assert failed.exit_code == 1
    body = json.loads(failed.output)
    assert body["passed"] is False and body["ref"] == "iris/2"
    verdicts = {c["kind"]: c["verdict"] for c in body["checks"]}
    assert verdicts == {"metric": "failed", "regression": "failed"}


def test_the_template_runs_with_no_configuration(iris):
    done = cli("evaluate", "iris/1", "--data", "iris@1", "--label", "target", "--json")
    body = json.loads(done.output)
    assert body["suite_name"] == "multiclass-classification"
    fairness = next(c for c in body["checks"] if c["kind"] == "fairness")
    assert fairness["verdict"] == "skipped"


def test_policy_gates_the_alias_and_override_is_recorded(iris):
    assert cli("evaluations", "policy", "set", "iris", "--suite", iris).exit_code == 0
    assert "iris-gate" in cli("evaluations", "policy", "show", "iris").output
    refused = runner.invoke(app, ["models", "alias", "iris", "champion", "2"])
    assert refused.exit_code != 0
    assert "no evaluation on suite 'iris-gate'" in str(refused.exception)
    assert cli("evaluate", "iris/2", "--data", "iris@1").exit_code == 1  # uses the policy suite
    moved = cli(
        "models", "alias", "iris", "champion", "2", "--override-reason", "demo of an override"
    )
    assert moved.exit_code == 0 and "1 → 2" in moved.output
    overrides = json.loads(cli("evaluations", "overrides", "iris/2", "--json").output)
    assert [o["reason"] for o in overrides] == ["demo of an override"]
    listed = json.loads(cli("evaluations", "list", "iris", "--json").output)
    assert [e["ref"] for e in listed] == ["iris/2"]
    shown = cli("evaluations", "show", listed[0]["id"][:10])
    assert "FAILED" in shown.output and "accuracy" in shown.output


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["--suite", "iris-gate.yaml"], 1, "FAILED"),  # iris/2 fails: the process says so
        (["--sensitive", "colour"], 2, "sensitive attribute 'colour' is not a column"),
        (["--label", "species"], 2, "label column 'species' is not a column"),
        (["--suite", "nowhere.yaml"], 2, "nowhere.yaml"),
    ],
)
def test_bad_input_exits_two_naming_the_field(iris, args, status, words):
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "evaluate", "iris/2", "--data", "iris@1", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        cwd=Path(iris).parent,
        timeout=120,
    )
    assert done.returncode == status, done.stderr
    assert words in done.stderr + done.stdout


def test_a_refused_alias_move_exits_one_with_the_reason(iris):
    cli("evaluations", "policy", "set", "iris", "--suite", "multiclass-classification")
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "models", "alias", "iris", "champion", "2"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == 1 and "cannot become champion" in done.stderr
