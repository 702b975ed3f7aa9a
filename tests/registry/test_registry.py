"""The registry on real stores: versions, refs, aliases with history, loading, lineage."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import cairn
import cairn.data
import cairn.models
import cairn.registry as registry
from cairn.errors import Conflict, IntegrityError, InvalidInput, NotFound
from cairn.registry import flavours

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def two_versions(credit, features, credit_model):
    dataset = cairn.data.snapshot(credit, name="credit-applications")
    with cairn.start_run(experiment="credit", params={"C": 1.0}) as run:
        run.log_input(dataset)
        run.log_metric("auc", 0.81)
        first = run.log_model(credit_model, name="credit-risk", input_example=features.head())
        second = run.log_model(
            credit_model, name="credit-risk", input_example=features.head(), tags={"k": "v"}
        )
    return dataset, run, first, second


def test_log_model_records_run_params_metrics_environment_and_artifact(two_versions):
    _, run, first, second = two_versions
    assert (first.version, second.version) == (1, 2)
    assert first.run_id == run.id and first.flavour == "sklearn"
    assert first.params == {"C": "1.0"} and first.metrics == {"auc": 0.81}
    assert first.environment["packages"]["scikit-learn"]
    assert second.tags == {"k": "v"}
    artifacts = {a.path: a.digest for a in cairn.Client().list_artifacts(run.id)}
    assert artifacts["model/credit-risk.skops"] == second.digest


def test_refs_resolve_versions_aliases_and_latest(two_versions):
    assert registry.get_version("credit-risk/1").version == 1
    assert registry.get_version("credit-risk@latest").version == 2
    assert registry.get_version("credit-risk").version == 2
    registry.set_alias("credit-risk", "champion", 1)
    assert registry.get_version("credit-risk@champion").version == 1
    assert registry.get_model("credit-risk").aliases == {"champion": 1}
    assert [v.version for v in registry.list_versions("credit-risk")] == [2, 1]
    assert [m.name for m in registry.list_models()] == ["credit-risk"]


@pytest.mark.parametrize(
    ("ref", "error", "named"),
    [
        ("nope/1", NotFound, "nope"),
        ("credit-risk/9", NotFound, "credit-risk/9"),
        ("credit-risk@gone", NotFound, "gone"),
        ("credit-risk/x", InvalidInput, "credit-risk/x"),
        ("credit-risk/0", InvalidInput, "credit-risk/0"),
        ("bad name@x", InvalidInput, "bad name@x"),
        ("credit-risk@", InvalidInput, "credit-risk@"),
    ],
)
def test_bad_refs_name_what_was_wrong(two_versions, ref, error, named):
    with pytest.raises(error, match=named):
        registry.get_version(ref)


def test_aliases_move_with_history(two_versions, monkeypatch):
    monkeypatch.setenv("CAIRN_USER", "ana")
    registry.set_alias("credit-risk", "champion", 1)
    monkeypatch.setenv("CAIRN_USER", "bo")
    registry.set_alias("credit-risk", "champion", 2)
    registry.delete_alias("credit-risk", "champion")
    moves = registry.alias_history("credit-risk", "champion")
    assert [(m.from_version, m.to_version, m.moved_by) for m in moves] == [
        (None, 1, "ana"),
        (1, 2, "bo"),
        (2, None, "bo"),
    ]
    with pytest.raises(NotFound, match="champion"):
        registry.get_version("credit-risk@champion")
    with pytest.raises(InvalidInput, match="latest"):
        registry.set_alias("credit-risk", "latest", 1)
    with pytest.raises(NotFound, match="credit-risk/7"):
        registry.set_alias("credit-risk", "champion", 7)


def test_update_and_archive(two_versions):
    registry.update_model("credit-risk", description="PD model", tags={"team": "risk"})
    model = registry.get_model("credit-risk")
    assert (model.description, model.tags) == ("PD model", {"team": "risk"})
    version = registry.update_version("credit-risk/1", description="first", tags={"a": 1})
    assert (version.description, version.tags) == ("first", {"a": "1"})
    registry.set_alias("credit-risk", "champion", 1)
    with pytest.raises(Conflict, match="champion"):
        registry.archive_version("credit-risk/1")
    assert registry.archive_version("credit-risk/2").archived_at is not None
    with pytest.raises(Conflict, match="archived"):
        registry.set_alias("credit-risk", "challenger", 2)
    registry.archive_model("credit-risk")
    assert registry.list_models() == []
    assert [m.name for m in registry.list_models(include_archived=True)] == ["credit-risk"]


def test_load_predicts_like_the_trained_model(two_versions, features, credit_model):
    registry.set_alias("credit-risk", "champion", 2)
    loaded = cairn.models.load("credit-risk@champion")
    rows = features.head(50)
    np.testing.assert_array_equal(loaded.predict(rows), credit_model.predict(rows))
    np.testing.assert_allclose(loaded.predict_proba(rows), credit_model.predict_proba(rows))
    assert loaded.signature.classes == [0, 1]
    assert loaded.predict(rows.head(2).to_dict("records")).shape == (2,)


def test_tampered_model_blob_is_refused(two_versions):
    version = registry.get_version("credit-risk/1")
    path = registry.registry_service().artifacts.object_path(version.digest)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        cairn.models.load("credit-risk/1")


def test_changed_skops_types_are_refused(credit_model):
    saved = flavours.save(credit_model)
    with pytest.raises(IntegrityError, match="not recorded"):
        flavours.load(saved.data, saved.trusted_types[:-1])


class Doubler:
    """A generic Python model: a plain class with predict(df)."""

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def predict(self, frame):  # noqa: ANN001, ANN201
        return frame["x"].to_numpy() * self.factor


class Unsavable:
    def __init__(self) -> None:
        self.handle = open(__file__)  # noqa: SIM115 - skops cannot store a file handle

    def predict(self, frame):  # noqa: ANN001, ANN201
        return frame["x"]


def test_python_function_models_are_stored_with_skops_or_refused():
    import pandas as pd

    example = pd.DataFrame({"x": [1.0, 2.0]})
    with cairn.start_run(experiment="py") as run:
        version = run.log_model(Doubler(3.0), name="doubler", input_example=example)
        assert version.flavour == "python"
        with pytest.raises(InvalidInput, match="does not pickle"):
            run.log_model(Unsavable(), name="bad", input_example=example)
    assert cairn.models.load("doubler/1").predict({"x": [2.0]}).tolist() == [6.0]
    with pytest.raises(NotFound, match="bad"):
        registry.get_model("bad")


def test_register_by_run_id_on_a_bundled_dataset():
    iris = load_iris(as_frame=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(iris.data, iris.target)
    with cairn.start_run(experiment="iris") as run:
        pass
    version = registry.register(run.id, "iris", model=model, input_example=iris.data.head())
    assert version.signature.classes == [0, 1, 2]
    assert [c.type for c in version.signature.inputs] == ["float"] * 4
    with pytest.raises(InvalidInput, match="input_example"):
        registry.register(run.id, "iris", model=model)  # no example and no table input
    with pytest.raises(InvalidInput, match="model"):
        registry.register(run.id, "iris", model=object(), input_example=iris.data.head())


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosting_libraries_when_installed(library):
    lib = pytest.importorskip(library)
    iris = load_iris(as_frame=True)
    cls = lib.XGBClassifier if library == "xgboost" else lib.LGBMClassifier
    model = cls(n_estimators=5).fit(iris.data, iris.target)
    with cairn.start_run(experiment="boost") as run:
        version = run.log_model(model, name=library, input_example=iris.data.head())
    assert version.flavour == library
    loaded = cairn.models.load(f"{library}/1")
    np.testing.assert_array_equal(loaded.predict(iris.data), model.predict(iris.data))


def test_signature_from_the_runs_table_input(credit, credit_model):
    dataset = cairn.data.snapshot(credit, name="credit-applications")
    with cairn.start_run(experiment="credit") as run:
        run.log_input(dataset)
        version = run.log_model(credit_model, name="credit-risk")
    assert version.signature.columns == list(credit_model.feature_names_in_)


def test_lineage_both_ways(two_versions):
    dataset, run, first, second = two_versions
    view = registry.lineage("credit-risk/1")
    assert view["run"]["id"] == run.id
    assert view["datasets"] == [{"ref": "credit-applications@1", "id": dataset.id}]
    assert view["pipeline_run"] is None
    fed = registry.versions_from_dataset("credit-applications@1")
    assert sorted(v.ref for v in fed) == ["credit-risk/1", "credit-risk/2"]


def test_lineage_names_the_pipeline_run(credit_model, features):
    with cairn.start_run(experiment="p") as parent, cairn.start_run(experiment="p") as child:
        child.log_model(credit_model, name="m", input_example=features.head())
    assert registry.lineage("m/1")["pipeline_run"] == parent.id


def test_concurrent_registrations_get_distinct_numbers(credit_model, features):
    from concurrent.futures import ThreadPoolExecutor

    with cairn.start_run(experiment="credit") as run:
        pass
    example = features.head()

    def register(_: int) -> int:
        return registry.register(run.id, "race", model=credit_model, input_example=example).version

    with ThreadPoolExecutor(4) as pool:
        numbers = sorted(pool.map(register, range(8)))
    assert numbers == list(range(1, 9))


def test_onnx_models_register_load_and_package(tmp_path):
    """An ONNX graph (converted by skl2onnx) is stored as it is and run by onnxruntime."""
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    iris = load_iris(as_frame=True)
    fitted = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(
        iris.data, iris.target
    )
    graph = skl2onnx.convert_sklearn(
        fitted,
        initial_types=[("X", FloatTensorType([None, 4]))],
        options={id(fitted): {"zipmap": False}},
    )
    with cairn.start_run(experiment="onnx") as run:
        version = run.log_model(graph, name="iris-onnx", input_example=iris.data.head())
    assert version.flavour == "onnx" and version.artifact_path.endswith(".onnx")
    assert version.signature.has_proba and version.signature.columns == list(iris.data.columns)
    loaded = cairn.models.load("iris-onnx/1")
    np.testing.assert_array_equal(loaded.predict(iris.data), fitted.predict(iris.data))
    np.testing.assert_allclose(
        loaded.predict_proba(iris.data), fitted.predict_proba(iris.data), atol=1e-5
    )
    with pytest.raises(InvalidInput, match="sepal length"):
        loaded.predict(iris.data.drop(columns="sepal length (cm)"))
    packaged = cairn.models.load(registry.package("iris-onnx/1", tmp_path / "pkg"))
    assert (tmp_path / "pkg" / "model.onnx").is_file()
    np.testing.assert_array_equal(packaged.predict(iris.data), fitted.predict(iris.data))


def test_a_graph_onnxruntime_cannot_read_is_refused():
    pytest.importorskip("onnxruntime")
    from cairn.registry.flavours import OnnxModel

    with pytest.raises(InvalidInput, match="ONNX"):
        OnnxModel(b"not a graph")
