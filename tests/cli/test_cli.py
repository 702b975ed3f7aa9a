"""The `cairn` command, driven as a user drives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cairn
from cairn.cli import app
from cairn.errors import InvalidInput
from cairn.store import SCHEMA_HEAD

pytestmark = pytest.mark.usefixtures("use_store")
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture
def three_runs() -> list[str]:
    ids = []
    for i, model in enumerate(["rf", "gbm", "logreg"]):
        with cairn.start_run(
            experiment="credit", name=f"r{i}", params={"model": model, "seed": 1}
        ) as run:
            run.log_metric("auc", 0.7 + 0.05 * i)
            run.log_metric("loss", 0.5 - 0.1 * i)
        ids.append(run.id)
    return ids


def test_runs_list_json_and_table(three_runs):
    result = cli("runs", "list", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == three_runs[::-1]  # newest first
    assert listed[0]["metrics"]["auc"] == pytest.approx(0.8)
    table = cli("runs", "list", "-e", "credit").output
    for run_id in three_runs:
        assert run_id[:12] in table


def test_runs_show(three_runs):
    result = cli("runs", "show", three_runs[0][:10], "--json")
    data = json.loads(result.output)
    assert data["params"] == {"model": "rf", "seed": "1"}
    assert data["metric_points"] == {"auc": 1, "loss": 1}
    assert data["environment"]["python_version"]
    assert "rf" in cli("runs", "show", three_runs[0]).output


def test_runs_compare_marks_differing_params_and_best_metrics(three_runs):
    data = json.loads(cli("runs", "compare", *three_runs, "--json").output)
    assert data["params"]["model"] == ["rf", "gbm", "logreg"]
    assert data["metrics"]["auc"] == pytest.approx([0.7, 0.75, 0.8])
    table = cli("runs", "compare", *three_runs).output
    assert "params.model" in table and "metrics.loss" in table


def test_runs_search_filters_and_orders(three_runs):
    result = cli("runs", "search", "metrics.auc >= 0.75", "-o", "metrics.auc asc", "--json")
    assert [r["id"] for r in json.loads(result.output)] == three_runs[1:]


def test_bad_filter_exits_2_with_the_pointer(three_runs):
    result = runner.invoke(app, ["runs", "search", "metrics.auc >> 1"], env={"COLUMNS": "200"})
    # errors propagate to cairn.cli.main, which prints them; check through the real entry point
    assert result.exit_code != 0
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "runs", "search", "metrics.auc >> 1"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == 2
    assert "^" in done.stderr and "error" in done.stderr


def test_unknown_run_exits_2_naming_it():
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "runs", "show", "deadbeefdead"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == 2
    assert "deadbeefdead" in done.stderr


def test_delete_and_restore(three_runs):
    cli("runs", "delete", three_runs[0])
    assert three_runs[0] not in [r["id"] for r in json.loads(cli("runs", "list", "--json").output)]
    assert [r["id"] for r in json.loads(cli("runs", "list", "--deleted", "--json").output)] == [
        three_runs[0]
    ]
    cli("runs", "restore", three_runs[0])
    assert len(json.loads(cli("runs", "list", "--json").output)) == 3


def test_experiments_list(three_runs):
    listed = json.loads(cli("experiments", "list", "--json").output)
    assert [e["name"] for e in listed] == ["credit"]


def test_config_says_where_each_setting_came_from(use_store):
    data = json.loads(cli("config", "--json").output)
    assert data["uri"] == {"value": use_store, "source": "env CAIRN_URI"}
    assert data["home"]["source"] == "env CAIRN_HOME"
    assert data["artifacts"]["source"] == "default"


def test_db_status_and_upgrade(store_uri):
    if store_uri.startswith("sqlite"):  # a new file: no schema until the first open or upgrade
        assert "revision none" in cli("db", "status").output
        assert f"upgraded from revision none to {SCHEMA_HEAD}" in cli("db", "upgrade").output
    assert "up to date" in cli("db", "status").output
    assert f"already at revision {SCHEMA_HEAD}" in cli("db", "upgrade").output


def test_runs_list_by_status_and_a_bad_status_named(three_runs):
    with pytest.raises(ZeroDivisionError), cairn.start_run(experiment="credit") as failed:
        1 / 0  # noqa: B018
    listed = json.loads(cli("runs", "list", "--status", "failed", "--json").output)
    assert [r["id"] for r in listed] == [failed.id]
    with pytest.raises(InvalidInput) as caught:
        cli("runs", "list", "--status", "finished' or 1=1")
    assert caught.value.field == "status"


def test_the_cli_and_the_package_start_without_pandas():
    """``cairn --help`` and ``import cairn`` stay quick: pandas (and the registry, evaluation
    and the rest that need it) load on first use."""
    script = (
        "import sys, cairn, cairn.cli\n"
        "heavy = sorted(m for m in ('pandas', 'sklearn', 'cairn.registry', 'cairn.evaluation')"
        " if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert cairn.registry.get_version and cairn.evaluation.GateFailed\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
