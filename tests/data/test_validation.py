"""Schemas: inferred from data, kept as hand-editable YAML, checked through pandera."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cairn import data
from cairn.data import ColumnRule, Schema
from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput, NotFound


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return make_credit_applications(1000, seed=5)


@pytest.fixture(scope="module")
def schema(credit) -> Schema:
    return data.infer_schema(credit)


def test_inferred_rules_follow_the_data(credit, schema):
    assert list(schema.columns) == list(credit.columns) and schema.strict
    ids = schema.columns["applicant_id"]
    assert (ids.type, ids.nullable, ids.unique, ids.min, ids.max) == ("int64", False, True, 1, 1000)
    age = schema.columns["age"]
    assert (age.unique, age.min, age.max) == (False, credit["age"].min(), credit["age"].max())
    assert schema.columns["employment_years"].nullable is True  # it holds NaN
    purpose = schema.columns["loan_purpose"]
    assert purpose.type == "category"
    assert purpose.allowed == tuple(credit["loan_purpose"].cat.categories)  # unused ones too
    assert not schema.columns["annual_income"].unique  # floats are never inferred unique
    assert schema.columns["application_time"].min is None  # no ranges for times
    assert data.validate(credit, schema).ok


def test_text_columns_with_few_values_get_allowed_values_and_ids_uniqueness():
    frame = pd.DataFrame(
        {
            "code": pd.Series([f"id{i}" for i in range(60)], dtype="str"),
            "tier": pd.Series(["gold", "silver", "bronze"] * 20, dtype="str"),
        }
    )
    rules = data.infer_schema(frame).columns
    assert rules["code"].unique and rules["code"].allowed is None
    assert rules["tier"].allowed == ("gold", "silver", "bronze") and not rules["tier"].unique
    assert not data.infer_schema(frame.head(10)).columns["code"].unique  # too few rows to tell


def test_yaml_round_trips_and_reads_like_a_hand_written_file(schema, tmp_path):
    path = tmp_path / "schemas" / "credit.yaml"
    text = schema.to_yaml(path)
    assert path.read_text() == text
    assert text.startswith("# cairn data schema")
    assert "  loan_purpose:\n    type: category\n    nullable: false\n    allowed: [" in text
    assert "unique: false" not in text  # unset rules are left out
    assert Schema.from_yaml(path) == schema
    edited = text.replace("strict: true", "strict: false").replace(
        "  age:\n    type: int64\n    nullable: false\n",
        "  age:\n    type: int64\n    nullable: true\n",
    )
    path.write_text(edited)
    loaded = Schema.from_yaml(path)
    assert loaded.strict is False and loaded.columns["age"].nullable is True


def test_every_kind_of_violation_is_reported_with_counts_and_examples(credit, schema):
    bad = credit.copy()
    bad.loc[[0, 1, 2], "age"] = [12, 15, 12]  # below min
    bad.loc[3, "credit_score"] = 900  # above max
    bad["loan_purpose"] = bad["loan_purpose"].cat.add_categories(["crypto"])
    bad.loc[[4, 5], "loan_purpose"] = "crypto"  # not allowed
    bad.loc[6, "applicant_id"] = 8  # a duplicate id
    bad.loc[7, "annual_income"] = np.nan  # null where none may be
    bad["term_months"] = bad["term_months"].astype(float)  # wrong type
    bad = bad.drop(columns=["sex"]).assign(notes="x")  # a missing and an unexpected column
    report = data.validate(bad, schema)
    assert not report.ok and (report.row_count, report.column_count) == (1000, 17)
    found = {(v.column, v.rule): v for v in report.violations}
    assert set(found) == {
        ("applicant_id", "unique"),
        ("age", "min"),
        ("sex", "missing"),
        ("annual_income", "nullable"),
        ("loan_purpose", "allowed"),
        ("term_months", "type"),
        ("credit_score", "max"),
        ("notes", "unexpected"),
    }
    age = found["age", "min"]
    assert (age.count, age.examples, age.expected) == (3, (12, 15), f">= {credit['age'].min()}")
    assert found["loan_purpose", "allowed"].count == 2
    assert found["loan_purpose", "allowed"].examples == ("crypto",)
    assert found["applicant_id", "unique"].count == 2  # both rows holding 8
    assert found["annual_income", "nullable"].examples == (None,)
    assert found["term_months", "type"].expected == "int64"
    text = str(report)
    assert text.startswith("invalid: 8 violations in 1,000 rows")
    assert "age: 3 rows break min (expected >= " in text and "e.g. 12, 15" in text
    assert "sex: missing column" in text
    as_json = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert as_json["ok"] is False and len(as_json["violations"]) == 8


def test_non_strict_schemas_allow_extra_columns_and_coercion_reads_text():
    schema = Schema({"n": ColumnRule("int64", nullable=False, min=0)}, strict=False)
    assert data.validate(pd.DataFrame({"n": [1, 2], "extra": ["a", "b"]}), schema).ok
    text = pd.DataFrame({"n": ["1", "two", "-3"]})  # as a CSV without types reads
    report = data.validate(text, schema, coerce=True)
    found = {(v.column, v.rule): v for v in report.violations}
    assert found["n", "type"].examples == ("two",)
    assert not data.validate(text, schema).ok  # without coercion: the type is wrong


@pytest.mark.usefixtures("use_store")
def test_validate_takes_the_schema_file_and_a_dataset_reference(credit, schema, tmp_path):
    path = tmp_path / "credit.yaml"
    schema.to_yaml(path)
    data.snapshot(credit, "credit")
    assert data.validate("credit@1", path).ok
    assert data.infer_schema("credit@latest") == schema  # from the stored profile
    assert data.validate(make_credit_applications(500, seed=9, drift=1.0), path).ok is False


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("columns:\n  age:\n    maxx: 3\n", "s.yaml.columns.age.maxx"),
        ("columns:\n  age:\n    min: ten\n", "s.yaml.columns.age.min"),
        ("columns:\n  age:\n    nullable: maybe\n", "s.yaml.columns.age.nullable"),
        ("columns:\n  age:\n    allowed: 3\n", "s.yaml.columns.age.allowed"),
        ("strict: sometimes\n", "s.yaml.strict"),
        ("colums: {}\n", "s.yaml.colums"),
        ("- just a list\n", "s.yaml"),
        ("columns: [a, b]\n", "s.yaml.columns"),
        ("columns:\n  age: {type: [int}\n", "schema"),
    ],
)
def test_a_bad_schema_file_is_invalid_input_naming_the_field(tmp_path, yaml_text, field):
    path = tmp_path / "s.yaml"
    path.write_text(yaml_text)
    with pytest.raises(InvalidInput) as caught:
        Schema.from_yaml(path)
    assert caught.value.field == field


@pytest.mark.usefixtures("use_store")
def test_unknown_types_missing_files_and_non_table_data_are_refused(tmp_path):
    schema = Schema({"age": ColumnRule("int65")})
    with pytest.raises(InvalidInput) as caught:
        data.validate(pd.DataFrame({"age": [1]}), schema)
    assert caught.value.field == "columns.age.type" and "int65" in str(caught.value)
    with pytest.raises(NotFound):
        Schema.from_yaml(tmp_path / "absent.yaml")
    source = tmp_path / "raw.csv"
    source.write_text("a\n1\n")
    data.snapshot(source, "raw")
    with pytest.raises(InvalidInput) as caught:
        data.infer_schema("raw@1")
    assert "table version" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        data.infer_schema([1, 2])
    assert caught.value.value == "list"
