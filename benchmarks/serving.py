"""Serving benchmark (issue 4): the same model behind cairn's server and ``mlflow models serve``.

The model: the registry benchmark's scikit-learn pipeline on the credit generator's data. cairn
serves it with ``cairn serve credit-risk/1`` (prediction logging on, as in production), and
again with ``--compile onnx`` (the same pipeline as a checked ONNX graph); MLflow
with ``mlflow models serve --env-manager local --workers 1`` from its own virtualenv
(``.venv-bench-mlflow``, built by ``make bench``), whose ``bin/`` is put first on PATH so that
MLflow starts its own uvicorn. Each server is pinned to CPU 0 and the load generator to CPU 1
(``taskset``), and the two run back to back in one run.

The load generator is this script (``--worker load``): plain asyncio HTTP/1.1 keep-alive
connections, each sending its next request when the previous answer arrives (closed loop), for
a fixed time after a warm-up. Every answer is checked to be a 200 with one prediction per row.

Figures, per server: single-record requests per second and latency percentiles at
``--concurrency`` clients (of three runs, the one of median throughput) (16 by default, as MLflow was measured in the issue); rows per second
with 1,000-record requests at 4 clients; and, for cairn, the overhead over an in-process
``predict_proba`` of one row (median latency of sequential requests minus the in-process time).
Targets: requests per second at least 10x MLflow's, p99 at most a tenth of MLflow's.

    .venv/bin/python benchmarks/serving.py [--quick] [--json] [--mlflow-python PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from publish import publish

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MLFLOW_PYTHON = ROOT / ".venv-bench-mlflow" / "bin" / "python"
TARGET_RPS_RATIO = 10.0
TARGET_P99_RATIO = 0.1
BATCH_ROWS = 1000
SERVER_CPU, CLIENT_CPU = "0", "1"


# -- load generator (standard library only: it runs pinned, in a process of its own) ------------


async def _client(
    host: str, port: int, request: bytes, rows: int, until: float, warm_until: float, out: dict
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            started = time.perf_counter()
            if started >= until:
                return
            writer.write(request)
            status, body = await _response(reader)
            elapsed = time.perf_counter() - started
            ok = status == 200 and _rows_in(body) == rows
            if started >= warm_until:
                out["latencies"].append(elapsed)
                out["ok" if ok else "failed"] += 1
            if not ok and out["first_failure"] is None:
                out["first_failure"] = f"{status}: {body[:300]!r}"
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


def _rows_in(body: bytes) -> int:
    answer = json.loads(body)
    predictions = answer["predictions"] if isinstance(answer, dict) else answer
    return len(predictions)


async def _load(
    url: str, path: str, body: bytes, rows: int, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    now = time.perf_counter()
    out: dict[str, Any] = {"latencies": [], "ok": 0, "failed": 0, "first_failure": None}
    await asyncio.gather(
        *(
            _client(host, int(port), request, rows, now + warmup + seconds, now + warmup, out)
            for _ in range(clients)
        )
    )
    latencies = sorted(out["latencies"])
    count = len(latencies)
    return {
        "clients": clients,
        "rows_per_request": rows,
        "seconds": seconds,
        "requests": out["ok"],
        "failed": out["failed"],
        "first_failure": out["first_failure"],
        "requests_per_s": out["ok"] / seconds,
        "rows_per_s": out["ok"] * rows / seconds,
        "p50_ms": 1000 * latencies[count // 2] if count else None,
        "p99_ms": 1000 * latencies[min(count - 1, int(count * 0.99))] if count else None,
    }


def run_load(
    url: str, path: str, body: bytes, rows: int, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """The load generator in its own process on CLIENT_CPU; its figures as a dict."""
    with tempfile.NamedTemporaryFile(suffix=".json") as payload:
        payload.write(body)
        payload.flush()
        command = [
            *_pinned(CLIENT_CPU),
            sys.executable,
            __file__,
            "--worker=load",
            f"--url={url}",
            f"--path={path}",
            f"--body={payload.name}",
            f"--rows={rows}",
            f"--clients={clients}",
            f"--seconds={seconds}",
            f"--warmup={warmup}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout)


def _pinned(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    """A server process pinned to SERVER_CPU, once ``ready_url`` answers 200; stopped after."""
    import urllib.request

    with log.open("w") as sink:
        process = subprocess.Popen(
            [*_pinned(SERVER_CPU), *command], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(ready_url, timeout=2) as up:
                if up.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} never became ready: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def measure(
    url: str, path: str, body_of: Any, records: list[dict], args: argparse.Namespace
) -> dict[str, Any]:
    single = [json.dumps(body_of([r])).encode() for r in records[:1]][0]
    batch = json.dumps(body_of((records * (BATCH_ROWS // len(records) + 1))[:BATCH_ROWS])).encode()
    seconds, warmup = (3.0, 1.0) if args.quick else (10.0, 2.0)
    runs = [
        run_load(url, path, single, 1, args.concurrency, seconds, warmup)
        for _ in range(1 if args.quick else 3)
    ]
    return {
        # this machine is noisy: the run of median throughput of three stands for the server
        "single": sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2],
        "single_runs_per_s": [r["requests_per_s"] for r in runs],
        "sequential": run_load(url, path, single, 1, 1, seconds / 2, warmup / 2),
        "batch": run_load(url, path, batch, BATCH_ROWS, 4, seconds, warmup),
    }


def cairn_figures(
    frame: Any, records: list[dict], args: argparse.Namespace, scratch: Path
) -> dict[str, dict[str, Any]]:
    """cairn serving the pipeline as it is, and compiled to ONNX (``--compile onnx``)."""
    import cairn
    from cairn.models import compile_onnx
    from cairn.registry import LoadedModel, infer_signature
    from cairn.registry.signature import check_input
    from cairn.serving import read_predictions
    from registry import train

    model, features = train(frame)
    signature = infer_signature(model, features.head())
    compiled = compile_onnx(LoadedModel(model, signature, {"flavour": "sklearn"})).model
    one, batch = (check_input(signature, features.head(n)) for n in (1, BATCH_ROWS))
    out = {}
    for label, extra, predicts in (
        ("cairn", [], model),
        ("cairn_onnx", ["--compile", "onnx"], compiled),
    ):
        in_process = {  # the model alone, on rows already checked
            "in_process_predict_ms": 1000
            * median_time(functools.partial(predicts.predict_proba, one)),
            "in_process_batch_ms": 1000
            * median_time(functools.partial(predicts.predict_proba, batch)),
        }
        os.environ["CAIRN_HOME"] = str(scratch / f"{label}-home")
        with cairn.start_run(experiment="bench-serving") as run:
            version = run.log_model(model, name="credit-risk", input_example=features.head())
        port = free_port()
        command = [sys.executable, "-m", "cairn", "serve", version.ref, "--port", str(port)]
        url = f"http://127.0.0.1:{port}"
        with started([*command, *extra], {**os.environ}, url + "/readyz", scratch / label):
            figures = measure(
                url, "/v1/models/credit-risk/predict", lambda rs: {"records": rs}, records, args
            )
        figures.update(in_process)
        figures["logged_rows"] = len(read_predictions("credit-risk"))
        figures["overhead_ms"] = (
            figures["sequential"]["p50_ms"] - in_process["in_process_predict_ms"]
        )
        out[label] = figures
    return out


def mlflow_figures(
    python: Path, data: Path, records: list[dict], args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    model_dir = scratch / "mlflow-model"
    subprocess.run(
        [str(python), __file__, "--worker=mlflow-save", f"--data={data}", f"--out={model_dir}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    port = free_port()
    bin_dir = str(python.parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("CAIRN_HOME", None)
    command = [
        str(python.parent / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    with started(command, env, url + "/ping", scratch / "mlflow.log"):
        figures = measure(url, "/invocations", lambda rs: {"dataframe_records": rs}, records, args)
    version = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    figures["version"] = version.stdout.strip()
    return figures


def mlflow_save(data: Path, out: Path) -> None:
    """In MLflow's virtualenv: the same pipeline, saved as an MLflow model folder."""
    import mlflow.sklearn
    import pandas as pd
    import skops.io

    from registry import train

    model, features = train(pd.read_parquet(data))
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))  # MLflow saves with skops
    mlflow.sklearn.save_model(
        model, str(out), input_example=features.head(), skops_trusted_types=trusted
    )


def median_time(fn: Any, repeat: int = 200) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- report --------------------------------------------------------------------------------------


def report(args: argparse.Namespace) -> dict[str, Any]:
    from cairn.datasets import CREDIT_FEATURES, make_credit_applications
    from registry import LABEL

    frame = make_credit_applications(5_000, seed=0)[[*CREDIT_FEATURES, LABEL]]
    features = frame.drop(columns=[LABEL])
    records = json.loads(features.head(200).to_json(orient="records"))
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        scratch = Path(tmp)
        data = scratch / "train.parquet"
        frame.to_parquet(data)
        result: dict[str, Any] = {
            "benchmark": "serving",
            "cpus": os.cpu_count(),
            "pinning": bool(_pinned(SERVER_CPU)),
            "concurrency": args.concurrency,
            "batch_rows": BATCH_ROWS,
            **cairn_figures(frame, records, args, scratch),
        }
        if args.mlflow_python.exists():
            result["mlflow"] = mlflow_figures(args.mlflow_python, data, records, args, scratch)
    if "mlflow" in result:
        mlflow = result["mlflow"]
        for label in ("cairn", "cairn_onnx"):
            ours = result[label]
            ours["rps_ratio"] = (
                ours["single"]["requests_per_s"] / mlflow["single"]["requests_per_s"]
            )
            ours["p99_ratio"] = ours["single"]["p99_ms"] / mlflow["single"]["p99_ms"]
            ours["batch_rows_ratio"] = ours["batch"]["rows_per_s"] / mlflow["batch"]["rows_per_s"]
            ours["targets_met"] = (
                ours["rps_ratio"] >= TARGET_RPS_RATIO and ours["p99_ratio"] <= TARGET_P99_RATIO
            )
    return result


def print_report(result: dict[str, Any]) -> None:
    print(
        f"serving: single-record requests at {result['concurrency']} clients, "
        f"{result['batch_rows']}-row batches at 4 clients"
    )
    for label in ("cairn", "cairn_onnx", "mlflow"):
        if label not in result:
            continue
        figures = result[label]
        s, b = figures["single"], figures["batch"]
        print(
            f"  {label:10} {s['requests_per_s']:7.0f} req/s  p50 {s['p50_ms']:7.2f} ms  "
            f"p99 {s['p99_ms']:7.2f} ms  failed {s['failed']}  |  batch {b['rows_per_s']:8.0f} rows/s"
        )
    for label in ("cairn", "cairn_onnx"):
        c = result[label]
        if "rps_ratio" in c:
            print(
                f"  {label} against MLflow: {c['rps_ratio']:.1f}x requests/s "
                f"(target >= {TARGET_RPS_RATIO:.0f}x), p99 {c['p99_ratio']:.3f} of MLflow's "
                f"(target <= {TARGET_P99_RATIO}), batch rows/s {c['batch_rows_ratio']:.1f}x"
            )
        print(
            f"  {label} overhead over in-process predict_proba of one row: "
            f"{c['overhead_ms']:.2f} ms (in process {c['in_process_predict_ms']:.2f} ms; "
            f"{c['logged_rows']} rows logged)"
        )
    if "mlflow" not in result:
        print("  (MLflow not measured: build it with `make .venv-bench-mlflow/.installed`)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="3 s per load instead of 10 s")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    worker = parser.add_argument_group("workers (internal)")
    worker.add_argument("--worker", choices=["load", "mlflow-save"], help=argparse.SUPPRESS)
    for name in ("url", "path", "body", "data", "out"):
        worker.add_argument(f"--{name}", help=argparse.SUPPRESS)
    for name in ("rows", "clients"):
        worker.add_argument(f"--{name}", type=int, help=argparse.SUPPRESS)
    for name in ("seconds", "warmup"):
        worker.add_argument(f"--{name}", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "load":
        body = Path(args.body).read_bytes()
        figures = asyncio.run(
            _load(args.url, args.path, body, args.rows, args.clients, args.seconds, args.warmup)
        )
        print(json.dumps(figures))
        return
    if args.worker == "mlflow-save":
        mlflow_save(Path(args.data), Path(args.out))
        return
    result = report(args)
    publish(result, "serving", args.json, print_report)


if __name__ == "__main__":
    main()
