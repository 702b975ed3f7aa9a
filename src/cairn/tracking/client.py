"""``cairn.Client``: reading and managing what tracking stored, from any process."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cairn.tracking.entities import Artifact, Experiment, MetricHistory, Run, RunList
from cairn.tracking.service import MetricRow, TrackingService, tracking_service
from cairn.tracking.validation import check_key, metric_step, metric_value


class Client:
    """Typed access to experiments and runs in the store named by ``uri`` (default CAIRN_URI)."""

    def __init__(self, uri: str | None = None, artifacts: str | None = None) -> None:
        self.service: TrackingService = tracking_service(uri, artifacts)

    def list_experiments(self) -> list[Experiment]:
        return self.service.list_experiments()

    def get_experiment(self, name_or_id: str) -> Experiment:
        return self.service.get_experiment(name_or_id)

    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        return self.service.create_experiment(name, description)

    def get_run(self, run_id: str) -> Run:
        """A run by id, or by a unique prefix of six characters or more."""
        return self.service.get_run(run_id)

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002
        order_by: Sequence[str] | str | None = None,
        limit: int | None = 1000,
        include_deleted: bool = False,
    ) -> RunList:
        """Runs matching a filter such as ``metrics.auc > 0.9 and params.model = 'rf'``."""
        return self.service.search_runs(
            experiment,
            filter=filter,
            order_by=order_by,
            limit=limit,
            include_deleted=include_deleted,
        )

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        return self.service.get_metric_history(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[tuple[str, float, int, int]] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Write many points at once: ``metrics`` holds (key, value, step, timestamp_ms) tuples."""
        run_id = self.service.resolve_run_id(run_id)
        if params:
            self.service.log_params(run_id, params)
        if tags:
            self.service.set_tags(run_id, tags)
        checked: set[str] = set()
        rows: list[MetricRow] = []
        for key, value, step, timestamp in metrics:
            if key not in checked:
                checked.add(check_key("metric key", key))
            if type(value) is not float or value != value:  # plain floats skip the checks
                value = metric_value(key, value)
            if type(step) is not int:
                step = metric_step(key, step)
            rows.append((key, value, step, int(timestamp)))
        self.service.log_metric_rows(run_id, rows)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.service.set_tags(self.service.resolve_run_id(run_id), tags)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return self.service.list_artifacts(run_id)

    def load_artifact(self, run_id: str, path: str) -> Any:
        """A stored artifact as an object: DataFrame, ndarray, dict, text or bytes."""
        return self.service.load_artifact(self.service.resolve_run_id(run_id), path)

    def download_artifacts(
        self, run_id: str, dest: str | os.PathLike, path: str | None = None
    ) -> list[Path]:
        return self.service.download_artifacts(self.service.resolve_run_id(run_id), dest, path)

    def delete_run(self, run_id: str) -> None:
        self.service.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.service.restore_run(run_id)

    def kill_run(self, run_id: str) -> Run:
        """Mark a run left running by a dead process as killed."""
        return self.service.kill_run(run_id)

    def get_environment(self, run: Run) -> dict[str, Any]:
        """Python version, platform and installed packages the run ran with."""
        if run.environment_digest is None:
            return {}
        return self.service.get_environment(run.environment_digest)
