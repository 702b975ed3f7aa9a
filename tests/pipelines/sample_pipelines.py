"""Pipelines the tests run. Worker processes import this module by name, so it lives on
``sys.path`` (pytest puts this folder there; ``conftest.py`` adds it to PYTHONPATH too).

Steps note each execution in the folder ``trail`` names (a file per call), so a test can count
what really ran, and when.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

import cairn


def note(trail: str, name: str, **extra: object) -> None:
    """Record that step ``name`` ran: its pid and start time, in a file of its own."""
    if not trail:
        return
    folder = Path(trail)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"step": name, "pid": os.getpid(), "at": time.time(), **extra}
    path = folder / f"{name}-{time.time_ns()}-{os.getpid()}.json"
    # written whole, then renamed: tests poll the folder while steps write to it
    path.with_suffix(".partial").write_text(json.dumps(record))
    path.with_suffix(".partial").replace(path)


def executions(trail: str | Path, name: str | None = None) -> list[dict]:
    """What ran, oldest first (optionally only step ``name``)."""
    folder = Path(trail)
    if not folder.is_dir():
        return []
    found = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    return sorted((r for r in found if name is None or r["step"] == name), key=lambda r: r["at"])


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in status


def noted_pids(trail: str, name: str) -> list[int]:
    """The process that ran step ``name`` last and the child process it started."""
    record = executions(trail, name)[-1]
    return [record["pid"], record["child"]]


def wait_gone(pids: list[int], within: float = 5.0) -> list[int]:
    """The pids still alive after waiting up to ``within`` seconds for them to go."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


# a small training pipeline -----------------------------------------------------------------


@cairn.step
def load(n: int, trail: str = "") -> pd.DataFrame:
    note(trail, "load")
    print(f"loading {n} rows")
    print("a warning on stderr", file=sys.stderr)
    cairn.active_run().set_tag("rows", n)
    x = np.arange(n, dtype=float)
    return pd.DataFrame({"x": x, "y": 2 * x + 1})


@cairn.step
def split(frame: pd.DataFrame, trail: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    note(trail, "split")
    cut = int(len(frame) * 0.8)
    return frame.iloc[:cut], frame.iloc[cut:].reset_index(drop=True)


@cairn.step(cache=False)
def describe(frame: pd.DataFrame, trail: str = "") -> dict:
    note(trail, "describe")
    cairn.log_metric("rows", len(frame))
    return {"rows": len(frame), "mean_x": float(frame["x"].mean())}


@cairn.step
def fit(train: pd.DataFrame, lr: float, trail: str = "") -> LinearRegression:
    note(trail, "fit", lr=lr)
    return LinearRegression().fit(train[["x"]], train["y"])


@cairn.step
def score(model: LinearRegression, test: pd.DataFrame, trail: str = "") -> float:
    note(trail, "score")
    return float(model.score(test[["x"]], test["y"]))


@cairn.step
def coefficients(model: LinearRegression) -> np.ndarray:
    return np.asarray(model.coef_)


@cairn.pipeline(name="training")
def training(n: int = 100, lr: float = 0.1, trail: str = ""):
    frame = load(n, trail)
    train, test = split(frame, trail)
    summary = describe(frame, trail)
    model = fit(train, lr, trail)
    return {
        "model": model,
        "score": score(model, test, trail),
        "coef": coefficients(model),
        "summary": summary,
        "test": test,
    }


# parallelism, resources ----------------------------------------------------------------------


@cairn.step
def nap(seconds: float, label: str, trail: str = "") -> str:
    note(trail, label, phase="start")
    time.sleep(seconds)
    note(trail, label + "-end", phase="end")
    return label


@cairn.step(cpus=2)
def greedy_nap(seconds: float, label: str, trail: str = "") -> str:
    note(trail, label, phase="start")
    time.sleep(seconds)
    note(trail, label + "-end", phase="end")
    return label


@cairn.step
def join(*labels: str) -> list:
    return sorted(labels)


@cairn.pipeline
def two_naps(seconds: float = 1.0, trail: str = ""):
    return join(nap(seconds, "a", trail), nap(seconds, "b", trail))


@cairn.pipeline
def two_greedy_naps(seconds: float = 0.5, trail: str = ""):
    return join(greedy_nap(seconds, "a", trail), greedy_nap(seconds, "b", trail))


@cairn.step(gpus=1, memory_mb=64)
def gpu_env() -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


@cairn.pipeline
def uses_a_gpu():
    return gpu_env()


@cairn.step(cpus=64)
def huge() -> int:
    return 1


@cairn.pipeline
def too_big():
    return huge()


# faults ---------------------------------------------------------------------------------


@cairn.step(retries=2, retry_backoff=0.1)
def flaky(trail: str, succeed_on: int) -> int:
    note(trail, "flaky")
    attempt = len(executions(trail, "flaky"))
    print(f"attempt {attempt}")
    if attempt < succeed_on:
        raise RuntimeError(f"flaky failure on attempt {attempt}")
    return attempt


@cairn.pipeline
def flaky_pipeline(trail: str = "", succeed_on: int = 2):
    return flaky(trail, succeed_on)


def _sleep_with_child(trail: str, label: str, seconds: float) -> None:
    """Start a child process, note both pids, then sleep: a step that leaves work running."""
    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    note(trail, label, child=child.pid)
    print(f"{label} sleeping", flush=True)
    time.sleep(seconds)


@cairn.step(timeout=1)
def stuck(trail: str) -> int:
    _sleep_with_child(trail, "stuck", 30)
    return 1


@cairn.pipeline
def stuck_pipeline(trail: str = ""):
    return stuck(trail)


@cairn.step
def boom(trail: str) -> int:
    """Fail once the sibling runs (so that there is something to cancel)."""
    deadline = time.monotonic() + 20
    while not executions(trail, "sibling") and time.monotonic() < deadline:
        time.sleep(0.05)
    note(trail, "boom")
    raise ValueError("boom: the data is bad")


@cairn.step
def slow_sibling(trail: str) -> int:
    _sleep_with_child(trail, "sibling", 30)
    return 1


@cairn.pipeline
def failing(trail: str = ""):
    return join(boom(trail), slow_sibling(trail))


@cairn.pipeline
def sleeping(trail: str = ""):
    return slow_sibling(trail)


@cairn.step
def first(trail: str) -> pd.DataFrame:
    note(trail, "first")
    return pd.DataFrame({"v": [1, 2, 3]})


@cairn.step(cache=False)
def second(frame: pd.DataFrame, trail: str) -> pd.DataFrame:
    note(trail, "second")
    return frame * 10


@cairn.step
def third(frame: pd.DataFrame, trail: str, gate: str) -> int:
    note(trail, "third")
    if not Path(gate).exists():
        raise RuntimeError(f"gate {gate} is closed")
    return int(frame["v"].sum())


@cairn.pipeline
def gated(trail: str = "", gate: str = ""):
    return third(second(first(trail), trail), trail, gate)


@cairn.step(retries=1, retry_backoff=0)
def dies(trail: str) -> int:
    note(trail, "dies")
    os._exit(3)  # the worker process goes away mid-step


@cairn.pipeline
def dying(trail: str = ""):
    return dies(trail)


class Opaque:
    """Something no serializer takes."""


@cairn.step
def opaque() -> Opaque:
    return Opaque()


@cairn.pipeline
def unstorable():
    return opaque()


@cairn.step
def half_opaque() -> tuple[int, Opaque]:
    return 1, Opaque()


@cairn.pipeline
def half_unstorable():
    return half_opaque()


# building errors ------------------------------------------------------------------------


@cairn.step
def untyped_pair(n: int):
    return n, n + 1


@cairn.pipeline
def unpacks_untyped(n: int = 1):
    a, b = untyped_pair(n)
    return a


@cairn.pipeline
def indexes_untyped(n: int = 1):
    pair = untyped_pair(n)
    return {"first": pair[0], "second": pair[1]}


@cairn.pipeline
def misses_an_input(n: int = 1):
    return fit(load(n))  # fit needs lr


@cairn.pipeline
def needs_a_param(n: int):
    return load(n)


@cairn.pipeline
def chain(length: int = 20):
    value = noop(0)
    for _ in range(length - 1):
        value = noop(value)
    return value


@cairn.step
def noop(value: int) -> int:
    return value + 1
