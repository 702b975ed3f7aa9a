"""Pipelines benchmark (issue 3): what cairn adds around each step, and a fully cached re-run.

Figures:

1. ``per_step_overhead_ms``: a chain of 20 no-op steps on the local executor with the cache
   off, wall time of ``run()`` (tracked runs, a worker process, stored outputs, the end record)
   divided by 20; the median over ``--repeat`` runs. Target: under 20 ms. The first run in a
   process also starts the forkserver that workers are forked from: it is reported on its own
   as ``per_step_overhead_cold_ms`` and left out of the median.
2. ``cached_rerun_s``: a 50-step pipeline (ten chains of five) run once, then run again with
   every step a cache hit; the median time of the re-run. Target: under 1 s.
3. ``snapshot``: the issue's third figure, a snapshot of a 1,000,000 × 20 DataFrame against
   ``dvc add`` (target: at least 5 times faster), measured by ``data_snapshot.py``, which also
   runs alone (its docstring says how); ``--dvc`` names the dvc executable.

Each figure gets a fresh CAIRN_HOME (SQLite store, local artifact folder). No other tool is run
for the first two: there is no common ground to compare a pipeline runner's overhead on.

    .venv/bin/python benchmarks/pipelines.py [--quick] [--json] [--repeat N] [--dvc PATH]

The last result is also written to ``benchmarks/results/pipelines.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from time import perf_counter
from typing import Any

import data_snapshot
from publish import publish

import cairn
from cairn.pipelines import run

CHAIN = 20
WIDE_CHAINS, WIDE_DEPTH = 10, 5  # 50 steps
TARGET_STEP_MS = 20.0
TARGET_CACHED_S = 1.0


@cairn.step
def noop(value: int) -> int:
    return value + 1


@cairn.pipeline(name="bench-chain")
def chain(length: int = CHAIN):
    value = noop(0)
    for _ in range(length - 1):
        value = noop(value)
    return value


@cairn.pipeline(name="bench-fifty")
def fifty(chains: int = WIDE_CHAINS, depth: int = WIDE_DEPTH):
    ends = []
    for start in range(chains):
        value = noop(start * 1000)
        for _ in range(depth - 1):
            value = noop(value)
        ends.append(value)
    return ends


def _fresh_home(root: str, name: str) -> None:
    os.environ["CAIRN_HOME"] = os.path.join(root, name)
    for variable in ("CAIRN_URI", "CAIRN_ARTIFACTS"):
        os.environ.pop(variable, None)


def _timed(pipeline: Any, **kwargs: Any) -> float:
    start = perf_counter()
    result = run(pipeline, **kwargs)
    elapsed = perf_counter() - start
    result.raise_for_status()
    return elapsed


def measure(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cairn-bench-pipelines-") as root:
        _fresh_home(root, "chain")
        cold = _timed(chain, cache=False)
        chain_times = [_timed(chain, cache=False) for _ in range(repeat)]
        _fresh_home(root, "cached")
        _timed(fifty)  # fills the cache
        cached_times = [_timed(fifty) for _ in range(repeat)]
    per_step = statistics.median(chain_times) / CHAIN * 1000
    cached = statistics.median(cached_times)
    return {
        "benchmark": "pipelines",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "chain_steps": CHAIN,
        "per_step_overhead_ms": round(per_step, 2),
        "per_step_overhead_cold_ms": round(cold / CHAIN * 1000, 2),
        "per_step_overhead_runs_s": [round(t, 3) for t in chain_times],
        "per_step_target_ms": TARGET_STEP_MS,
        "per_step_target_met": per_step < TARGET_STEP_MS,
        "cached_steps": WIDE_CHAINS * WIDE_DEPTH,
        "cached_rerun_s": round(cached, 3),
        "cached_rerun_runs_s": [round(t, 3) for t in cached_times],
        "cached_target_s": TARGET_CACHED_S,
        "cached_target_met": cached < TARGET_CACHED_S,
    }


def print_report(report: dict[str, Any]) -> None:
    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print(
        f"cairn pipelines, Python {report['python']}, {report['cpus']} cpus, median of {report['repeat']}"
    )
    print(
        f"  overhead per step (chain of {report['chain_steps']} no-op steps, local executor): "
        f"{report['per_step_overhead_ms']:.1f} ms   target < {report['per_step_target_ms']:g} ms: "
        f"{verdict(report['per_step_target_met'])}"
    )
    print(
        f"    first run in a fresh process (starts the forkserver): "
        f"{report['per_step_overhead_cold_ms']:.1f} ms per step"
    )
    print(
        f"  fully cached re-run of {report['cached_steps']} steps: {report['cached_rerun_s']:.3f} s"
        f"   target < {report['cached_target_s']:g} s: {verdict(report['cached_target_met'])}"
    )
    data_snapshot.print_report(report["snapshot"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a few seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, help="repeats for medians (default 7, quick 3)")
    parser.add_argument("--dvc", default=str(data_snapshot.DEFAULT_DVC), help="the dvc executable")
    args = parser.parse_args(argv)
    report = measure(args.repeat or (3 if args.quick else 7))
    report["snapshot"] = data_snapshot.report(args)
    publish(report, "pipelines", args.json, print_report)


if __name__ == "__main__":
    sys.exit(main())
