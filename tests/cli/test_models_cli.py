"""`cairn models`, driven as a user drives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

import cairn
import cairn.data
import cairn.models
from cairn.cli import app
from cairn.errors import PermissionDenied

pytestmark = pytest.mark.usefixtures("use_store")
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture
def iris_versions(monkeypatch) -> str:
    """Two versions of model ``iris`` made by user ana; returns the dataset version ref."""
    monkeypatch.setenv("CAIRN_USER", "ana")
    iris = load_iris(as_frame=True)
    dataset = cairn.data.snapshot(iris.frame, name="iris")
    for c in (0.5, 1.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300))
        model.fit(iris.data, iris.target)
        with cairn.start_run(experiment="iris", params={"C": c}) as run:
            run.log_input(dataset)
            run.log_metric("accuracy", model.score(iris.data, iris.target))
            run.log_model(model, name="iris", input_example=iris.data.head())
    return dataset.ref


def test_list_versions_and_show(iris_versions):
    listed = json.loads(cli("models", "list", "--json").output)
    assert [(m["name"], m["latest_version"]) for m in listed] == [("iris", 2)]
    versions = json.loads(cli("models", "versions", "iris", "--json").output)
    assert [v["ref"] for v in versions] == ["iris/2", "iris/1"]
    shown = json.loads(cli("models", "show", "iris/1", "--json").output)
    assert shown["params"] == {"C": "0.5"} and shown["approved"] is False
    assert shown["signature"]["inputs"][0]["name"] == "sepal length (cm)"
    table = cli("models", "show", "iris@latest").output
    assert "iris/2" in table and "petal width (cm)" in table
    assert "iris/1" in cli("models", "versions", "iris").output
    assert "iris" in cli("models", "list").output


def test_alias_moves_and_history(iris_versions):
    assert "- → 1" in cli("models", "alias", "iris", "champion", "1").output
    moved = json.loads(cli("models", "alias", "iris", "champion", "2", "--json").output)
    assert (moved["from_version"], moved["to_version"]) == (1, 2)
    assert cairn.models.load("iris@champion").version == 2
    history = json.loads(cli("models", "alias", "iris", "--history", "--json").output)
    assert [(m["from_version"], m["to_version"], m["moved_by"]) for m in history] == [
        (None, 1, "ana"),
        (1, 2, "ana"),
    ]
    cli("models", "alias", "iris", "champion", "--delete")
    assert "champion" in cli("models", "alias", "iris", "champion", "--history").output


def test_review_flow_and_separation_of_duties(iris_versions, monkeypatch):
    assert "requested by ana" in cli("models", "request-approval", "iris/2").output
    with pytest.raises(PermissionDenied):
        cli("models", "approve", "iris/2")
    monkeypatch.setenv("CAIRN_USER", "bo")
    approved = json.loads(cli("models", "approve", "iris/2", "--comment", "ok", "--json").output)
    assert (approved["reviewer"], approved["decision"], approved["comment"]) == (
        "bo",
        "approve",
        "ok",
    )
    assert "reject by bo" in cli("models", "reject", "iris/1", "-m", "no").output
    assert json.loads(cli("models", "show", "iris/2", "--json").output)["approved"] is True


def test_lineage_both_ways(iris_versions):
    view = json.loads(cli("models", "lineage", "iris/1", "--json").output)
    assert view["datasets"][0]["ref"] == iris_versions
    assert "dataset iris@1" in cli("models", "lineage", "iris/1").output
    fed = json.loads(cli("models", "lineage", iris_versions, "--dataset", "--json").output)
    assert sorted(fed) == ["iris/1", "iris/2"]


def test_lineage_shows_evaluations(iris_versions):
    from cairn.evaluation import Suite
    from cairn.evaluation.checks import MetricCheck

    suite = Suite("accuracy-only", [MetricCheck(metric="accuracy", min=0.5)])
    done = cairn.evaluation.evaluate("iris/1", iris_versions, suite=suite)
    shown = cli("models", "lineage", "iris/1").output
    assert f"evaluation {done.id[:12]} on accuracy-only: passed" in shown


def test_package(iris_versions, tmp_path):
    out = tmp_path / "pkg"
    assert "packaged iris/2" in cli("models", "package", "iris@latest", "--out", str(out)).output
    iris = load_iris(as_frame=True)
    assert len(cairn.models.load(out).predict(iris.data.head(4))) == 4


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["models", "show", "nope/1"], 2, "nope"),
        (["models", "show", "iris/x"], 2, "iris/x"),
        (["models", "approve", "iris/1"], 1, "cannot approve"),
    ],
)
def test_errors_exit_with_a_message(iris_versions, args, status, words):
    done = subprocess.run(
        [sys.executable, "-m", "cairn", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == status
    assert words in done.stderr
