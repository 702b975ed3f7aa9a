"""Data versioning benchmark: snapshot a 1,000,000-row x 20-column DataFrame, cairn against DVC.

cairn: ``cairn.data.snapshot(frame, name)`` of a DataFrame built before the clock starts (mixed
numeric, categorical, text and time columns: the credit generator's 17 plus 3). The time covers
all of it: conversion to Arrow, the canonical digest, the profile of every column, Parquet
encoding, the blob write (with fsync) and the transaction. Each repeat uses a fresh CAIRN_HOME
whose store is created before the clock starts, so every snapshot stores a new version.

DVC: the same frame written as a Parquet file (untimed) into a fresh ``git init`` + ``dvc init``
folder, then ``dvc add data.parquet`` timed as the command a user runs: the target's measure.
For context, also what a DVC user starting from the DataFrame does: ``to_parquet`` (pandas'
defaults), then ``dvc add``, timed together. DVC lives in its own
virtualenv: ``python3 -m venv .venv-bench-dvc && .venv-bench-dvc/bin/pip install dvc``; without
it the DVC figures are null.

Also measured, for context: cairn re-snapshotting unchanged content (deduplicated: digest and
lookup only), cairn snapshotting the Parquet file as a file (the work ``dvc add`` does: hash and
copy), the CPU time a snapshot takes on all its threads (on a machine of N free cores its time
cannot fall below that over N), and the time of each stage of a DataFrame snapshot run one after
the other.

The storage floor bounds the ratio a snapshot could reach here while it stores the table in
cairn's Parquet parts (the cheapest encoding measured; plain pages, with or without LZ4, took
longer to encode and store): the DataFrame converted, the parts encoded on all cores and stored
as they come (SHA-256, write, fsync), with no digest, no profile and no transaction. ``dvc add``
over that time is the most such a snapshot could be faster on this machine.

    .venv/bin/python benchmarks/data_snapshot.py [--quick] [--json] [--repeat N] [--dvc PATH]

cairn and DVC take turns, one round each per repeat. Figures are medians over the repeats;
``ratio`` is DVC's time over cairn's (how many times faster cairn is), ``ratio_of_pairs`` the
median of each round's ratio. The last result is also written to
``benchmarks/results/data_snapshot.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

from publish import publish

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DVC = ROOT / ".venv-bench-dvc" / "bin" / "dvc"
FULL_ROWS, QUICK_ROWS = 1_000_000, 100_000
TARGET_RATIO = 5.0


def make_frame(rows: int) -> Any:
    """The credit generator's 17 columns plus a text, a categorical and a float column."""
    import numpy as np
    import pandas as pd

    from cairn.datasets import make_credit_applications

    frame = make_credit_applications(rows, seed=0)
    rng = np.random.default_rng(1)
    branches = np.array([f"branch-{i:03d}" for i in range(200)])
    frame["branch"] = pd.Series(branches[rng.integers(0, 200, rows)], dtype="str")
    frame["channel"] = pd.Categorical.from_codes(
        rng.integers(0, 4, rows), categories=["web", "app", "branch", "broker"]
    )
    frame["utilisation"] = rng.random(rows)
    return frame


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = perf_counter()
    result = fn()
    return perf_counter() - start, result


@contextlib.contextmanager
def fresh_cairn_home() -> Iterator[Path]:
    """A new CAIRN_HOME with its store created and the code paths warmed, for one repeat."""
    import pandas as pd

    from cairn import data

    with tempfile.TemporaryDirectory(prefix="bench-cairn-") as home:
        previous = os.environ.get("CAIRN_HOME")
        os.environ["CAIRN_HOME"] = home
        try:
            data.snapshot(pd.DataFrame({"warm": [1, 2, 3]}), "warm-up")
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("CAIRN_HOME", None)
            else:
                os.environ["CAIRN_HOME"] = previous


# -- cairn ---------------------------------------------------------------------------------------


def cairn_round(frame: Any, parquet: Path) -> dict[str, Any]:
    """One repeat in a fresh CAIRN_HOME: the snapshot, its CPU time, the same content again,
    and the Parquet file as a file."""
    from cairn import data

    with fresh_cairn_home():
        cpu_start = process_time()
        elapsed, version = timed(lambda: data.snapshot(frame, "credit-applications"))
        cpu = process_time() - cpu_start
        again, same = timed(lambda: data.snapshot(frame, "credit-applications"))
        assert same.id == version.id  # deduplicated, not a second version
        as_file, _ = timed(lambda: data.snapshot(parquet, "credit-file"))
    return {
        "snapshot_s": elapsed,
        "snapshot_cpu_s": cpu,
        "resnapshot_s": again,
        "file_snapshot_s": as_file,
        "stored_parquet_bytes": version.size_bytes,
    }


def cairn_stages(frame: Any) -> dict[str, float]:
    """Each stage of a table snapshot alone, on all cores as the snapshot runs it (which
    overlaps the profile with the Parquet parts' encoding and storing). ``parquet_s``: encoding
    the parts and reading back the codes of their dictionary-encoded text columns;
    ``profile_s``: the other columns, and the text columns from those codes; ``store_s``: the
    parts' blob writes (SHA-256, write, fsync)."""
    import pyarrow as pa

    from cairn.artifacts import open_artifact_store
    from cairn.data import content
    from cairn.data.profile import profile_encoded_strings, profile_table

    stages: dict[str, float] = {}
    cores = os.cpu_count() or 1
    with ThreadPoolExecutor(cores) as pool:
        stages["to_arrow_s"], table = timed(lambda: content.as_arrow(frame, pool))
        stages["digest_s"], _ = timed(lambda: content.table_digest(table, pool))
        options = content.parquet_options(table)
        strings = content.dictionary_encoded_strings(table, options)

        def encode(part: Any) -> tuple[Any, Any]:
            encoded = content.parquet_bytes(part, options)
            return encoded, content.read_dictionary_encoded(encoded, strings)

        stages["parquet_s"], encoded = timed(
            lambda: list(pool.map(encode, content.parquet_parts(table)))
        )
        parts, codes = [e for e, _ in encoded], pa.concat_tables([c for _, c in encoded])
        others = [name for name in table.column_names if name not in strings]
        stages["profile_s"], _ = timed(
            lambda: (
                profile_table(table, others, pool),
                [profile_encoded_strings(table.column(n), codes[n]) for n in strings],
            )
        )
    with tempfile.TemporaryDirectory(prefix="bench-blobs-") as root:
        artifacts = open_artifact_store(root)
        with ThreadPoolExecutor(len(parts)) as writers:  # a thread a part, as the snapshot
            stages["store_s"], _ = timed(
                lambda: list(writers.map(lambda part: artifacts.put_bytes(memoryview(part)), parts))
            )
    return stages


def storage_floor(frame: Any) -> float:
    """Seconds of the least a snapshot storing Parquet does: convert, encode, store (see top)."""
    from cairn.artifacts import open_artifact_store
    from cairn.data import content

    with tempfile.TemporaryDirectory(prefix="bench-floor-") as root:
        artifacts = open_artifact_store(root)

        def store() -> list[str]:
            with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
                table = content.as_arrow(frame, pool)
                options, parts = content.parquet_options(table), content.parquet_parts(table)
                with ThreadPoolExecutor(len(parts)) as writers:

                    def encode(part: Any) -> Any:
                        encoded = content.parquet_bytes(part, options)
                        return writers.submit(artifacts.put_bytes, memoryview(encoded))

                    return [put.result() for put in list(pool.map(encode, parts))]

        elapsed, _ = timed(store)
    return elapsed


# -- DVC -----------------------------------------------------------------------------------------


def dvc_add(dvc: Path, parquet: Path) -> float:
    """Seconds of ``dvc add`` of a copy of ``parquet`` in a fresh repository."""
    with tempfile.TemporaryDirectory(prefix="bench-dvc-") as repo:
        run(["git", "init", "-q"], repo)
        run([str(dvc), "init", "-q"], repo)
        shutil.copyfile(parquet, Path(repo, "data.parquet"))
        elapsed, _ = timed(lambda: run([str(dvc), "add", "-q", "data.parquet"], repo))
        assert Path(repo, "data.parquet.dvc").is_file()
    return elapsed


def dvc_from_frame(dvc: Path, frame: Any) -> float:
    """Seconds of what a DVC user does to version a DataFrame: ``to_parquet``, then ``dvc add``."""
    with tempfile.TemporaryDirectory(prefix="bench-dvc-") as repo:
        run(["git", "init", "-q"], repo)
        run([str(dvc), "init", "-q"], repo)

        def version() -> None:
            frame.to_parquet(Path(repo, "data.parquet"), index=False)
            run([str(dvc), "add", "-q", "data.parquet"], repo)

        elapsed, _ = timed(version)
    return elapsed


def dvc_version(dvc: Path) -> str:
    return run([str(dvc), "--version"], ROOT).strip()


def run(command: Sequence[str], cwd: str | Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return done.stdout


def dvc_missing(dvc: Path) -> str | None:
    if not dvc.is_file():
        return (
            f"DVC not found at {dvc}: python3 -m venv .venv-bench-dvc && "
            ".venv-bench-dvc/bin/pip install dvc"
        )
    if shutil.which("git") is None:
        return "git is not on PATH: dvc add needs a git repository"
    return None


# -- report --------------------------------------------------------------------------------------


def median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def report(args: argparse.Namespace) -> dict[str, Any]:
    rows = QUICK_ROWS if args.quick else FULL_ROWS
    repeat = args.repeat or (3 if args.quick else 5)
    frame = make_frame(rows)
    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch:
        parquet = Path(scratch, "data.parquet")
        frame.to_parquet(parquet, index=False)
        dvc_path = Path(args.dvc).absolute()  # it runs in another folder
        missing = dvc_missing(dvc_path)
        if not missing:
            dvc_add(dvc_path, parquet)  # untimed: warms the interpreter's bytecode cache
        # cairn and DVC take turns, so a change in the machine's load touches both alike
        rounds, floors, dvc_times, dvc_frame_times = [], [], [], []
        for _ in range(repeat):
            rounds.append(cairn_round(frame, parquet))
            floors.append(storage_floor(frame))
            if not missing:
                dvc_times.append(dvc_add(dvc_path, parquet))
                dvc_frame_times.append(dvc_from_frame(dvc_path, frame))
        cairn = {key: [r[key] for r in rounds] for key in rounds[0]}
        dvc = None if missing else {"add_s": dvc_times, "version": dvc_version(dvc_path)}
        parquet_bytes = parquet.stat().st_size
    stages = cairn_stages(frame)
    cairn_s, dvc_s = median(cairn["snapshot_s"]), median(dvc["add_s"] if dvc else None)
    pair_ratios = [d / c for d, c in zip(dvc_times, cairn["snapshot_s"], strict=False)]
    return {
        "benchmark": "data_snapshot",
        "rows": rows,
        "columns": len(frame.columns),
        "repeat": repeat,
        "parquet_file_bytes": parquet_bytes,
        "cairn_snapshot_s": cairn_s,
        "dvc_add_s": dvc_s,
        "ratio": dvc_s / cairn_s if dvc_s else None,
        "ratio_of_pairs": median(pair_ratios),  # the median of each round's DVC / cairn
        "target_ratio": TARGET_RATIO,
        "cairn_snapshot_cpu_s": median(cairn["snapshot_cpu_s"]),
        "cairn_resnapshot_s": median(cairn["resnapshot_s"]),
        "cairn_file_snapshot_s": median(cairn["file_snapshot_s"]),
        "file_ratio": dvc_s / median(cairn["file_snapshot_s"]) if dvc_s else None,
        "dvc_from_frame_s": median(dvc_frame_times),
        "from_frame_ratio": median(dvc_frame_times) / cairn_s if dvc_s else None,
        "cairn_storage_floor_s": median(floors),
        "floor_ratio": dvc_s / median(floors) if dvc_s else None,
        "cairn_stages_s": stages,
        "samples": {
            "cairn_snapshot_s": cairn["snapshot_s"],
            "dvc_add_s": dvc["add_s"] if dvc else None,
        },
        "cairn_stored_parquet_bytes": cairn["stored_parquet_bytes"][-1],
        "dvc_version": dvc["version"] if dvc else None,
        "dvc_missing": missing,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def print_report(result: dict[str, Any]) -> None:
    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f} s"

    print(f"data snapshot: {result['rows']:,} rows x {result['columns']} columns")
    print(f"  cairn snapshot (DataFrame)     {seconds(result['cairn_snapshot_s'])}")
    print(f"  dvc add (Parquet file)         {seconds(result['dvc_add_s'])}")
    if result["ratio"] is not None:
        print(
            f"  ratio (dvc / cairn)            {result['ratio']:.2f}x  (target {TARGET_RATIO:g}x; "
            f"median of the rounds' ratios {result['ratio_of_pairs']:.2f}x)"
        )
    else:
        print(f"  dvc: {result['dvc_missing']}")
    if result["from_frame_ratio"] is not None:
        print(
            f"  to_parquet + dvc add (context) {seconds(result['dvc_from_frame_s'])}  "
            f"({result['from_frame_ratio']:.2f}x; not the target's measure)"
        )
    print(f"  cairn snapshot CPU, all threads {seconds(result['cairn_snapshot_cpu_s'])}")
    floor = f"  storage floor (no profile)     {seconds(result['cairn_storage_floor_s'])}"
    if result["floor_ratio"] is not None:
        floor += f"  (the ratio cannot exceed {result['floor_ratio']:.2f}x here)"
    print(floor)
    print(f"  cairn re-snapshot (unchanged)  {seconds(result['cairn_resnapshot_s'])}")
    print(f"  cairn snapshot of the file     {seconds(result['cairn_file_snapshot_s'])}")
    stages = ", ".join(f"{k[:-2]} {v:.3f}" for k, v in result["cairn_stages_s"].items())
    print(f"  cairn stages, one by one (s):  {stages}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, help="repeats for medians (default 5, quick 3)")
    parser.add_argument("--dvc", default=str(DEFAULT_DVC), help="the dvc executable")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    result = report(args)
    publish(result, "data_snapshot", args.json, print_report)


if __name__ == "__main__":
    main()
