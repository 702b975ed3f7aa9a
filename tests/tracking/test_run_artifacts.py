"""Run artifacts (files, folders, tables, figures, dicts) on the local store and on S3."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import cairn
from cairn.errors import InvalidInput, NotFound


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def artifact_location(request, monkeypatch, tmp_path) -> str:
    if request.param == "local":
        location = str(tmp_path / "blobs")
    else:
        request.getfixturevalue("s3_env")
        location = f"s3://{request.getfixturevalue('s3_bucket')}/runs-{tmp_path.name}"
    monkeypatch.setenv("CAIRN_ARTIFACTS", location)
    return location


def test_files_folders_tables_figures_and_dicts_round_trip(artifact_location, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text("auc 0.8\n")
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (folder / "sub" / "config.json").write_text('{"depth": 3}')
    frame = pd.DataFrame({"y": [0, 1, 1], "p": [0.1, 0.8, 0.7]})
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with cairn.start_run(experiment="artifacts") as run:
        run.log_artifact(report)
        run.log_artifact(folder, "model")
        run.log_dataframe(frame, "predictions/val")
        run.log_figure(fig, "plots/roc.png")
        run.log_dict({"threshold": 0.5}, "config/threshold.json")
        run.log_text("hello", "notes/readme.txt")
    plt.close(fig)
    client = cairn.Client()
    paths = [a.path for a in client.list_artifacts(run.id)]
    assert paths == sorted(
        [
            "report.txt",
            "model/weights.bin",
            "model/sub/config.json",
            "predictions/val.parquet",
            "plots/roc.png",
            "config/threshold.json",
            "notes/readme.txt",
        ]
    )
    pd.testing.assert_frame_equal(client.load_artifact(run.id, "predictions/val.parquet"), frame)
    assert client.load_artifact(run.id, "config/threshold.json") == {"threshold": 0.5}
    assert client.load_artifact(run.id, "notes/readme.txt") == "hello"
    assert client.load_artifact(run.id, "plots/roc.png")[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "out"
    written = client.download_artifacts(run.id, out, "model")
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "model/sub/config.json",
        "model/weights.bin",
    ]
    assert (out / "model" / "weights.bin").read_bytes() == b"\x00\x01" * 1000


def test_same_bytes_in_two_runs_are_stored_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CAIRN_ARTIFACTS", str(tmp_path / "blobs"))
    data = np.arange(10_000, dtype=np.float64)
    digests = []
    for _ in range(2):
        with cairn.start_run(experiment="dedupe") as run:
            digests.append(run.service.log_object(run.id, data, "arrays/x").digest)
    assert digests[0] == digests[1]
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 1
    np.testing.assert_array_equal(cairn.Client().load_artifact(run.id, "arrays/x.npy"), data)


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "a/../../b", "nul\x00byte"])
def test_bad_logical_paths_are_refused_and_nothing_recorded(bad, tmp_path):
    with cairn.start_run(experiment="artifacts") as run:
        with pytest.raises(InvalidInput) as caught:
            run.log_text("x", bad)
        assert caught.value.field == "path"
    assert cairn.Client().list_artifacts(run.id) == []


def test_unknown_artifact_and_missing_local_file_are_not_found(tmp_path):
    with cairn.start_run(experiment="artifacts") as run, pytest.raises(NotFound):
        run.log_artifact(tmp_path / "does-not-exist.txt")
    with pytest.raises(NotFound):
        cairn.Client().load_artifact(run.id, "nothing/here.txt")


def test_unencodable_object_is_refused_naming_its_type():
    with cairn.start_run(experiment="artifacts") as run, pytest.raises(InvalidInput) as caught:
        run.service.log_object(run.id, object(), "thing")
    assert caught.value.value == "object"
