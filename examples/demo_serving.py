"""Demo, Level 1 deployment: register the pipeline's model, a second person reviews it, it is
deployed and served, and the server answers predictions and takes feedback.

Called by demo.py with the pipeline run it trained; `python examples/demo_serving.py` runs it
on its own (it trains through the pipeline first).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator

import httpx
import pandas as pd
from rich.console import Console

import cairn
from cairn.datasets import credit
from cairn.errors import PermissionDenied
from cairn.serving import read_predictions, serving_in_background
from cairn.serving.deployments import deploy

console = Console()
MODEL = "credit-risk"


@contextlib.contextmanager
def as_user(name: str) -> Iterator[None]:
    """Act as another person (cairn takes the user from CAIRN_USER)."""
    previous = os.environ.get("CAIRN_USER")
    os.environ["CAIRN_USER"] = name
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CAIRN_USER")
        else:
            os.environ["CAIRN_USER"] = previous


def run(pipeline_run, new_month: pd.DataFrame) -> None:  # noqa: ANN001
    console.rule("[bold]Level 1: registry, review by a second person, deployment, serving")
    model = pipeline_run.outputs["model"]
    features = list(model.feature_names_in_)
    with as_user("ana"):
        version = cairn.registry.register(
            pipeline_run.run_id,
            MODEL,
            model=model,
            input_example=new_month[features].head(),
            description="gradient boosting from the credit-training pipeline",
        )
        cairn.registry.request_approval(version.ref)
        console.print(
            f"ana registered {version.ref} from pipeline run {pipeline_run.run_id[:12]} "
            f"({len(version.signature.inputs)} typed inputs) and asked for a review"
        )
        try:
            deploy(version.ref)
        except PermissionDenied as refused:
            console.print(f"deploying before the review is refused: [yellow]{refused}[/]")
        try:
            cairn.registry.approve(version.ref)
        except PermissionDenied as refused:
            console.print(f"ana cannot approve her own model: [yellow]{refused}[/]")
    with as_user("ben"):
        cairn.registry.approve(version.ref, comment="AUC and features checked")
        cairn.registry.set_alias(MODEL, "champion", version.version)
        done = deploy(version.ref, comment="first release")
    console.print(
        f"ben approved it; {done.ref} deployed to {done.target} by {done.creator} "
        f"under approval {done.approval_id[:12]}, alias @champion -> {version.version}"
    )

    rows = json.loads(new_month[features].head(300).to_json(orient="records"))
    labels = new_month[credit.LABEL].head(300).tolist()
    with serving_in_background(f"{MODEL}@champion") as url, httpx.Client(base_url=url) as http:
        started = time.perf_counter()
        answers = [
            http.post(f"/v1/models/{MODEL}/predict", json={"records": [row]}).json() for row in rows
        ]
        elapsed = time.perf_counter() - started
        for answer, label in zip(answers, labels, strict=True):
            http.post("/v1/feedback", json={"request_id": answer["request_id"], "label": label})
        batch = http.post(f"/v1/models/{MODEL}/predict", json={"records": rows}).json()
        bad = dict(rows[0], home_ownership="castle")
        refused = http.post(f"/v1/models/{MODEL}/predict", json={"records": [bad]}).json()
        metrics = [
            line
            for line in http.get("/metrics").text.splitlines()
            if line.startswith("cairn_predict_requests_total")
        ]
    console.print(
        f"served {MODEL}@champion: {len(answers)} one-row requests one after another in "
        f"{elapsed:.2f}s ({1000 * elapsed / len(answers):.1f} ms each), then one of "
        f"{len(batch['predictions'])} rows; version {answers[0]['version']} answered"
    )
    console.print(f"a request with an unknown category gets a 422: {refused['message']}")
    console.print("metrics: " + "; ".join(m.split("{", 1)[1] for m in metrics))
    logged = read_predictions(MODEL)
    labelled = logged.dropna(subset=["label"])
    accuracy = (labelled["prediction"] == labelled["label"]).mean()
    console.print(
        f"prediction log: {len(logged)} rows written after the server stopped; "
        f"{len(labelled)} have their true label, live accuracy {accuracy:.1%}"
    )


if __name__ == "__main__":
    import cairn.data
    import cairn.pipelines

    sys.path.insert(0, os.path.dirname(__file__))
    month = credit.make_credit_applications(5_000, seed=7)
    dataset = cairn.data.snapshot(month, name="credit-applications")
    result = cairn.pipelines.run("credit_pipeline:training", params={"dataset": dataset.ref})
    result.raise_for_status()
    run(result, credit.make_credit_applications(2_000, seed=8, first_id=5_001))
