"""Tracking benchmark (issue 2): the same work on cairn and on MLflow, both on SQLite, in one run.

Workloads (full sizes; ``--quick`` runs about 1/10 to 1/100 of them):

1. ``log_metric``: 10,000 per-call ``log_metric`` in a run, timed to the run's end (so the
   buffered points are written), in calls/s. MLflow is timed on 1,000 calls: it takes
   milliseconds per call, and a rate is a rate.
2. ``log_batch``: 1,000,000 points (10 keys) in batches: cairn ``Client.log_batch`` with
   10,000 points a call, MLflow ``MlflowClient.log_batch`` with 1,000 (its cap), and a bare
   ``sqlite3`` ``executemany`` into a table built from cairn's own ``metrics`` DDL (WAL,
   ``synchronous=NORMAL``, one transaction a batch, as cairn does), in points/s.
3. ``create_runs`` and ``search_runs``: 10,000 runs with 10 params and 10 metrics each, created
   as each API allows (cairn: ``start_run(params=...)`` + ``log_metrics``; MLflow:
   ``create_run`` + ``log_batch`` + ``set_terminated``), then a filtered, ordered search
   returning 100 runs, median over at least 20 searches. Both tools must return the same runs.
4. ``metric_history``: reading back a 100,000-point history with ``get_metric_history``.

Each tool gets a fresh temporary folder per workload (CAIRN_HOME, or the MLflow database).
Inputs are built before the clock starts, in each API's own types; reads get one untimed
warm-up call. Figures are medians over ``--repeat`` runs; ratios say how many times faster cairn
is, except ``log_batch_vs_sqlite`` (cairn's time over bare SQLite's).

MLflow lives in its own virtualenv (``make .venv-bench-mlflow/.installed``): this script starts
itself there with ``--worker mlflow --task NAME`` for each workload, right after cairn's half, and
reads one JSON object back. Only the standard library is imported at module level, so the worker
needs nothing of cairn's.

    .venv/bin/python benchmarks/tracking.py [--quick] [--json] [--repeat N] [--mlflow-python PATH]

The last result is also written to ``benchmarks/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from publish import RESULTS as PUBLISHED
from publish import publish

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MLFLOW_PYTHON = ROOT / ".venv-bench-mlflow" / "bin" / "python"
RESULTS = PUBLISHED / "tracking.json"

SEED = 2
T0_MS = 1_700_000_000_000
# p1 takes 4 values and m0 is uniform on [0, 1): the filter keeps about 1 run in 8.
FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"
SEARCH_LIMIT = 100


@dataclass(frozen=True)
class Sizes:
    log_metric_calls: int = 10_000
    mlflow_log_metric_calls: int = 1_000
    batch_points: int = 1_000_000
    cairn_batch: int = 10_000  # points a call: 1k-5k are slower, 10k-250k alike within noise
    mlflow_batch: int = 1_000  # MLflow refuses more than 1,000 metrics per call
    mlflow_batch_points: int = 1_000_000
    mlflow_batch_budget_s: float = 180.0  # MLflow stops there and its rate is taken so far
    runs: int = 10_000
    mlflow_runs: int = 10_000
    searches: int = 30
    history_points: int = 100_000


FULL = Sizes()
QUICK = Sizes(
    log_metric_calls=1_000,
    mlflow_log_metric_calls=100,
    batch_points=20_000,
    cairn_batch=5_000,
    mlflow_batch_points=20_000,
    mlflow_batch_budget_s=10.0,
    runs=900,  # about the fewest runs of which more than 100 match the filter
    mlflow_runs=900,
    searches=5,
    history_points=5_000,
)

# What each measurement returns: per-repeat figures (rates, or times in ms), the size measured
# and, for the run search, the names of the runs found.
Figures = dict[str, Any]


# -- inputs, identical in both interpreters ------------------------------------------------------


def metric_points(n: int, keys: Sequence[str]) -> list[tuple[str, float, int, int]]:
    """``n`` points as (key, value, step, timestamp_ms), the keys taking turns at each step."""
    rng = random.Random(SEED)
    width = len(keys)
    return [(keys[i % width], rng.random(), i // width, T0_MS + i) for i in range(n)]


def run_specs(n: int) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """(name, params, metrics) of ``n`` runs with 10 params and 10 metrics each."""
    rng = random.Random(SEED)
    return [
        (
            f"run-{i}",
            {f"p{k}": f"v{rng.randrange(4)}" for k in range(10)},
            {f"m{k}": rng.random() for k in range(10)},
        )
        for i in range(n)
    ]


def expected_matches(specs: Sequence[tuple[str, dict[str, str], dict[str, float]]]) -> int:
    return sum(1 for _, p, m in specs if m["m0"] > 0.5 and p["p1"] == "v3")


METRIC_KEYS = tuple(f"m{k}" for k in range(10))


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def time_searches(search, repeat: int):  # noqa: ANN001, ANN201
    """Seconds of each of ``repeat`` searches after one warm-up, and the last result."""
    search()
    times, found = [], []
    for _ in range(repeat):
        elapsed, found = timed(search)
        assert len(found) == SEARCH_LIMIT, len(found)
        times.append(elapsed)
    return times, found


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(milliseconds, result) of one call."""
    start = perf_counter()
    result = fn()
    return (perf_counter() - start) * 1000, result


# -- cairn ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def cairn_home() -> Iterator[Any]:
    """A ``cairn.Client`` on a store in a fresh CAIRN_HOME, closed afterwards."""
    import cairn

    names = ("CAIRN_HOME", "CAIRN_URI", "CAIRN_ARTIFACTS")
    saved = {name: os.environ.pop(name, None) for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-cairn-") as home:
        os.environ["CAIRN_HOME"] = home
        client = cairn.Client()
        with cairn.start_run("warm-up"):  # schema, environment and git capture: once a process
            pass
        try:
            yield client
        finally:
            client.service.store.close()
            for name, value in saved.items():
                os.environ.pop(name, None)
                if value is not None:
                    os.environ[name] = value


def cairn_log_metric(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    import cairn

    calls = sizes.log_metric_calls
    values = [value for _, value, _, _ in metric_points(calls, ["loss"])]
    rates = []
    with cairn_home() as client:
        for _ in range(repeat):
            gc.collect()
            with cairn.start_run("bench-log-metric") as run:
                start = perf_counter()
                for step, value in enumerate(values):
                    run.log_metric("loss", value, step=step)
            rates.append(calls / (perf_counter() - start))  # the run's end flushed the buffer
            assert len(client.get_metric_history(run.id, "loss")) == calls
    return {"log_metric": {"samples": rates, "size": calls}}


def cairn_log_batch(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    import cairn

    points = metric_points(sizes.batch_points, METRIC_KEYS)
    batches = chunks(points, sizes.cairn_batch)
    rates = []
    for _ in range(repeat):
        with cairn_home() as client, cairn.start_run("bench-log-batch") as run:
            gc.collect()
            start = perf_counter()
            for batch in batches:
                client.log_batch(run.id, metrics=batch)
            rates.append(len(points) / (perf_counter() - start))
            assert len(client.get_metric_history(run.id, "m0")) == len(points) // len(METRIC_KEYS)
    return {"log_batch": {"samples": rates, "size": len(points), "batch": sizes.cairn_batch}}


def sqlite_log_batch(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    """The floor under cairn's batched write: the same rows into the same table, nothing else."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from cairn.store.schema import metrics

    dialect = sqlite.dialect()
    ddl = [str(CreateTable(metrics).compile(dialect=dialect))]
    ddl += [str(CreateIndex(index).compile(dialect=dialect)) for index in metrics.indexes]
    columns = "run_id, key, step, timestamp, value"
    insert = f"INSERT INTO metrics ({columns}) VALUES (?, ?, ?, ?, ?)"
    run_id = "0" * 32
    rows = [(run_id, k, s, t, v) for k, v, s, t in metric_points(sizes.batch_points, METRIC_KEYS)]
    batches = chunks(rows, sizes.cairn_batch)
    rates = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
            conn = sqlite3.connect(Path(folder, "bare.db"), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in ddl:
                conn.execute(statement)
            gc.collect()
            start = perf_counter()
            for batch in batches:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert, batch)
                conn.execute("COMMIT")
            rates.append(len(rows) / (perf_counter() - start))
            conn.close()
    return {"log_batch": {"samples": rates, "size": len(rows), "batch": sizes.cairn_batch}}


def cairn_runs(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    import cairn

    specs = run_specs(sizes.runs)

    def search() -> Any:
        return client.search_runs(
            "bench", filter=FILTER, order_by=["metrics.m1 desc"], limit=SEARCH_LIMIT
        )

    with cairn_home() as client:
        gc.collect()
        start = perf_counter()
        for name, params, values in specs:
            with cairn.start_run("bench", name=name, params=params) as run:
                run.log_metrics(values)
        created = perf_counter() - start
        times, found = time_searches(search, max(repeat, sizes.searches))
    return {
        "create_runs": {"samples": [len(specs) / created], "size": len(specs)},
        "search_runs": {
            "samples": times,
            "size": len(specs),
            "found": [run.name for run in found],
        },
    }


def cairn_history(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    import cairn

    points = metric_points(sizes.history_points, ["loss"])
    with cairn_home() as client, cairn.start_run("bench-history") as run:
        for batch in chunks(points, sizes.cairn_batch):
            client.log_batch(run.id, metrics=batch)
        client.get_metric_history(run.id, "loss")  # warm-up
        times = []
        for _ in range(repeat):
            elapsed, history = timed(lambda: client.get_metric_history(run.id, "loss"))
            assert len(history) == len(points)
            times.append(elapsed)
    return {"metric_history": {"samples": times, "size": len(points)}}


CAIRN_TASKS = {
    "log_metric": cairn_log_metric,
    "log_batch": cairn_log_batch,
    "runs": cairn_runs,
    "history": cairn_history,
}


# -- MLflow (runs in its own virtualenv) ---------------------------------------------------------


@contextlib.contextmanager
def mlflow_home() -> Iterator[tuple[Any, str]]:
    """(MlflowClient, experiment id) on a fresh SQLite database in a temporary folder."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as home:
        mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
        client = mlflow.MlflowClient()
        experiment_id = client.create_experiment(
            "bench", artifact_location=Path(home, "artifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment_id):  # warm-up, as for cairn
            pass
        yield client, experiment_id


def mlflow_log_metric(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    import mlflow

    calls = sizes.mlflow_log_metric_calls
    values = [value for _, value, _, _ in metric_points(calls, ["loss"])]
    rates = []
    with mlflow_home() as (client, experiment_id):
        for _ in range(repeat):
            gc.collect()
            with mlflow.start_run(experiment_id=experiment_id) as run:
                start = perf_counter()
                for step, value in enumerate(values):
                    mlflow.log_metric("loss", value, step=step)
            rates.append(calls / (perf_counter() - start))
            assert len(client.get_metric_history(run.info.run_id, "loss")) == calls
    return {"log_metric": {"samples": rates, "size": calls}}


def mlflow_log_batch(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    """One pass (it is slow), stopped at the time budget; the rate is over the points written."""
    from mlflow.entities import Metric

    points = metric_points(sizes.mlflow_batch_points, METRIC_KEYS)
    batches = chunks([Metric(k, v, t, s) for k, v, s, t in points], sizes.mlflow_batch)
    with mlflow_home() as (client, experiment_id):
        run_id = client.create_run(experiment_id).info.run_id
        gc.collect()
        written = 0
        start = perf_counter()
        for batch in batches:
            client.log_batch(run_id, metrics=batch)
            written += len(batch)
            if perf_counter() - start > sizes.mlflow_batch_budget_s:
                break
        rate = written / (perf_counter() - start)
    return {"log_batch": {"samples": [rate], "size": written, "batch": sizes.mlflow_batch}}


def mlflow_runs(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    from mlflow.entities import Metric, Param

    specs = run_specs(sizes.mlflow_runs)

    def search() -> Any:
        return client.search_runs(
            [experiment_id],
            filter_string=FILTER,
            order_by=["metrics.m1 DESC"],
            max_results=SEARCH_LIMIT,
        )

    with mlflow_home() as (client, experiment_id):
        gc.collect()
        start = perf_counter()
        for name, params, values in specs:
            run_id = client.create_run(experiment_id, run_name=name).info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, T0_MS, 0) for k, v in values.items()],
                params=[Param(k, v) for k, v in params.items()],
            )
            client.set_terminated(run_id)
        created = perf_counter() - start
        times, found = time_searches(search, max(repeat, sizes.searches))
    return {
        "create_runs": {"samples": [len(specs) / created], "size": len(specs)},
        "search_runs": {
            "samples": times,
            "size": len(specs),
            "found": [run.info.run_name for run in found],
        },
    }


def mlflow_history(sizes: Sizes, repeat: int) -> dict[str, Figures]:
    from mlflow.entities import Metric

    points = metric_points(sizes.history_points, ["loss"])
    batches = chunks([Metric(k, v, t, s) for k, v, s, t in points], sizes.mlflow_batch)
    with mlflow_home() as (client, experiment_id):
        run_id = client.create_run(experiment_id).info.run_id
        for batch in batches:
            client.log_batch(run_id, metrics=batch)
        client.get_metric_history(run_id, "loss")  # warm-up
        times = []
        for _ in range(repeat):
            elapsed, history = timed(lambda: client.get_metric_history(run_id, "loss"))
            assert len(history) == len(points)
            times.append(elapsed)
    return {"metric_history": {"samples": times, "size": len(points)}}


MLFLOW_TASKS = {
    "log_metric": mlflow_log_metric,
    "log_batch": mlflow_log_batch,
    "runs": mlflow_runs,
    "history": mlflow_history,
}


def mlflow_worker(task: str, sizes: Sizes, repeat: int) -> None:
    """Run one task in the MLflow virtualenv; the only thing on stdout is its JSON result."""
    import logging

    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):
        figures = MLFLOW_TASKS[task](sizes, repeat)
    print(json.dumps({"version": mlflow.__version__, "figures": figures}))


def run_mlflow(python: Path, task: str, sizes: Sizes, repeat: int) -> dict[str, Any]:
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker=mlflow",
        f"--task={task}",
        f"--sizes={json.dumps(asdict(sizes))}",
        f"--repeat={repeat}",
    ]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-cwd-") as cwd:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"MLflow worker for {task!r} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- what is reported ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[float, float], bool]  # (cairn's figure, ratio) -> met


@dataclass(frozen=True)
class Workload:
    name: str
    task: str
    title: str
    unit: str  # "<things>/s" (more is better) or "ms" (less is better)
    target: Target | None
    against: str = "mlflow"  # or "sqlite": bare sqlite3, run in this process
    figures_key: str | None = None  # the key in the task's figures, when not ``name``

    @property
    def key(self) -> str:
        return self.figures_key or self.name

    @property
    def is_rate(self) -> bool:
        return self.unit.endswith("/s")


WORKLOADS = [
    Workload(
        "log_metric",
        "log_metric",
        "per-call log_metric in a run",
        "calls/s",
        Target("ratio >= 50", lambda cairn, ratio: ratio >= 50),
    ),
    Workload(
        "log_batch",
        "log_batch",
        "batched metric points",
        "points/s",
        Target("ratio >= 10", lambda cairn, ratio: ratio >= 10),
    ),
    Workload(
        "log_batch_vs_sqlite",
        "log_batch",
        "batched points vs bare sqlite3",
        "points/s",
        Target("ratio <= 3", lambda cairn, ratio: ratio <= 3),
        against="sqlite",
        figures_key="log_batch",
    ),
    Workload("create_runs", "runs", "create runs (10 params, 10 metrics)", "runs/s", None),
    Workload(
        "search_runs",
        "runs",
        "filtered, ordered search, limit 100",
        "ms",
        Target("cairn <= 50 ms and ratio >= 10", lambda cairn, ratio: cairn <= 50 and ratio >= 10),
    ),
    Workload(
        "metric_history",
        "history",
        "read a metric history",
        "ms",
        Target("ratio >= 10", lambda cairn, ratio: ratio >= 10),
    ),
]
TASKS = list(dict.fromkeys(w.task for w in WORKLOADS))


def entry(workload: Workload, cairn: Figures, other: Figures | None) -> dict[str, Any]:
    """One workload's line: medians, the ratio, the target and whether it is met."""
    mine = statistics.median(cairn["samples"])
    theirs = None if other is None else statistics.median(other["samples"])
    if workload.against == "sqlite":
        means = "cairn's time / bare sqlite3's time"
        ratio = None if theirs is None else theirs / mine
    else:
        means = f"how many times faster cairn is than {workload.against}"
        ratio = None if theirs is None else (mine / theirs if workload.is_rate else theirs / mine)
    met = None
    if workload.target is not None and ratio is not None:
        met = bool(workload.target.check(mine, ratio))
    return {
        "title": workload.title,
        "cairn": mine,
        "mlflow": None,  # every line has it; against sqlite it stays None
        workload.against: theirs,
        "against": workload.against,
        "ratio": ratio,
        "ratio_means": means,
        "target": None if workload.target is None else workload.target.text,
        "met": met,
        "unit": workload.unit,
        "sizes": {
            "cairn": cairn["size"],
            workload.against: None if other is None else other["size"],
        },
        "samples": {
            "cairn": len(cairn["samples"]),
            workload.against: None if other is None else len(other["samples"]),
        },
    }


def notes(sizes: Sizes, results: dict[str, Any], mlflow_missing: str | None) -> list[str]:
    said = []
    if mlflow_missing:
        said.append(f"MLflow was not installed ({mlflow_missing}): cairn's figures only.")
        return said
    mlflow = results["mlflow"]
    said.append(
        f"log_metric: MLflow timed on {sizes.mlflow_log_metric_calls:,} calls, cairn on "
        f"{sizes.log_metric_calls:,}; the rates are compared."
    )
    written = mlflow["log_batch"]["log_batch"]["size"]
    if written < sizes.batch_points:
        reason = (
            f"stopped at its {sizes.mlflow_batch_budget_s:.0f} s budget"
            if written < sizes.mlflow_batch_points
            else "sized down"
        )
        said.append(
            f"log_batch: MLflow wrote {written:,} of {sizes.batch_points:,} points ({reason}); "
            "its rate over those is extrapolated to the whole."
        )
    said.append(
        f"log_batch: {sizes.cairn_batch:,} points a call for cairn and bare sqlite3, "
        f"{sizes.mlflow_batch:,} for MLflow (its limit); MLflow had one pass."
    )
    said.append(
        "create_runs: cairn through start_run(params=...) + log_metrics (it also captures "
        "source, git state and environment); MLflow through MlflowClient create_run + "
        "log_batch + set_terminated."
    )
    found = {tool: results[tool]["runs"]["search_runs"]["found"] for tool in ("cairn", "mlflow")}
    same = "the same" if found["cairn"] == found["mlflow"] else "DIFFERENT"
    said.append(f"search_runs: cairn and MLflow returned {same} {SEARCH_LIMIT} runs, in order.")
    return said


def machine(mlflow_version: str | None) -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import cairn

    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cairn": cairn.__version__,
        "mlflow": mlflow_version,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def figure(value: float | None, unit: str) -> str:
        if value is None:
            return "-"
        return f"{value:,.0f}" if unit.endswith("/s") else f"{value:,.2f}"

    table = Table(title="cairn vs MLflow: experiment tracking on SQLite (medians)")
    table.add_column("workload")
    table.add_column("unit")
    for column in ("cairn", "other", "ratio"):
        table.add_column(column, justify="right")
    table.add_column("target")
    table.add_column("met", justify="center")
    for name, item in report["workloads"].items():
        against = item["against"]
        ratio = "-" if item["ratio"] is None else f"{item['ratio']:,.1f}×"
        met = {None: "-", True: "[green]yes[/]", False: "[bold red]NO[/]"}[item["met"]]
        table.add_row(
            f"{name} [dim]{item['title']}[/]",
            item["unit"],
            figure(item["cairn"], item["unit"]),
            f"{figure(item[against], item['unit'])} [dim]{against}[/]",
            ratio,
            item["target"] or "[dim](reported)[/]",
            met,
        )
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(table)
    for line in report["notes"]:
        console.print(f"- {line}", highlight=False)
    console.print(
        "[dim]ratio: how many times faster cairn is; against sqlite, cairn's time / sqlite's. "
        f"Took {report['duration_s']:.0f} s; also written to {RESULTS}[/]"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rich.console import Console

    began = perf_counter()
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat or (3 if args.quick else 5)
    python = Path(args.mlflow_python) if args.mlflow_python else DEFAULT_MLFLOW_PYTHON
    missing = None if python.exists() else f"{python} does not exist"
    assert expected_matches(run_specs(min(sizes.runs, sizes.mlflow_runs))) > SEARCH_LIMIT

    status = Console(stderr=True)
    results: dict[str, dict[str, Any]] = {"cairn": {}, "sqlite": {}, "mlflow": {}}
    mlflow_version = None
    for task in TASKS:
        with status.status(f"{task}: cairn"):
            results["cairn"][task] = CAIRN_TASKS[task](sizes, repeat)
        if task == "log_batch":
            with status.status(f"{task}: bare sqlite3"):
                results["sqlite"][task] = sqlite_log_batch(sizes, repeat)
        if missing is None:
            with status.status(f"{task}: MLflow"):
                answer = run_mlflow(python, task, sizes, repeat)
            results["mlflow"][task] = answer["figures"]
            mlflow_version = answer["version"]
        status.log(f"{task}: done")

    workloads = {
        w.name: entry(
            w,
            results["cairn"][w.task][w.key],
            results[w.against].get(w.task, {}).get(w.key),
        )
        for w in WORKLOADS
    }
    return {
        "workloads": workloads,
        "sizes": {**asdict(sizes), "repeat": repeat, "quick": args.quick},
        "machine": machine(mlflow_version),
        "notes": notes(sizes, results, missing),
        "duration_s": perf_counter() - began,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, help="repeats for medians (default 5, quick 3)")
    parser.add_argument(
        "--mlflow-python",
        help=f"python of the MLflow virtualenv (default {DEFAULT_MLFLOW_PYTHON.relative_to(ROOT)})",
    )
    parser.add_argument("--worker", choices=["mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--task", choices=list(MLFLOW_TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        mlflow_worker(args.task, Sizes(**json.loads(args.sizes)), args.repeat)
        return
    report = run(args)
    publish(report, "tracking", args.json, print_table)


if __name__ == "__main__":
    main()
