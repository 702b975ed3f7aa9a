"""`cairn data` and the inputs of `cairn runs show`, driven as a user drives them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cairn
from cairn import data
from cairn.cli import app
from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput, NotFound

pytestmark = pytest.mark.usefixtures("use_store")
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture
def two_versions():
    first = data.snapshot(make_credit_applications(800, seed=1), "credit", description="jan")
    second = data.snapshot(make_credit_applications(800, seed=2, drift=1.0), "credit")
    return first, second


def test_list_datasets_and_versions(two_versions):
    first, second = two_versions
    listed = json.loads(cli("data", "list", "--json").output)
    assert [(d["name"], d["version_count"], d["latest_version"]) for d in listed] == [
        ("credit", 2, 2)
    ]
    versions = json.loads(cli("data", "list", "credit", "--json").output)
    assert [v["ref"] for v in versions] == ["credit@1", "credit@2"]
    assert versions[0]["digest"] == first.digest and "profile" not in versions[0]
    table = cli("data", "list", "credit").output
    assert "@2" in table and second.digest[:12] in table and "jan" in table


def test_list_with_no_datasets_says_so():
    result = cli("data", "list")
    assert result.exit_code == 0 and "no datasets" in result.output


def test_show_gives_the_record_profile_and_reading_runs(two_versions):
    first, _ = two_versions
    with cairn.start_run(experiment="credit") as run:
        run.log_input(first, relation="train")
    shown = json.loads(cli("data", "show", "credit@1", "--json").output)
    assert shown["digest"] == first.digest and shown["runs"] == [run.id]
    assert shown["profile"]["age"]["kind"] == "numeric"
    table = cli("data", "show", first.digest[:10]).output
    assert "credit@1" in table and "loan_purpose" in table and run.id[:12] in table


def test_diff_prints_changes_and_json(two_versions):
    found = json.loads(cli("data", "diff", "credit@1", "credit@2", "--json").output)
    assert found["before"] == "credit@1" and not found["identical"]
    assert any(c["column"] == "credit_score" and c["stat"] == "mean" for c in found["stats"])
    table = cli("data", "diff", "credit@1", "credit@latest").output
    assert "credit@1 → credit@2" in table and "bnpl_refinance" in table
    assert "identical content" in cli("data", "diff", "credit@1", "credit@1").output


def test_schema_then_validate_files_and_versions(two_versions, tmp_path):
    schema = tmp_path / "credit.yaml"
    result = cli("data", "schema", "credit@1", "--out", str(schema))
    assert result.exit_code == 0 and schema.read_text().startswith("# cairn data schema")
    assert "loan_purpose:" in cli("data", "schema", "credit@1").output  # printed without --out
    good = tmp_path / "good.parquet"
    data.load("credit@1").to_parquet(good)
    assert cli("data", "validate", str(good), "--schema", str(schema)).exit_code == 0
    assert cli("data", "validate", "credit@1", "-s", str(schema)).exit_code == 0
    drifted = cli("data", "validate", "credit@2", "--schema", str(schema), "--json")
    assert drifted.exit_code == 1
    assert json.loads(drifted.output)["ok"] is False
    csv = tmp_path / "bad.csv"
    frame = data.load("credit@1").head(50)
    frame.loc[0, "age"] = 7
    frame.to_csv(csv, index=False)
    result = cli("data", "validate", str(csv), "--schema", str(schema))
    assert result.exit_code == 1 and "age" in result.output and "min" in result.output


def test_snapshot_command_records_files_and_tables(tmp_path):
    source = tmp_path / "apps.parquet"
    make_credit_applications(100, seed=4).to_parquet(source)
    as_file = json.loads(cli("data", "snapshot", str(source), "-n", "raw", "--json").output)
    assert as_file["kind"] == "file" and as_file["version"] == 1
    as_table = json.loads(
        cli("data", "snapshot", str(source), "-n", "apps", "--table", "--json").output
    )
    assert (as_table["kind"], as_table["row_count"]) == ("table", 100)
    assert "apps@1" in cli("data", "snapshot", str(source), "-n", "apps", "--table").output


def test_runs_show_lists_the_inputs_a_run_read(two_versions):
    first, second = two_versions
    with cairn.start_run(experiment="credit") as run:
        run.log_input(first, relation="train")
        run.log_input(second, relation="test")
    shown = json.loads(cli("runs", "show", run.id, "--json").output)
    assert [(i["ref"], i["relation"], i["digest"]) for i in shown["inputs"]] == [
        ("credit@1", "train", first.digest),
        ("credit@2", "test", second.digest),
    ]
    table = cli("runs", "show", run.id).output
    assert "inputs" in table and "credit@2" in table and first.digest[:16] in table


def test_bad_references_raise_the_errors_the_entry_point_turns_into_status_2(tmp_path):
    for args, error in [
        (["data", "show", "nope"], NotFound),
        (["data", "show", "credit@x"], InvalidInput),
        (["data", "validate", str(tmp_path), "--schema", "s.yaml"], NotFound),
    ]:
        result = runner.invoke(app, args)
        assert isinstance(result.exception, error), args
    text = tmp_path / "notes.txt"
    text.write_text("x")
    result = runner.invoke(app, ["data", "validate", str(text), "--schema", "s.yaml"])
    assert isinstance(result.exception, InvalidInput) and "notes.txt" in str(result.exception)


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)  # the entry point is under test
def test_the_entry_point_exits_2_on_bad_input_and_1_on_invalid_data(two_versions, tmp_path):
    def cairn_command(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "cairn", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    done = cairn_command("data", "show", "nope@1")
    assert done.returncode == 2 and "no dataset 'nope'" in done.stderr
    schema = tmp_path / "credit.yaml"
    data.infer_schema("credit@1").to_yaml(schema)
    done = cairn_command("data", "validate", "credit@2", "-s", str(schema))
    assert done.returncode == 1 and "violations" in done.stdout
    assert cairn_command("data", "validate", "credit@1", "-s", str(schema)).returncode == 0
