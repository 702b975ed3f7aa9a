"""Registry benchmark (issue 4): registering a model version, on cairn and on MLflow.

The work: a scikit-learn pipeline (one-hot encoding, imputation, scaling, logistic regression)
trained on ``cairn.datasets.make_credit_applications`` is logged from a run and registered as
the next version of ``credit-risk`` with an input example — cairn ``run.log_model(...)``,
MLflow ``mlflow.sklearn.log_model(..., registered_model_name=..., input_example=...)`` — each on
SQLite in a fresh temporary folder. The figure is the median over ``--repeat`` registrations
after one untimed warm-up (which pays the imports); the cold first call is reported too.
Target: at most 0.3 s per registration.

MLflow runs in its own virtualenv (``.venv-bench-mlflow``, built by ``make bench``): this script
starts itself there with ``--worker mlflow`` on the same training data (written to Parquet) and
reads one JSON object back. Only the standard library is imported at module level.

    .venv/bin/python benchmarks/registry.py [--quick] [--json] [--repeat N] [--mlflow-python PATH]
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

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MLFLOW_PYTHON = ROOT / ".venv-bench-mlflow" / "bin" / "python"
TARGET_S = 0.3
LABEL = "defaulted"


def train(frame: Any) -> tuple[Any, Any]:
    """The pipeline both tools register, and its feature frame (scikit-learn only)."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = frame.drop(columns=[LABEL])
    categorical = [c for c in features if str(features[c].dtype) == "category"]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ),
        LogisticRegression(max_iter=500),
    ).fit(features, frame[LABEL])
    return model, features


def cairn_registration(frame: Any, repeat: int) -> dict[str, Any]:
    model, features = train(frame)
    example = features.head()
    with tempfile.TemporaryDirectory(prefix="bench-cairn-") as home:
        os.environ["CAIRN_HOME"] = home
        os.environ.pop("CAIRN_URI", None)
        os.environ.pop("CAIRN_ARTIFACTS", None)
        import cairn

        samples = []
        for _ in range(repeat + 1):  # the first is the cold call
            with cairn.start_run(experiment="bench") as run:
                run.log_metric("auc", 0.8)
                start = perf_counter()
                run.log_model(model, name="credit-risk", input_example=example)
                samples.append(perf_counter() - start)
    return {
        "cold_s": samples[0],
        "median_s": statistics.median(samples[1:]),
        "samples": samples[1:],
    }


def mlflow_registration(frame: Any, repeat: int) -> dict[str, Any]:
    import logging

    import mlflow
    import mlflow.sklearn

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import skops.io

    model, features = train(frame)
    example = features.head()
    # MLflow 3 saves with skops too and refuses types it was not told to trust (numpy.dtype):
    # list them before the clock starts, as cairn records them itself.
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    samples = []
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as home:
        mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
        mlflow.set_experiment("bench")
        for _ in range(repeat + 1):
            with mlflow.start_run():
                mlflow.log_metric("auc", 0.8)
                start = perf_counter()
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    registered_model_name="credit-risk",
                    input_example=example,
                    skops_trusted_types=trusted,
                )
                samples.append(perf_counter() - start)
    return {
        "version": mlflow.__version__,
        "cold_s": samples[0],
        "median_s": statistics.median(samples[1:]),
        "samples": samples[1:],
    }


def run_mlflow(python: Path, data: Path, repeat: int) -> dict[str, Any]:
    command = [str(python), __file__, "--worker=mlflow", f"--data={data}", f"--repeat={repeat}"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-cwd-") as cwd:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"MLflow worker failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer rows and repeats.")
    parser.add_argument("--json", action="store_true", help="Print JSON only.")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--worker", choices=["mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeat = args.repeat or (5 if args.quick else 15)
    if args.worker == "mlflow":
        import pandas as pd

        with contextlib.redirect_stdout(sys.stderr):
            figures = mlflow_registration(pd.read_parquet(args.data), repeat)
        print(json.dumps(figures))
        return

    from cairn.datasets import CREDIT_FEATURES, make_credit_applications

    frame = make_credit_applications(2_000 if args.quick else 10_000, seed=0)
    frame = frame[[*CREDIT_FEATURES, LABEL]]
    result: dict[str, Any] = {
        "workload": "log_model + register a scikit-learn pipeline with an input example",
        "rows": len(frame),
        "repeat": repeat,
        "target_s": TARGET_S,
        "cairn": cairn_registration(frame, repeat),
    }
    result["cairn"]["meets_target"] = result["cairn"]["median_s"] <= TARGET_S
    if args.mlflow_python.exists():
        with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
            data = Path(tmp) / "train.parquet"
            frame.to_parquet(data)
            result["mlflow"] = run_mlflow(args.mlflow_python, data, repeat)
        result["ratio"] = result["mlflow"]["median_s"] / result["cairn"]["median_s"]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c = result["cairn"]
    print(f"register a model version ({len(frame)} training rows, median of {repeat}):")
    verdict = "meets" if c["meets_target"] else "MISSES"
    print(
        f"  cairn   {c['median_s']:.3f} s  (cold first call {c['cold_s']:.3f} s; "
        f"target <= {TARGET_S} s: {verdict})"
    )
    if "mlflow" in result:
        m = result["mlflow"]
        print(f"  mlflow  {m['median_s']:.3f} s  (MLflow {m['version']}, cold {m['cold_s']:.3f} s)")
        print(f"  cairn is {result['ratio']:.1f}x faster")
    else:
        print(f"  (MLflow not measured: {args.mlflow_python} does not exist)")


if __name__ == "__main__":
    main()
