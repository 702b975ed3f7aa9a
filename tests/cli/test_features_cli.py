"""`cairn features`, driven as a user drives it: apply a definitions file, list, show,
materialize, get; on SQLite and PostgreSQL metadata stores."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.errors import InvalidInput, NotFound

pytestmark = pytest.mark.usefixtures("use_store")
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture
def definitions(tmp_path):
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    pd.DataFrame(
        {
            "applicant_id": [1, 2],
            "event_time": [now - pd.Timedelta(hours=2)] * 2,
            "credit_score": [700, 640],
        }
    ).to_parquet(tmp_path / "scores.parquet")
    path = tmp_path / "features.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from datetime import timedelta
            from cairn.features import Entity, FeatureService, FeatureView, ParquetSource

            applicant = Entity("applicant", join_keys="applicant_id")
            scores = FeatureView(
                name="scores",
                entities=[applicant],
                source=ParquetSource({str(tmp_path / "scores.parquet")!r}),
                features={{"credit_score": "int64"}},
                timestamp="event_time",
                ttl=timedelta(days={{TTL}}),
            )
            credit = FeatureService("credit", [scores])
            """
        ).replace("{TTL}", "7")
    )
    return path


def test_apply_list_show_materialize_get(definitions):
    applied = json.loads(cli("features", "apply", str(definitions), "--json").output)
    assert sorted((a["kind"], a["version"], a["changed"]) for a in applied) == [
        ("entity", 1, True),
        ("feature_service", 1, True),
        ("feature_view", 1, True),
    ]
    again = cli("features", "apply", str(definitions)).output
    assert "unchanged" in again and "new version" not in again
    definitions.write_text(definitions.read_text().replace("days=7", "days=3"))
    assert "scores@2" in cli("features", "apply", str(definitions)).output

    listed = json.loads(cli("features", "list", "--json").output)
    assert [(a["kind"], a["name"], a["version"]) for a in listed] == [
        ("entity", "applicant", 1),
        ("feature_service", "credit", 1),
        ("feature_view", "scores", 2),
    ]
    assert "scores" in cli("features", "list").output

    done = json.loads(cli("features", "materialize", "--json").output)
    assert [(m["view"], m["version"], m["rows"]) for m in done] == [("scores", 2, 2)]

    got = json.loads(
        cli(
            "features", "get", "credit", "-e", "applicant_id=1", "-e", "applicant_id=9", "--json"
        ).output
    )
    assert got == {"applicant_id": ["1", "9"], "credit_score": [700, None]}
    table = cli("features", "get", "scores:credit_score", "-e", "applicant_id=2").output
    assert "640" in table

    shown = json.loads(cli("features", "show", "scores", "--json").output)
    assert shown["versions"] == [1, 2] and shown["spec"]["ttl_seconds"] == 3 * 86400
    assert [m["rows"] for m in shown["materializations"]] == [2]
    assert json.loads(cli("features", "show", "scores@1", "--json").output)["version"] == 1


def test_bad_input_is_named(definitions):
    with pytest.raises(NotFound) as missing:
        cli("features", "show", "nope")
    assert missing.value.value == "nope"
    with pytest.raises(InvalidInput) as bad_entity:
        cli("features", "get", "scores:credit_score", "-e", "applicant_id")
    assert bad_entity.value.value == "applicant_id"
    with pytest.raises(InvalidInput) as bad_kind:
        cli("features", "list", "--kind", "model")
    assert bad_kind.value.value == "model"


def test_schedule_materialization_and_manage_it_with_the_schedules(definitions):
    cli("features", "apply", str(definitions))
    added = json.loads(
        cli("features", "schedule", "scores", "--cron", "*/15 * * * *", "--json").output
    )
    assert (added["name"], added["pipeline"]) == (
        "materialize-scores",
        "cairn.features.scheduled:materialize_views",
    )
    assert added["params"] == {"views": ["scores"]} and added["next_fire_at"]
    listed = json.loads(cli("schedules", "list", "--json").output)
    assert [s["name"] for s in listed] == ["materialize-scores"]
    with pytest.raises(InvalidInput) as bad_cron:
        cli("features", "schedule", "--cron", "soon", "--name", "other")
    assert bad_cron.value.field == "cron"
    cli("schedules", "remove", "materialize-scores")
    assert json.loads(cli("schedules", "list", "--json").output) == []
