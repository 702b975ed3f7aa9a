"""Packages: a self-contained folder that loads without any store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cairn
import cairn.models
import cairn.registry as registry
from cairn.errors import IntegrityError, NotFound

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def packaged(tmp_path, credit_model, features):
    with cairn.start_run(experiment="credit") as run:
        version = run.log_model(credit_model, name="credit-risk", input_example=features.head())
    return version, registry.package(version.ref, tmp_path / "pkg")


def test_package_holds_model_signature_requirements_and_metadata(packaged):
    version, folder = packaged
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "model.json",
        "model.skops",
        "predict.py",
        "requirements.txt",
        "signature.json",
    ]
    meta = json.loads((folder / "model.json").read_text())
    assert meta["name"] == "credit-risk" and meta["version"] == 1
    assert meta["digest"] == version.digest and meta["run_id"] == version.run_id
    assert meta["flavour"] == "sklearn"
    requirements = (folder / "requirements.txt").read_text().splitlines()
    pinned = {line.split("==")[0] for line in requirements}
    assert {"scikit-learn", "skops", "numpy", "pandas", "cairn"} <= pinned
    assert "pytest" not in pinned  # only what the flavour needs
    packages = version.environment["packages"]
    assert f"scikit-learn=={packages['scikit-learn']}" in requirements


def test_package_loads_without_a_store(packaged, features, credit_model, monkeypatch, tmp_path):
    _, folder = packaged
    monkeypatch.setenv("CAIRN_URI", "sqlite:////nonexistent/dir/never.db")
    loaded = cairn.models.load(folder)
    np.testing.assert_array_equal(
        loaded.predict(features.head(20)), credit_model.predict(features.head(20))
    )
    assert cairn.models.load(str(folder)).version == 1


def test_entry_point_predicts_a_csv(packaged, features, tmp_path):
    _, folder = packaged
    source = tmp_path / "in.csv"
    features.head(5).to_csv(source, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_URI")}
    done = subprocess.run(
        [sys.executable, str(folder / "predict.py"), str(source)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout.splitlines()[0] == "prediction" and len(done.stdout.splitlines()) == 6


def test_tampered_package_is_refused(packaged):
    _, folder = packaged
    model_file = folder / "model.skops"
    data = bytearray(model_file.read_bytes())
    data[100] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        cairn.models.load(folder)


def test_unknown_package_folder(tmp_path):
    with pytest.raises(NotFound, match="model package"):
        cairn.models.load(tmp_path)
