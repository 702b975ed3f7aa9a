"""Lineage edges between records, on every metadata store backend."""

from __future__ import annotations

import pandas as pd
import pytest

import cairn
from cairn import data
from cairn.errors import InvalidInput, NotFound
from cairn.store import open_store
from cairn.store.lineage import Edge, add_edges, edges_from, edges_to
from cairn.store.schema import lineage

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def version_and_run() -> tuple[str, str]:
    version = data.snapshot(pd.DataFrame({"x": [1, 2, 3]}), "tiny")
    with cairn.start_run(experiment="lineage") as run:
        pass
    return version.id, run.id


def _count_edges() -> int:
    with open_store().read() as conn:
        return len(conn.execute(lineage.select()).all())


def test_edges_are_found_from_both_ends_with_time_creator_and_relation(
    version_and_run, monkeypatch
):
    version_id, run_id = version_and_run
    monkeypatch.setenv("CAIRN_USER", "ada")
    add_edges(
        open_store(),
        [
            Edge("dataset_version", version_id, "run", run_id, "train"),
            Edge("run", run_id, "report", "r1", "output"),
        ],
    )
    into_run = edges_to("run", run_id)
    assert [(e.src_kind, e.src_id, e.relation) for e in into_run] == [
        ("dataset_version", version_id, "train")
    ]
    assert into_run[0].creator == "ada" and into_run[0].created_at is not None
    out_of_run = edges_from("run", run_id)
    assert [(e.dst_kind, e.dst_id, e.relation) for e in out_of_run] == [("report", "r1", "output")]
    assert edges_from("dataset_version", version_id, relation="train") == into_run
    assert edges_from("dataset_version", version_id, relation="test") == []
    assert edges_to("run", "no-such-run") == []


def test_edges_are_listed_in_the_order_they_were_added(version_and_run):
    _, run_id = version_and_run
    store = open_store()
    add_edges(store, [Edge("run", run_id, "report", r, "output") for r in ("r9", "r1", "r5")])
    for report in ("r0", "r7"):  # one after the other, most likely within a millisecond
        add_edges(store, [Edge("run", run_id, "report", report, "output")])
    assert [e.dst_id for e in edges_from("run", run_id)] == ["r9", "r1", "r5", "r0", "r7"]


def test_adding_an_edge_again_keeps_the_first(version_and_run, monkeypatch):
    version_id, run_id = version_and_run
    edge = Edge("dataset_version", version_id, "run", run_id)
    monkeypatch.setenv("CAIRN_USER", "first")
    add_edges(open_store(), [edge, edge])  # twice in one batch, too
    monkeypatch.setenv("CAIRN_USER", "second")
    add_edges(open_store(), [edge])
    stored = edges_to("run", run_id)
    assert len(stored) == 1 and stored[0].creator == "first"


def test_an_unknown_record_is_not_found_and_nothing_of_the_batch_is_written(version_and_run):
    version_id, run_id = version_and_run
    with pytest.raises(NotFound) as caught:
        add_edges(
            open_store(),
            [
                Edge("dataset_version", version_id, "run", run_id),
                Edge("dataset_version", "f" * 32, "run", run_id),
            ],
        )
    assert caught.value.field == "dataset_version" and caught.value.value == "f" * 32
    assert "dataset version" in str(caught.value)
    with pytest.raises(NotFound) as caught:
        add_edges(open_store(), [Edge("dataset_version", version_id, "run", "0" * 32)])
    assert caught.value.field == "run"
    assert _count_edges() == 0


def test_edges_given_a_connection_join_the_callers_transaction(version_and_run):
    version_id, run_id = version_and_run
    store = open_store()
    with pytest.raises(RuntimeError), store.write() as conn:
        add_edges(conn, [Edge("dataset_version", version_id, "run", run_id)])
        assert len(edges_to("run", run_id, source=conn)) == 1  # visible inside
        raise RuntimeError("the caller's work failed")
    assert _count_edges() == 0  # rolled back with it
    with store.write() as conn:
        add_edges(conn, [Edge("dataset_version", version_id, "run", run_id)])
    assert _count_edges() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"src_kind": "Dataset Version"}, "src_kind"),
        ({"dst_kind": ""}, "dst_kind"),
        ({"relation": "x" * 40}, "relation"),
        ({"src_id": ""}, "src_id"),
        ({"dst_id": "x" * 33}, "dst_id"),
        ({"dst_id": 7}, "dst_id"),
    ],
)
def test_malformed_edges_are_refused_naming_the_field(kwargs, field):
    edge = {"src_kind": "dataset_version", "src_id": "a", "dst_kind": "run", "dst_id": "b"}
    with pytest.raises(InvalidInput) as caught:
        Edge(**{**edge, **kwargs})
    assert caught.value.field == field
