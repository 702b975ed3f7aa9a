"""The server over its life: following an alias under load, stopping without losing the log,
serving a package folder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
from serving_harness import in_home, register_credit_models, running_server

import cairn
import cairn.models
from cairn.models.compiled import TOLERANCE
from cairn.serving import read_predictions


def test_alias_move_switches_versions_under_load_without_a_failed_request(
    tmp_path, credit, records
):
    register_credit_models(tmp_path, credit)
    with running_server(tmp_path, "credit-risk@champion", "--poll", "0.2") as server:
        stop = threading.Event()
        answers: list[httpx.Response] = []

        def client(i: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                while not stop.is_set():
                    row = records[i % len(records)]
                    answers.append(
                        http.post("/v1/models/credit-risk/predict", json={"records": [row]})
                    )

        with ThreadPoolExecutor(4) as pool:
            for i in range(4):
                pool.submit(client, i)
            while len(answers) < 50:
                threading.Event().wait(0.05)
            with in_home(tmp_path):
                cairn.registry.set_alias("credit-risk", "champion", 2)
            while not any(a.status_code == 200 and a.json()["version"] == 2 for a in answers[-20:]):
                threading.Event().wait(0.05)
            seen = len(answers)
            while len(answers) < seen + 50:
                threading.Event().wait(0.05)
            stop.set()
        assert server.stop()
    assert [a.text for a in answers if a.status_code != 200] == []
    versions = [a.json()["version"] for a in answers]
    assert versions[0] == 1 and versions[-1] == 2
    switched = versions.index(2)
    assert set(versions[switched + 20 :]) == {2}  # no flapping back once switched


def test_graceful_stop_writes_every_logged_prediction(tmp_path, credit, records):
    register_credit_models(tmp_path, credit)
    # the log is written every 60 s: all of it is still queued when the server is stopped
    with running_server(tmp_path, "credit-risk/1", "--log-interval", "60") as server:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda r: server.predict([r, r]), records * 4))
        assert {a.status_code for a in answers} == {200}
        with in_home(tmp_path):
            assert read_predictions("credit-risk").empty
        assert server.stop()
    with in_home(tmp_path):
        logged = read_predictions("credit-risk")
    assert len(logged) == 2 * len(answers)
    assert set(logged["request_id"]) == {a.json()["request_id"] for a in answers}
    assert set(logged["model_version"]) == {1}


def test_a_package_folder_is_served_without_its_registry(tmp_path, credit, records):
    register_credit_models(tmp_path / "registry", credit)
    with in_home(tmp_path / "registry"):
        folder = cairn.registry.package("credit-risk/2", tmp_path / "package")
    elsewhere = tmp_path / "elsewhere"  # another machine: an empty store
    elsewhere.mkdir()
    with running_server(elsewhere, str(folder)) as server:
        answer = server.predict(records[:3])
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 2
        assert server.get("/v1/models/credit-risk").json()["follows_alias"] is False
        server.stop()
    with in_home(elsewhere):
        assert len(read_predictions("credit-risk")) == 3


def test_a_compiled_model_answers_as_the_original_and_follows_its_alias(tmp_path, credit, records):
    register_credit_models(tmp_path, credit)
    with in_home(tmp_path):
        original = cairn.models.load("credit-risk@champion")
    serving = ("credit-risk@champion", "--compile", "onnx", "--poll", "0.2")
    with running_server(tmp_path, *serving) as server:
        described = server.get("/v1/models/credit-risk").json()
        assert described["compiled"] == "onnx" and described["flavour"] == "sklearn"
        answer = server.predict(records[:20])
        assert answer.status_code == 200, answer.text
        frame = pd.DataFrame(records[:20])
        assert answer.json()["predictions"] == original.predict(frame).tolist()
        np.testing.assert_allclose(
            answer.json()["probabilities"], original.predict_proba(frame), atol=TOLERANCE
        )
        bad = server.predict([dict(records[0], home_ownership="castle")])
        assert bad.status_code == 422 and bad.json()["field"] == "home_ownership"
        with in_home(tmp_path):
            cairn.registry.set_alias("credit-risk", "champion", 2)
        for _ in range(100):  # the new version is compiled in turn, then swapped in
            if server.predict(records[:1]).json()["version"] == 2:
                break
            threading.Event().wait(0.1)
        assert server.get("/v1/models/credit-risk").json() | {"signature": None} == {
            **described,
            "version": 2,
            "signature": None,
        }
        server.stop()


def test_an_unknown_compile_target_stops_the_server_naming_it(tmp_path, credit):
    register_credit_models(tmp_path, credit)
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "serve", "credit-risk/1", "--compile", "tflite"],
        env={**os.environ, "CAIRN_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "compile" in done.stderr and "tflite" in done.stderr
