"""Signatures: inferred from an example and a model; predict input checked against them."""

from __future__ import annotations

import pandas as pd
import pytest

from cairn.errors import InvalidInput
from cairn.registry.signature import Signature, check_input, check_rows, infer_signature


@pytest.fixture(scope="module")
def signature(credit_model, features) -> Signature:
    return infer_signature(credit_model, features.head())


def test_inferred_columns_types_categories_and_output(signature, features):
    specs = {c.name: c for c in signature.inputs}
    assert signature.columns == list(features.columns)
    assert specs["age"].type == "integer" and not specs["age"].nullable
    assert specs["annual_income"].type == "float" and specs["annual_income"].nullable
    assert specs["home_ownership"].type == "category"
    assert specs["home_ownership"].categories == list(features["home_ownership"].cat.categories)
    assert signature.prediction_type == "integer" and signature.classes == [0, 1]
    assert signature.has_proba
    assert Signature.from_dict(signature.to_dict()) == signature


def test_good_input_passes_in_training_column_order(signature, features):
    rows = features.head(3)
    shuffled = rows[rows.columns[::-1]].assign(extra=1)
    checked = check_input(signature, shuffled)
    assert list(checked.columns) == signature.columns
    # strings for a categorical column become the training categories
    as_text = rows.assign(home_ownership=rows["home_ownership"].astype(str))
    assert check_input(signature, as_text)["home_ownership"].dtype == "category"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda f: f.drop(columns="age"), "age", "missing"),
        (lambda f: f.assign(age=["old"] * len(f)), "age", "expected integer"),
        (lambda f: f.assign(loan_amount=["x"] * len(f)), "loan_amount", "expected float"),
        (lambda f: f.assign(home_ownership="castle"), "home_ownership", "castle"),
        (lambda f: f.assign(age=[None] + [30] * (len(f) - 1)), "age", "null"),
    ],
)
def test_bad_input_names_the_column_expected_and_got(signature, features, change, field, words):
    with pytest.raises(InvalidInput, match=words) as caught:
        check_input(signature, change(features.head(3).copy()))
    assert caught.value.field == field
    assert repr(field) in caught.value.message


def test_integral_floats_pass_as_integers(signature, features):
    rows = features.head(3).assign(age=lambda f: f["age"].astype(float))
    assert check_input(signature, rows)["age"].tolist() == features.head(3)["age"].tolist()


def test_input_must_be_a_table(signature):
    with pytest.raises(InvalidInput, match="DataFrame"):
        check_input(signature, 42)


def test_example_the_model_cannot_predict_is_refused(credit_model):
    with pytest.raises(InvalidInput, match="input_example"):
        infer_signature(credit_model, pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidInput, match="input_example"):
        infer_signature(credit_model, pd.DataFrame())


def test_check_rows_names_the_first_problem_of_every_bad_row(signature, features):
    """JSON gives mixed columns: each bad row is found, good rows come out typed."""
    rows = features.head(4).astype(object).copy()
    rows.loc[rows.index[1], "age"] = "41"  # text is not a number
    rows.loc[rows.index[2], "age"] = True  # nor is a bool
    rows.loc[rows.index[2], "home_ownership"] = "castle"  # second problem of row 2: not named
    rows.loc[rows.index[3], "credit_score"] = 700.5  # not whole
    checked, problems = check_rows(signature, rows)
    assert [(p.row, p.field) for p in problems] == [(1, "age"), (2, "age"), (3, "credit_score")]
    assert problems[0].value == "41" and problems[0].got == "'41' (str)"
    assert problems[0].expected == "integer"
    assert checked["age"].iloc[0] == features["age"].iloc[0]
    assert checked["home_ownership"].dtype == "category"


def test_a_clean_mixed_column_becomes_integers(signature, features):
    rows = features.head(3).astype(object)
    checked, problems = check_rows(signature, rows)
    assert problems == [] and checked["age"].dtype == "int64"
