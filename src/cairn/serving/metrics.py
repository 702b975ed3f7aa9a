"""Prometheus metrics of a model server, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """Requests, latency, errors and rows, labelled by model and version."""

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series only add noise to a scrape
        self.registry = CollectorRegistry()
        labels = ["model", "version"]
        self.requests = Counter(
            "cairn_predict_requests",
            "Predict requests answered, by HTTP status",
            [*labels, "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cairn_predict_latency_seconds",
            "Time from a predict request's arrival to its answer",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "cairn_predict_errors",
            "Predict requests refused or failed, by kind of error",
            [*labels, "kind"],
            registry=self.registry,
        )
        self.rows = Counter(
            "cairn_predicted_rows", "Rows predicted", labels, registry=self.registry
        )
        self.log_pending = Gauge(
            "cairn_prediction_log_pending_rows",
            "Predicted rows waiting to be written to the prediction log",
            registry=self.registry,
        )
        self._series: dict[tuple[str, int, int], tuple] = {}

    def observe(
        self, model: str, version: int, status: int, seconds: float, rows: int, error: str | None
    ) -> None:
        series = self._series.get((model, version, status))
        if series is None:  # looking a labelled child up costs more than the update itself
            key = (model, str(version))
            series = self._series[(model, version, status)] = (
                self.requests.labels(*key, str(status)),
                self.latency.labels(*key),
                self.rows.labels(*key),
            )
        requests, latency, predicted = series
        requests.inc()
        latency.observe(seconds)
        if error is None:
            predicted.inc(rows)
        else:
            self.errors.labels(model, str(version), error).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
