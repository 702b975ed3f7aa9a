"""Demo, Level 2 monitoring: the served model meets a drifting portfolio, the monitor sees it
and an alert reaches a webhook, once.

Traffic from ``make_credit_applications`` goes through a real ``cairn serve``: a calm day
(``drift=0``), then two days of a downturn (``drift=1``), with the true labels sent back as
feedback. After each day ``run_monitor`` checks that day's rows against the reference stored
with the model version; a rule on the share of drifted features POSTs to a webhook receiver
running here, and fires once for the two drifted days.

`python examples/demo_monitoring.py` runs it on its own: it trains and serves a model first
(demo_serving.py), then runs this part.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd
from rich.console import Console

sys.path.insert(0, os.path.dirname(__file__))
from demo_serving import MODEL  # noqa: E402 - the serving part, beside this file

import cairn  # noqa: E402
from cairn.datasets import credit  # noqa: E402
from cairn.monitoring import add_rule, report_of, run_monitor, set_reference  # noqa: E402
from cairn.serving import read_predictions, serving_in_background  # noqa: E402

console = Console()
ROWS_PER_DAY = 2_000
BATCH = 100


class WebhookReceiver:
    """Where the alerts go: an HTTP endpoint on loopback that prints what it receives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                alert = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["alert"]
                received.append(alert)
                console.print(
                    f"  [bold red]webhook received[/]: {alert['severity']} alert "
                    f"{alert['rule']!r} ({alert['condition']}, value {alert['value']:.2f})"
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/alerts"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def send_day(url: str, day: pd.DataFrame, features: list[str]) -> None:
    """The day's applications in requests of BATCH rows, then their true outcomes."""
    with httpx.Client(base_url=url, timeout=30) as http:
        for first in range(0, len(day), BATCH):
            part = day.iloc[first : first + BATCH]
            body = {"records": json.loads(part[features].to_json(orient="records"))}
            answer = http.post(f"/v1/models/{MODEL}/predict", json=body).json()
            labels = part[credit.LABEL].tolist()
            http.post("/v1/feedback", json={"request_id": answer["request_id"], "labels": labels})


def wait_for_log(rows: int) -> None:
    """The server writes its log every half second: wait until the day's rows are in."""
    for _ in range(200):
        if len(read_predictions(MODEL)) >= rows:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the prediction log never reached {rows} rows")


def run(ref: str, validation: pd.DataFrame, out: Path = Path("monitoring-report.html")) -> None:
    """Monitor ``ref`` against ``validation``: held-out rows, on which the model's scores look
    as they will in service (on its own training rows a boosted model is surer of itself)."""
    console.rule("[bold]Level 2: monitoring the served model for drift, with alerts")
    version = cairn.registry.get_version(ref)
    features = version.signature.columns
    reference = set_reference(version.ref, validation)
    console.print(
        f"reference of {version.ref}: {reference.rows:,} held-out rows, with the model's "
        "predictions on them"
    )
    receiver = WebhookReceiver()
    add_rule(
        MODEL,
        "inputs-drifting",
        "drift.share",
        ">=",
        0.5,
        severity="critical",
        webhook=receiver.url,
    )
    add_rule(MODEL, "accuracy-drop", "performance.accuracy", "<", 0.8, webhook=receiver.url)
    console.print(
        "alert rules: drift.share >= 0.5 (critical), performance.accuracy < 0.8, to " + receiver.url
    )
    days = [("calm day", 0.0), ("downturn, day 1", 1.0), ("downturn, day 2", 1.0)]
    with serving_in_background(ref) as url:
        for number, (name, drift) in enumerate(days):
            day = credit.make_credit_applications(
                ROWS_PER_DAY, seed=100 + number, drift=drift, first_id=1_000_000 * (number + 1)
            )
            already = len(read_predictions(MODEL))
            send_day(url, day, features)
            wait_for_log(already + ROWS_PER_DAY)
            checked = run_monitor(MODEL, last=ROWS_PER_DAY)
            summary = checked.summary
            console.print(
                f"[bold]{name}[/] (drift={drift:g}): {checked.rows:,} served rows, status "
                f"[bold]{checked.status}[/], {summary['share_drifted']:.0%} of features drifted"
                + (
                    f" ({', '.join(summary['drifted_features'])})"
                    if summary["drifted_features"]
                    else ""
                )
            )
            if summary["prediction_drifted"]:
                console.print(f"  prediction drift: {', '.join(summary['prediction_drifted'])}")
            console.print(
                f"  live accuracy from feedback {checked.metrics['performance.accuracy']:.1%}, "
                f"ROC AUC {checked.metrics['performance.roc_auc']:.3f}"
            )
            for alert in checked.alerts:
                console.print(f"  alert {alert.status}: {alert.rule}")
    receiver.close()
    out.write_bytes(report_of(checked.id))
    calls = Counter(alert["rule"] for alert in receiver.received)
    console.print(
        f"webhook calls over {len(days) - 1} drifted days: "
        + ", ".join(f"{rule} {count}" for rule, count in sorted(calls.items()))
        + " (one per rule and episode, not one per check)"
    )
    console.print(f"the last run's report (distributions, tests, summary): {out}")


if __name__ == "__main__":
    import demo_serving

    import cairn.data
    import cairn.pipelines

    month = credit.make_credit_applications(5_000, seed=7)
    dataset = cairn.data.snapshot(month, name="credit-applications")
    result = cairn.pipelines.run("credit_pipeline:training", params={"dataset": dataset.ref})
    result.raise_for_status()
    demo_serving.run(result, credit.make_credit_applications(2_000, seed=8, first_id=5_001))
    run(f"{MODEL}@champion", credit.make_credit_applications(5_000, seed=9, first_id=10_001))
