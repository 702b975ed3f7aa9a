"""The server over its life: following an alias under load, stopping without losing the log,
serving a package folder."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from serving_harness import in_home, register_credit_models, running_server

import cairn
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
