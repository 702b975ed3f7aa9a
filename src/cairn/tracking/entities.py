"""What tracking records: experiments, runs and metric points, as plain typed objects."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from cairn.core.timeutil import from_ms


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    description: str | None
    created_at: datetime
    creator: str


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True)
class Artifact:
    path: str
    digest: str
    size: int
    media_type: str
    created_at: datetime


@dataclass(frozen=True)
class Run:
    id: str
    experiment_id: str
    experiment: str
    name: str | None
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    creator: str
    source: str | None
    git_commit: str | None
    git_dirty: bool | None
    parent_id: str | None
    host: str | None
    pid: int | None
    notes: str | None
    error: str | None
    deleted: bool
    environment_digest: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # the last value of each key
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["start_time"] = self.start_time.isoformat()
        data["end_time"] = self.end_time.isoformat() if self.end_time else None
        # JSON has no NaN or infinity: say them as strings.
        data["metrics"] = {k: v if math.isfinite(v) else str(v) for k, v in self.metrics.items()}
        return data


class RunList(list[Run]):
    """Runs from a search, in order; ``to_pandas`` gives one row per run."""

    def to_pandas(self):  # noqa: ANN201 - pandas imported lazily
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.id,
                "experiment": run.experiment,
                "name": run.name,
                "status": str(run.status),
                "start_time": run.start_time,
                "end_time": run.end_time,
                "creator": run.creator,
                "parent_id": run.parent_id,
            }
            row.update({f"params.{k}": v for k, v in run.params.items()})
            row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
            row.update({f"tags.{k}": v for k, v in run.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)


class MetricHistory(Sequence[Metric]):
    """Every point of one metric of one run, ordered by step then time.

    Held as columns (numpy arrays) because histories run to millions of points; a ``Metric``
    object is made only for the items a caller indexes.
    """

    def __init__(self, key: str, steps: np.ndarray, values: np.ndarray, timestamps: np.ndarray):
        self.key = key
        self.steps = steps
        self.values = values  # NaN where NaN was logged
        self.timestamps = timestamps  # milliseconds since the epoch

    @classmethod
    def from_rows(cls, key: str, rows: list[tuple[int, float | None, int]]) -> MetricHistory:
        """From (step, value, timestamp) rows as the store returns them; None means NaN."""
        dtype = [("step", np.int64), ("value", np.float64), ("timestamp", np.int64)]
        try:
            table = np.fromiter(rows, dtype=dtype, count=len(rows))
        except TypeError:  # a NULL (NaN) value: numpy will not take None in a float field
            nan = float("nan")
            fixed = ((s, nan if v is None else v, t) for s, v, t in rows)
            table = np.fromiter(fixed, dtype=dtype, count=len(rows))
        return cls(key, table["step"], table["value"], table["timestamp"])

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int or slice, as for a list
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Metric(
            self.key,
            float(self.values[index]),
            int(self.steps[index]),
            from_ms(int(self.timestamps[index])),
        )

    def to_pandas(self):  # noqa: ANN201 - pandas imported lazily
        import pandas as pd

        return pd.DataFrame(
            {
                "step": self.steps,
                "value": self.values,
                "timestamp": pd.to_datetime(self.timestamps, unit="ms", utc=True),
            }
        )
