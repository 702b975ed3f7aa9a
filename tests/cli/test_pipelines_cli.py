"""`cairn pipelines`, driven as a user drives it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app, main
from cairn.errors import InvalidInput

SAMPLES = str(Path(__file__).resolve().parents[1] / "pipelines")
pytestmark = pytest.mark.usefixtures("use_store", "samples_importable")
runner = CliRunner()


@pytest.fixture
def samples_importable(monkeypatch) -> None:
    """The sample pipelines are imported by reference, here and in worker processes."""
    monkeypatch.syspath_prepend(SAMPLES)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [SAMPLES, os.environ.get("PYTHONPATH")]))
    )


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def test_run_with_params_shows_progress_and_records_the_run(tmp_path):
    trail = str(tmp_path / "trail")
    result = cli(
        "pipelines", "run", "sample_pipelines:training",
        "--param", "n=20", "-p", "lr=0.5", "-p", f"trail={trail}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for line in ("started load", "finished fit", "pipeline training run"):
        assert line in " ".join(result.output.split())
    shown = json.loads(cli("pipelines", "show", _last_run_id(), "--json").output)
    assert shown["status"] == "finished"
    assert shown["params"] == {"n": 20, "lr": 0.5, "trail": trail}  # JSON when it parses
    assert [s["step"] for s in shown["steps"]] == [
        "load", "split", "describe", "fit", "score", "coefficients"
    ]  # fmt: skip
    assert shown["steps"][0]["outputs"]["items"][0][1] == "application/vnd.apache.parquet"
    table = cli("pipelines", "show", shown["run_id"][:10]).output
    assert "coefficients" in table and "skops" in table and "miss" in table


def test_rerun_and_a_second_run_come_from_the_cache(tmp_path):
    trail = str(tmp_path / "trail")
    first = cli("pipelines", "run", "sample_pipelines:training", "-p", f"trail={trail}", "--json")
    run_id = json.loads(first.output)["run_id"]
    again = json.loads(cli("pipelines", "rerun", run_id, "--json").output)
    assert again["run_id"] != run_id and again["params"]["trail"] == trail
    assert {s["step"]: s["cache"] for s in again["steps"]}["fit"] == "hit"
    uncached = json.loads(cli("pipelines", "rerun", run_id, "--no-cache", "--json").output)
    assert {s["cache"] for s in uncached["steps"]} == {"off"}


def test_a_failed_run_exits_1_and_resumes_from_the_failed_step(tmp_path):
    trail, gate = str(tmp_path / "trail"), tmp_path / "gate"
    failed = cli(
        "pipelines", "run", "sample_pipelines:gated", "-p", f"trail={trail}", "-p", f"gate={gate}"
    )
    assert failed.exit_code == 1
    assert "gate" in failed.output and "failed" in failed.output
    gate.touch()
    resumed = cli("pipelines", "resume", _last_run_id(name="gated"), "--json")
    assert resumed.exit_code == 0
    data = json.loads(resumed.output)
    assert [s["cache"] for s in data["steps"]] == ["hit", "hit", "miss"]


def test_bad_params_name_the_value(monkeypatch, capsys):
    with pytest.raises(InvalidInput, match="key=value"):
        cli("pipelines", "run", "sample_pipelines:training", "-p", "lr")
    argv = ["cairn", "pipelines", "run", "sample_pipelines:training", "-p", "lrr=1"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()  # the real entry point: errors print their message and exit 2
    assert exited.value.code == 2
    assert "no parameter 'lrr'" in capsys.readouterr().err


def _last_run_id(name: str = "training") -> str:
    from cairn import Client

    return Client().search_runs(filter=f"name = '{name}'", limit=1)[0].id
