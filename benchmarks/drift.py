"""Drift benchmark (issue 6): per-column data drift on cairn, Evidently and bare numpy/scipy.

The work: seeded synthetic tables, a reference and a current one, three numeric columns in four
(normal, log-normal, exponential, integers) and one categorical in four (5 to 20 categories);
every fifth column drifts in the current table (numeric: shifted by 0.3 standard deviations or
scaled by 1.3; categorical: 60 % of each category's share moved to the next one), the others
are fresh draws of the same distribution. Each tool tests every column and says which drifted:

* cairn: ``cairn.monitoring.drift(reference, current)`` (KS, normalised Wasserstein, PSI per
  numeric column; chi-square, Jensen–Shannon, PSI per categorical one; verdict by Wasserstein or
  Jensen–Shannon above 1,000 rows, as Evidently);
* bare numpy/scipy: the same statistics as one would write them, a column at a time:
  ``scipy.stats.ks_2samp``, ``scipy.stats.wasserstein_distance``, ``np.histogram`` on
  reference deciles, ``chi2_contingency``, ``jensenshannon`` on ``np.bincount`` of category codes;
* Evidently: ``Report([DataDriftPreset()], include_tests=True)`` with the column types
  declared, in its own virtualenv (``.venv-bench-evidently``, built by ``make bench``), run by
  this script with ``--worker evidently`` on the same tables written to Parquet.

Figures: median seconds over ``--repeat`` runs (Evidently: one run, it is slow), precision and
recall on the known drifted columns, and cairn's peak memory (tracemalloc, over what the two
tables already hold) against the size of the tables. Targets: >= 10x faster than Evidently,
within 3x of bare numpy/scipy, precision and recall >= Evidently's, peak <= 3x the data.

    .venv/bin/python benchmarks/drift.py [--quick] [--json] [--repeat N] [--evidently-python PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
from publish import publish

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVIDENTLY_PYTHON = ROOT / ".venv-bench-evidently" / "bin" / "python"
SHAPES = [(1_000_000, 20), (100_000, 100)]
QUICK_SHAPES = [(100_000, 20), (20_000, 100)]
DISTANCE_THRESHOLD = 0.1  # Wasserstein (normed) and Jensen–Shannon, for every tool


def synthetic(rows: int, columns: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Reference, current, and the names of the columns that drift."""
    rng = np.random.default_rng(seed)
    reference, current, drifted = {}, {}, []
    for j in range(columns):
        name = f"c{j:03d}"
        moved = j % 5 == 2
        if j % 4 == 3:
            k = 5 + j % 16
            p = rng.dirichlet(np.full(k, 2.0))
            q = 0.4 * p + 0.6 * np.roll(p, 1) if moved else p
            labels = [f"v{i}" for i in range(k)]
            for side, probs in ((reference, p), (current, q)):
                codes = rng.choice(k, rows, p=probs).astype(np.int8)
                side[name] = pd.Categorical.from_codes(codes, categories=labels)
        else:
            draw = [
                lambda n: rng.normal(50, 10, n),
                lambda n: rng.lognormal(3, 0.6, n),
                lambda n: rng.exponential(4.0, n),
                lambda n: rng.integers(0, 1000, n).astype(np.float64),
            ][j % 4]
            reference[name], cur = draw(rows), draw(rows)
            if moved:
                cur = cur + 0.3 * cur.std() if j % 2 else cur * 1.3
            current[name] = cur
        if moved:
            drifted.append(name)
    return pd.DataFrame(reference), pd.DataFrame(current), drifted


def bare_scipy(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """The same statistics, written plainly with numpy and scipy; the drifted columns."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    drifted = []
    for name in reference.columns:
        ref, cur = reference[name], current[name]
        if isinstance(ref.dtype, pd.CategoricalDtype):
            k = len(ref.cat.categories)
            p = np.bincount(ref.cat.codes.to_numpy(), minlength=k)
            q = np.bincount(cur.cat.codes.to_numpy(), minlength=k)
            stats.chi2_contingency(np.vstack([p, q])[:, (p + q) > 0])
            distance = jensenshannon(p / p.sum(), q / q.sum())
            _psi(p, q)
        else:
            a, b = ref.to_numpy(), cur.to_numpy()
            stats.ks_2samp(a, b)
            distance = stats.wasserstein_distance(a, b) / np.std(a)
            edges = np.quantile(a, np.linspace(0, 1, 11))
            edges[0], edges[-1] = -np.inf, np.inf
            _psi(np.histogram(a, edges)[0], np.histogram(b, edges)[0])
        if distance >= DISTANCE_THRESHOLD:
            drifted.append(name)
    return drifted


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.maximum(p / p.sum(), 1e-4)
    q = np.maximum(q / q.sum(), 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def cairn_drift(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    from cairn.monitoring import drift

    return drift(reference, current).drifted_features


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    categorical = [c for c in reference if isinstance(reference[c].dtype, pd.CategoricalDtype)]
    definition = DataDefinition(
        numerical_columns=[c for c in reference if c not in categorical],
        categorical_columns=categorical,
    )
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    drifted = []
    for test in snapshot.dict()["tests"]:
        column = test["metric_config"]["params"].get("column")
        if column is not None and test["status"] == "FAIL":
            drifted.append(column)
    return drifted


def timed(work: Any, repeat: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeat):
        start = perf_counter()
        result = work()
        samples.append(perf_counter() - start)
    return samples, result


def scores(found: list[str], truth: list[str]) -> dict[str, float]:
    hits = len(set(found) & set(truth))
    return {
        "precision": hits / len(found) if found else 1.0,
        "recall": hits / len(truth) if truth else 1.0,
    }


def peak_memory(reference: pd.DataFrame, current: pd.DataFrame) -> int:
    """Bytes cairn allocates at its peak, over what the tables hold (numpy reports its buffers
    to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    cairn_drift(reference, current)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def run_evidently(python: Path, reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        reference.to_parquet(Path(tmp) / "reference.parquet")
        current.to_parquet(Path(tmp) / "current.parquet")
        command = [str(python), __file__, "--worker=evidently", f"--data={tmp}"]
        env = {**os.environ, "DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp)
    if done.returncode != 0:
        raise RuntimeError(f"Evidently worker failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def evidently_worker(folder: Path) -> None:
    import resource

    import evidently

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    with contextlib.redirect_stdout(sys.stderr):
        samples, found = timed(lambda: evidently_drift(reference, current), 1)
    print(
        json.dumps(
            {
                "version": evidently.__version__,
                "median_s": statistics.median(samples),
                "samples": samples,
                "drifted": found,
                "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def measure(rows: int, columns: int, repeat: int, evidently_python: Path) -> dict[str, Any]:
    reference, current, truth = synthetic(rows, columns, seed=rows + columns)
    data_bytes = int(
        reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum()
    )
    result: dict[str, Any] = {"rows": rows, "columns": columns, "drifted_columns": truth}
    cairn_drift(reference, current)  # warm-up: imports, thread pool
    samples, found = timed(lambda: cairn_drift(reference, current), repeat)
    peak = peak_memory(reference, current)
    result["cairn"] = {
        "median_s": statistics.median(samples),
        "samples": samples,
        **scores(found, truth),
        "peak_bytes": peak,
        "data_bytes": data_bytes,
        "peak_over_data": peak / data_bytes,
    }
    samples, found = timed(lambda: bare_scipy(reference, current), repeat)
    result["bare_scipy"] = {
        "median_s": statistics.median(samples),
        "samples": samples,
        **scores(found, truth),
    }
    result["cairn_over_bare"] = result["cairn"]["median_s"] / result["bare_scipy"]["median_s"]
    if evidently_python.exists():
        evidently = run_evidently(evidently_python, reference, current)
        evidently.update(scores(evidently.pop("drifted"), truth))
        result["evidently"] = evidently
        result["evidently_over_cairn"] = evidently["median_s"] / result["cairn"]["median_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smaller tables, fewer repeats.")
    parser.add_argument("--json", action="store_true", help="Print JSON only.")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--evidently-python", type=Path, default=DEFAULT_EVIDENTLY_PYTHON)
    parser.add_argument("--worker", choices=["evidently"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "evidently":
        evidently_worker(args.data)
        return
    repeat = args.repeat or (1 if args.quick else 3)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    result = {
        "workload": "per-column data drift of a reference and a current table",
        "repeat": repeat,
        "cpus": os.cpu_count(),
        "evidently_python": str(args.evidently_python),
        "runs": [measure(r, c, repeat, args.evidently_python) for r, c in shapes],
    }
    publish(result, "drift", args.json, print_summary)


def print_summary(result: dict) -> None:
    for run in result["runs"]:
        c, b = run["cairn"], run["bare_scipy"]
        print(
            f"{run['rows']:,} rows x {run['columns']} columns ({len(run['drifted_columns'])} drift):"
        )
        print(
            f"  cairn        {c['median_s']:7.2f} s  precision {c['precision']:.2f} recall "
            f"{c['recall']:.2f}  peak {c['peak_bytes'] / 1e6:.0f} MB = "
            f"{c['peak_over_data']:.2f}x the data ({c['data_bytes'] / 1e6:.0f} MB)"
        )
        print(
            f"  numpy/scipy  {b['median_s']:7.2f} s  precision {b['precision']:.2f} recall "
            f"{b['recall']:.2f}  (cairn takes {run['cairn_over_bare']:.2f}x its time)"
        )
        if "evidently" in run:
            e = run["evidently"]
            print(
                f"  evidently    {e['median_s']:7.2f} s  precision {e['precision']:.2f} recall "
                f"{e['recall']:.2f}  (Evidently {e['version']}; cairn is "
                f"{run['evidently_over_cairn']:.1f}x faster)"
            )
        else:
            print(f"  (Evidently not measured: {result['evidently_python']} does not exist)")


if __name__ == "__main__":
    main()
