"""Compiling scikit-learn models to ONNX: same answers, checked before use, refused otherwise."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import cairn
import cairn.models
import cairn.registry
from cairn.datasets import CREDIT_FEATURES, CREDIT_LABEL, make_credit_applications
from cairn.errors import InvalidInput
from cairn.models import compile_onnx
from cairn.models import compiled as compiled_module
from cairn.models.compiled import COMPILED_TAG, TOLERANCE, synthetic_rows
from cairn.registry import LoadedModel, infer_signature
from cairn.registry.signature import check_input
from credit_models import credit_pipeline


def loaded_model(model, example: pd.DataFrame, flavour: str = "sklearn") -> LoadedModel:
    signature = infer_signature(model, example.head())
    return LoadedModel(model, signature, {"name": "m", "version": 1, "flavour": flavour})


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return make_credit_applications(1500, seed=3)


@pytest.fixture(scope="module")
def credit_loaded(credit) -> LoadedModel:
    return loaded_model(credit_pipeline(credit), credit[list(CREDIT_FEATURES)])


def test_a_credit_pipeline_compiles_and_answers_as_the_original(credit_loaded, credit):
    compiled = compile_onnx(credit_loaded, credit[list(CREDIT_FEATURES)])
    assert compiled.metadata["compiled"] == "onnx" and compiled.signature == credit_loaded.signature
    frame = check_input(credit_loaded.signature, credit[list(CREDIT_FEATURES)])
    expected, expected_proba = credit_loaded.predict_checked(frame)
    got, got_proba = compiled.predict_checked(frame)
    assert (got == expected).all()
    np.testing.assert_allclose(got_proba, expected_proba, atol=TOLERANCE)
    # the public methods check their input on the compiled model too
    np.testing.assert_allclose(
        compiled.predict_proba(credit.head(3)),
        credit_loaded.predict_proba(credit.head(3)),
        atol=TOLERANCE,
    )
    with pytest.raises(InvalidInput) as refused:
        compiled.predict(credit.head(1).assign(loan_purpose="yacht"))
    assert refused.value.field == "loan_purpose"


def test_string_classes_and_a_regressor_compile_too():
    iris = load_iris(as_frame=True)
    names = np.asarray(iris.target_names)[iris.target]
    classifier = make_pipeline(SimpleImputer(), LogisticRegression(max_iter=500))
    classifier.fit(iris.data, names)
    compiled = compile_onnx(loaded_model(classifier, iris.data))
    assert compiled.predict(iris.data).tolist() == classifier.predict(iris.data).tolist()

    diabetes = load_diabetes(as_frame=True)
    ridge = make_pipeline(StandardScaler(), Ridge()).fit(diabetes.data, diabetes.target)
    compiled = compile_onnx(loaded_model(ridge, diabetes.data))
    np.testing.assert_allclose(
        compiled.predict(diabetes.data), ridge.predict(diabetes.data), rtol=TOLERANCE
    )


def test_a_forest_is_refused_where_its_graph_sends_nulls_elsewhere():
    """scikit-learn's trees send a missing value down a learned side; the ONNX graph does not,
    so the rows with nulls disagree, and compiling is refused rather than serving them."""
    iris = load_iris(as_frame=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(iris.data, iris.target)
    with pytest.raises(InvalidInput) as refused:
        compile_onnx(loaded_model(forest, iris.data))
    assert refused.value.field == "compile" and "200 of 2000 check rows" in str(refused.value)


def test_synthetic_rows_cover_every_category_nulls_and_wide_numbers(credit_loaded):
    signature = credit_loaded.signature
    rows = synthetic_rows(signature, 500)
    assert len(rows) == 500
    for column in signature.inputs:
        if column.categories:
            assert set(rows[column.name].dropna()) == set(column.categories)
        if column.nullable:
            assert rows[column.name].isna().sum() == 50
    assert rows["annual_income"].abs().max() > 1e5  # numbers over many magnitudes


def test_a_graph_that_does_not_agree_is_refused_with_the_row_it_failed_on():
    # float32 cannot tell 1e9 + 10 from 1e9 + 40: the graph answers differently, and is refused
    x = pd.DataFrame({"x": 1e9 + np.arange(100, dtype=float)})
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, x["x"] > 1e9 + 50)
    loaded = loaded_model(model, x)
    with pytest.raises(InvalidInput) as refused:
        compile_onnx(loaded, x, rows=10)
    assert refused.value.field == "compile" and "check rows" in str(refused.value)


class Handmade:
    """A model skl2onnx has no converter for."""

    def fit(self, frame, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, frame):
        return np.zeros(len(frame), dtype=int)


def test_what_cannot_be_compiled_is_refused_naming_it(credit_loaded, credit):
    features = credit[list(CREDIT_FEATURES)]
    handmade = loaded_model(Handmade().fit(features, credit[CREDIT_LABEL]), features)
    with pytest.raises(InvalidInput) as refused:
        compile_onnx(handmade)
    assert refused.value.field == "compile" and refused.value.value == "Handmade"
    onnx_flavour = LoadedModel(credit_loaded.model, credit_loaded.signature, {"flavour": "onnx"})
    with pytest.raises(InvalidInput) as refused:
        compile_onnx(onnx_flavour)
    assert refused.value.value == "onnx"


@pytest.fixture
def registered(use_store, credit) -> str:
    """credit-risk/1 in the registry: a real scikit-learn pipeline."""
    with cairn.start_run(experiment="compile") as run:
        version = run.log_model(
            credit_pipeline(credit), name="credit-risk", input_example=credit[list(CREDIT_FEATURES)]
        )
    return version.ref


def _not_again(*_args, **_kwargs):
    raise AssertionError("a stored graph is neither converted nor checked again")


def test_a_registry_version_keeps_its_checked_graph(registered, credit, monkeypatch):
    first = compiled_module.load_compiled(registered)
    tag = json.loads(cairn.registry.get_version(registered).tags[COMPILED_TAG])
    assert tag["converter"].startswith("skl2onnx ") and len(tag["digest"]) == 64
    assert "onnxmltools" not in tag["converter"]  # whatever this process converted before
    monkeypatch.setattr(compiled_module, "_convert", _not_again)
    monkeypatch.setattr(compiled_module, "_check_agreement", _not_again)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # a server without the converter
    again = compiled_module.load_compiled("credit-risk@latest")
    assert (again.metadata["compiled"], again.version, again.flavour) == ("onnx", 1, "sklearn")
    frame = credit[list(CREDIT_FEATURES)].head(50)
    np.testing.assert_array_equal(again.predict(frame), first.predict(frame))
    np.testing.assert_allclose(again.predict_proba(frame), first.predict_proba(frame))


@pytest.mark.parametrize("tag", ["not json", json.dumps({"digest": "0" * 64}), "{}"])
def test_a_stored_graph_that_cannot_be_read_is_compiled_again(registered, credit, tag):
    cairn.registry.update_version(registered, tags={COMPILED_TAG: tag})
    compiled = compiled_module.load_compiled(registered)
    stored = json.loads(cairn.registry.get_version(registered).tags[COMPILED_TAG])
    assert stored["digest"] != "0" * 64
    frame = credit[list(CREDIT_FEATURES)].head(20)
    original = cairn.models.load(registered)
    np.testing.assert_allclose(
        compiled.predict_proba(frame), original.predict_proba(frame), atol=TOLERANCE
    )


# boosting libraries: LightGBM and XGBoost, through onnxmltools' converters -----------------


def _boosters(library: str):
    if library == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier, lightgbm.LGBMRegressor, {"verbose": -1}
    import xgboost

    return xgboost.XGBClassifier, xgboost.XGBRegressor, {}


def _numeric_credit(credit: pd.DataFrame) -> pd.DataFrame:
    features = credit[list(CREDIT_FEATURES)]
    return features[[c for c in features if features[c].dtype.kind in "fi"]]


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_a_boosted_classifier_compiles_alone_and_in_a_pipeline(library, credit):
    classifier, _, quiet = _boosters(library)
    numeric, label = _numeric_credit(credit), credit[CREDIT_LABEL]
    # alone, fitted on a DataFrame (XGBoost keeps its column names; the graph reads by position)
    bare = classifier(n_estimators=40, **quiet).fit(numeric, label)
    compiled = compile_onnx(loaded_model(bare, numeric, flavour=library), numeric)
    np.testing.assert_array_equal(compiled.predict(numeric), bare.predict(numeric))
    np.testing.assert_allclose(
        compiled.predict_proba(numeric), bare.predict_proba(numeric), atol=TOLERANCE
    )
    if library == "xgboost":  # the graph was made from a copy: the model keeps its names
        assert bare.get_booster().feature_names == list(numeric)
    # inside a scikit-learn pipeline, after one-hot encoding the categories
    features = credit[list(CREDIT_FEATURES)]
    categorical = [c for c in features if c not in numeric]
    pipeline = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), ("passthrough", list(numeric))
        ),
        classifier(n_estimators=40, **quiet),
    ).fit(features, label)
    compiled = compile_onnx(loaded_model(pipeline, features), features)
    np.testing.assert_array_equal(compiled.predict(features), pipeline.predict(features))
    np.testing.assert_allclose(
        compiled.predict_proba(features), pipeline.predict_proba(features), atol=TOLERANCE
    )


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_a_boosted_regressor_compiles(library):
    _, regressor, quiet = _boosters(library)
    diabetes = load_diabetes(as_frame=True)
    model = regressor(n_estimators=40, **quiet).fit(diabetes.data, diabetes.target)
    compiled = compile_onnx(loaded_model(model, diabetes.data, flavour=library))
    np.testing.assert_allclose(
        compiled.predict(diabetes.data), model.predict(diabetes.data), rtol=TOLERANCE
    )


def test_a_registered_lightgbm_version_keeps_its_graph(use_store, credit, monkeypatch):
    import lightgbm

    numeric = _numeric_credit(credit)
    model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(numeric, credit[CREDIT_LABEL])
    with cairn.start_run(experiment="compile") as run:
        version = run.log_model(model, name="boosted", input_example=numeric)
    assert version.flavour == "lightgbm"
    first = compiled_module.load_compiled(version.ref)
    tag = json.loads(cairn.registry.get_version(version.ref).tags[COMPILED_TAG])
    assert tag["converter"].startswith("skl2onnx ") and ", onnxmltools " in tag["converter"]
    monkeypatch.setattr(compiled_module, "_convert", _not_again)
    again = compiled_module.load_compiled(version.ref)
    np.testing.assert_allclose(
        again.predict_proba(numeric), model.predict_proba(numeric), atol=TOLERANCE
    )
    np.testing.assert_array_equal(again.predict(numeric), first.predict(numeric))


def test_boosted_models_need_onnxmltools_and_say_so(credit, monkeypatch):
    import lightgbm

    numeric = _numeric_credit(credit)
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(numeric, credit[CREDIT_LABEL])
    monkeypatch.setattr(compiled_module, "_registered", set())
    for name in ["onnxmltools", *(n for n in sys.modules if n.startswith("onnxmltools."))]:
        monkeypatch.setitem(sys.modules, name, None)  # a machine without it
    with pytest.raises(InvalidInput) as refused:
        compile_onnx(loaded_model(model, numeric, flavour="lightgbm"))
    assert refused.value.field == "compile" and "onnxmltools" in str(refused.value)
