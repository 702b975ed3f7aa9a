"""Pipelines as code: tracing, tracked runs, typed outputs, caching, rerun, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sample_pipelines as sp
from sklearn.linear_model import LinearRegression

import cairn
from cairn.errors import InvalidInput, NotFound
from cairn.pipelines import CodeChangedWarning, PipelineFailed, get_run, rerun, run
from cairn.tracking import RunStatus

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def trail(tmp_path) -> str:
    return str(tmp_path / "trail")


def step_runs(parent_id: str) -> dict[str, cairn.tracking.Run]:
    children = cairn.Client().search_runs(filter=f"parent_id = '{parent_id}'")
    return {r.name: r for r in children}


def test_pipeline_run_is_a_tracked_run_with_a_child_run_per_step_and_typed_outputs(trail):
    result = sp.training.run(params={"trail": trail, "n": 50})

    assert result.status is RunStatus.FINISHED, result.error
    out = result.outputs
    assert isinstance(out["model"], LinearRegression)  # skops, loaded back
    assert out["model"].coef_ == pytest.approx([2.0])
    assert out["score"] == pytest.approx(1.0)  # JSON
    np.testing.assert_allclose(out["coef"], [2.0])  # npy
    assert out["summary"] == {"rows": 50, "mean_x": 24.5}
    expected_test = pd.DataFrame({"x": np.arange(40, 50.0), "y": 2 * np.arange(40, 50.0) + 1})
    pd.testing.assert_frame_equal(out["test"], expected_test)  # Parquet, second of two outputs

    record = cairn.Client().get_run(result.run_id)
    assert record.experiment == "training" and record.name == "training"
    assert record.params == {"n": "50", "lr": "0.1", "trail": trail}
    assert record.tags["cairn.pipeline.ref"] == "sample_pipelines:training"
    assert record.tags["cairn.pipeline.code_hash"] == sp.training.build({"trail": trail}).code_hash
    children = step_runs(result.run_id)
    assert set(children) == {"load", "split", "describe", "fit", "score", "coefficients"}
    for child in children.values():
        assert child.status is RunStatus.FINISHED and child.parent_id == result.run_id
        assert child.metrics["duration_s"] > 0
        assert child.tags["cairn.cache"] in {"miss", "off"}
    assert children["fit"].params == {"lr": "0.1", "trail": trail}


def test_a_step_logs_into_its_own_run_and_its_output_is_captured(trail):
    result = sp.training.run(params={"trail": trail, "n": 30})
    children = step_runs(result.run_id)
    client = cairn.Client()
    load = children["load"]
    assert load.tags["rows"] == "30"  # cairn.active_run() inside the step is the step's run
    assert children["describe"].metrics["rows"] == 30  # cairn.log_metric too
    log = client.load_artifact(load.id, "logs/step.log").decode()
    assert "loading 30 rows" in log and "a warning on stderr" in log
    frame = client.load_artifact(load.id, "outputs/0.parquet")
    assert len(frame) == 30


def test_second_run_takes_every_cacheable_step_from_the_cache(trail):
    first = sp.training.run(params={"trail": trail})
    second = sp.training.run(params={"trail": trail})

    assert second.status is RunStatus.FINISHED
    ran = [e["step"] for e in sp.executions(trail)]
    assert sorted(ran) == sorted(["load", "split", "describe", "fit", "score", "describe"])
    before, after = step_runs(first.run_id), step_runs(second.run_id)
    for name, child in after.items():
        assert child.status is RunStatus.FINISHED
        if name == "describe":  # cache=False
            assert child.tags["cairn.cache"] == "off"
        else:
            assert child.tags["cairn.cache"] == "hit"
            assert child.tags["cairn.cache.run"] == before[name].id
    assert second.outputs["score"] == first.outputs["score"]
    pd.testing.assert_frame_equal(second.outputs["test"], first.outputs["test"])
    # a cached step's run lists the outputs it reused, as the run that made them does
    client = cairn.Client()
    for name in ("split", "fit"):
        made = {(a.path, a.digest) for a in client.list_artifacts(before[name].id)}
        reused = {(a.path, a.digest) for a in client.list_artifacts(after[name].id)}
        assert reused == {(path, d) for path, d in made if path.startswith("outputs/")}
    split_paths = {a.path for a in client.list_artifacts(after["split"].id)}
    assert split_paths == {"outputs/0.parquet", "outputs/1.parquet"}
    assert {a.path for a in client.list_artifacts(after["fit"].id)} == {"outputs/0.skops"}


def test_a_changed_param_runs_only_the_steps_that_depend_on_it(trail):
    sp.training.run(params={"trail": trail, "lr": 0.1})
    second = sp.training.run(params={"trail": trail, "lr": 0.2})

    cache = {s.node: s.cache for s in second.steps}
    assert cache == {
        "load": "hit",
        "split": "hit",
        "describe": "off",
        "fit": "miss",
        "score": "miss",  # same code and test frame, but a new model: a new input hash
        "coefficients": "miss",
    }
    assert [e["lr"] for e in sp.executions(trail, "fit")] == [0.1, 0.2]


def test_cache_off_for_a_run_runs_every_step_and_still_fills_the_cache(trail):
    sp.training.run(params={"trail": trail})
    uncached = sp.training.run(params={"trail": trail}, cache=False)
    assert {s.cache for s in uncached.steps} == {"off"}
    assert len(sp.executions(trail, "load")) == 2
    again = sp.training.run(params={"trail": trail})
    assert next(s for s in again.steps if s.node == "load").cache == "hit"
    assert len(sp.executions(trail, "load")) == 2


def test_run_by_reference_with_params_and_cli_style_errors(trail):
    result = run("sample_pipelines:two_naps", {"seconds": 0.01, "trail": trail})
    assert result.outputs == {"join": ["a", "b"]}
    assert get_run(result.run_id[:10]).params == {"seconds": 0.01, "trail": trail}

    with pytest.raises(InvalidInput) as caught:
        run("sample_pipelines:two_naps", {"secondz": 1})
    assert caught.value.value == "secondz" and "secondz" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        run("sample_pipelines:needs_a_param")
    assert caught.value.value == "n"
    with pytest.raises(NotFound) as caught:
        run("no_such_module:training")
    assert "no_such_module" in caught.value.message
    with pytest.raises(NotFound) as caught:
        run("sample_pipelines:no_such_pipeline")
    assert "no_such_pipeline" in caught.value.message
    with pytest.raises(InvalidInput, match="not a @cairn.pipeline"):
        run("sample_pipelines:load")
    with pytest.raises(InvalidInput, match="module:function"):
        run("training")
    assert len(cairn.Client().search_runs(filter="name = 'two_naps'")) == 1  # none added


def test_rerun_runs_the_same_reference_and_params_and_warns_when_the_code_changed(trail):
    first = sp.training.run(params={"trail": trail, "lr": 0.3}, cache=False)
    again = rerun(first.run_id)
    assert again.run_id != first.run_id
    assert again.params == first.params and again.ref == first.ref
    assert cairn.Client().get_run(again.run_id).tags["cairn.pipeline.rerun_of"] == first.run_id
    assert len(sp.executions(trail, "fit")) == 2  # the recorded run had the cache off

    cairn.Client().set_tags(first.run_id, {"cairn.pipeline.code_hash": "0" * 64})
    with pytest.warns(CodeChangedWarning, match="changed since run"):
        rerun(first.run_id, cache=True)


def test_a_step_called_outside_a_pipeline_is_an_error_naming_it():
    with pytest.raises(InvalidInput) as caught:
        sp.load(10)
    assert "'load'" in caught.value.message and "outside a pipeline" in caught.value.message
    assert sp.noop.fn(3) == 4  # the plain function stays at hand
    with pytest.raises(InvalidInput, match="two_naps.run"):
        sp.two_naps()


def test_a_missing_step_input_is_an_error_naming_the_step_and_argument():
    with pytest.raises(InvalidInput) as caught:
        sp.misses_an_input.build()
    assert "'fit'" in caught.value.message and "'lr'" in caught.value.message


def test_unpacking_needs_a_tuple_annotation_and_indexing_works_without(trail):
    with pytest.raises(InvalidInput, match="cannot be unpacked"):
        sp.unpacks_untyped.build()
    result = sp.indexes_untyped.run(params={"n": 5})
    assert result.outputs == {"first": 5, "second": 6}


@cairn.step
def _plain(x: int) -> int:
    return x


_leaked = []


@cairn.pipeline
def _leaks_a_handle():
    _leaked.append(_plain(1))
    return _leaked[-1]


@cairn.pipeline
def _uses_a_leaked_handle():
    return _plain(_leaked[0])


@cairn.pipeline
def _branches_on_an_output():
    if _plain(1):
        return None
    return None


def test_the_dag_is_acyclic_by_construction_and_foreign_handles_are_refused():
    graph = _leaks_a_handle.build()
    assert list(graph.nodes) == ["_plain"]
    with pytest.raises(InvalidInput, match="another pipeline or trace"):
        _uses_a_leaked_handle.build()
    with pytest.raises(InvalidInput, match="cannot branch"):
        _branches_on_an_output.build()


def test_graph_order_and_code_hash():
    graph = sp.training.build()
    assert list(graph.nodes) == ["load", "split", "describe", "fit", "score", "coefficients"]
    assert graph.nodes["fit"].upstream == ("split",)
    assert graph.nodes["split"].outputs_needed == 2
    assert graph.code_hash == sp.training.build({"lr": 5.0}).code_hash  # params are not code
    assert graph.code_hash != sp.two_naps.build().code_hash
    assert list(sp.chain.build({"length": 3}).nodes) == ["noop", "noop_2", "noop_3"]


def test_an_output_that_cannot_be_stored_fails_the_run_naming_step_and_type():
    result = sp.unstorable.run()
    assert result.status is RunStatus.FAILED
    assert "step 'opaque'" in result.error and "Opaque" in result.error
    assert "UnstorableOutput" in result.error  # an InvalidInput
    with pytest.raises(PipelineFailed, match="opaque"):
        _ = result.outputs


def test_a_step_failing_on_its_second_output_records_none_of_them():
    result = sp.half_unstorable.run()
    assert result.status is RunStatus.FAILED
    assert "output 1 of type Opaque" in result.error
    (step,) = step_runs(result.run_id).values()
    assert step.status is RunStatus.FAILED
    assert [a.path for a in cairn.Client().list_artifacts(step.id)] == []


def test_step_options_are_checked():
    with pytest.raises(InvalidInput, match="cpus"):
        cairn.step(cpus=0)
    with pytest.raises(InvalidInput, match="retries"):
        cairn.step(retries=-1)(sp.noop.fn)
    with pytest.raises(InvalidInput, match="timeout"):
        cairn.step(timeout=0)(sp.noop.fn)


def test_pipeline_outputs_are_what_it_returns_else_its_last_steps():
    assert list(sp.two_naps.build().outputs) == ["join"]
    assert list(sp.indexes_untyped.build().outputs) == ["first", "second"]

    @cairn.pipeline
    def no_return():  # a pipeline may be local; its steps are module-level
        _plain(_plain(1))
        _plain(2)

    assert list(no_return.build().outputs) == ["_plain_2", "_plain_3"]

    @cairn.step
    def local_step() -> int:
        return 1

    @cairn.pipeline
    def uses_a_local_step():
        return local_step()

    with pytest.raises(InvalidInput, match="inside a function"):
        uses_a_local_step.build()
