"""Feature store benchmark (issue 7): cairn against Feast and a bare DuckDB ASOF JOIN, one run.

The data, written once as Parquet and read by every tool:

- ``history.parquet``: 1,000,000 feature rows of 100,000 entities (10 each, over 30 days):
  entity id, event time, 8 float64 and 2 int64 features;
- ``entities.parquet``: 1,000,000 entity rows (random entity and time) to retrieve for;
- ``latest.parquet``: 1,000,000 rows of 1,000,000 distinct entities, to materialize.

Figures (medians over ``--repeat`` after one untimed warm-up, unless said otherwise):

- historical retrieval of the 10 features for every entity row, into a pandas DataFrame:
  cairn ``get_historical_features``, Feast ``get_historical_features(...).to_df()`` on its
  DuckDB offline store, and a bare DuckDB ``ASOF LEFT JOIN`` of the same files fetched the same
  way (no time-to-live, no typing, no entity order); each must return every entity row;
- materialization of ``latest.parquet`` into the SQLite online store (one run each: a second
  would find nothing new): cairn ``materialize``, Feast ``materialize``; cairn into Redis too;
- online lookups in process after materialization, per call: 1 entity (median and p99 over
  ``--calls``) and 100 entities in one call: cairn ``get_online_features(...).to_dict()`` on
  SQLite and Redis, Feast ``get_online_features(...).to_dict()`` on SQLite.

Feast lives in its own virtualenv (``.venv-bench-feast``, built by ``make bench``; it needs
pandas<3): this script starts itself there with ``--worker feast`` and reads one JSON object
back. Only the standard library is imported at module level.

    .venv/bin/python benchmarks/features.py [--quick] [--json] [--repeat N] [--feast-python PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from time import perf_counter, perf_counter_ns
from typing import Any

from publish import publish

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FEAST_PYTHON = ROOT / ".venv-bench-feast" / "bin" / "python"
REDIS_URI = "redis://127.0.0.1:6379/0"
FLOATS = [f"f{i}" for i in range(8)]
INTS = ["n0", "n1"]
FEATURES = FLOATS + INTS
START = datetime(2026, 1, 1)
DAYS = 30
TARGETS = {
    "historical_vs_feast": 2.5,
    "historical_vs_bare_duckdb": 1.5,  # at most this many times the bare join
    "online_1_vs_feast": 5.0,
    "online_1_p99_ms": 0.1,
    "online_100_vs_feast": 10.0,
    "materialize_vs_feast": 10.0,
}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = perf_counter()
    result = fn()
    return perf_counter() - start, result


def repeated(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    fn()  # warm-up: imports, caches, file system
    samples, result = [], None
    for _ in range(repeat):
        elapsed, result = timed(fn)
        samples.append(elapsed)
    return samples, result


def alternated(
    first: Callable[[], Any], second: Callable[[], Any], repeat: int
) -> tuple[list[float], list[float], Any, Any]:
    """Both timed in turn, so that the load of a shared machine weighs on them alike."""
    first(), second()  # warm-up: imports, caches, file system
    a, b, result_a, result_b = [], [], None, None
    for _ in range(repeat):
        elapsed, result_a = timed(first)
        a.append(elapsed)
        elapsed, result_b = timed(second)
        b.append(elapsed)
    return a, b, result_a, result_b


def per_call(fn: Callable[[Any], Any], arguments: list[Any]) -> dict[str, float]:
    """Median and p99 in milliseconds of ``fn(argument)``, one timing per call."""
    for argument in arguments[:50]:
        fn(argument)
    gc.collect()
    gc.disable()
    try:
        times = []
        for argument in arguments:
            start = perf_counter_ns()
            fn(argument)
            times.append(perf_counter_ns() - start)
    finally:
        gc.enable()
    times.sort()
    return {
        "median_ms": statistics.median(times) / 1e6,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] / 1e6,
        "calls": len(times),
    }


# --- data ---------------------------------------------------------------------------------------


def write_data(folder: Path, rows: int, entities: int) -> dict[str, Path]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    seconds = DAYS * 86_400

    def frame(ids: Any, n: int) -> pd.DataFrame:
        data = {
            "entity_id": ids.astype(np.int64),
            "event_timestamp": pd.Timestamp(START)
            + pd.to_timedelta(rng.integers(0, seconds, n), "s"),
        }
        for name in FLOATS:
            data[name] = rng.normal(size=n)
        for name in INTS:
            data[name] = rng.integers(0, 1_000, n)
        return pd.DataFrame(data)

    paths = {name: folder / f"{name}.parquet" for name in ("history", "entities", "latest")}
    frame(np.repeat(np.arange(entities), rows // entities), rows).to_parquet(paths["history"])
    pd.DataFrame(
        {
            "entity_id": rng.integers(0, entities, rows).astype(np.int64),
            "event_timestamp": pd.Timestamp(START)
            + pd.to_timedelta(rng.integers(0, seconds + 86_400, rows), "s"),
        }
    ).to_parquet(paths["entities"])
    frame(np.arange(rows), rows).to_parquet(paths["latest"])
    return paths


def lookup_ids(rows: int, calls: int) -> tuple[list[int], list[list[int]]]:
    rng = random.Random(1)
    return [rng.randrange(rows) for _ in range(calls)], [
        [rng.randrange(rows) for _ in range(100)] for _ in range(max(calls // 10, 20))
    ]


# --- cairn ----------------------------------------------------------------------------------------


def cairn_figures(
    paths: dict[str, Path], rows: int, repeat: int, calls: int, bare: Callable[[], Any]
) -> dict[str, Any]:
    """cairn's figures; its historical retrieval timed in turn with ``bare``, the hand-written
    ASOF JOIN."""
    import pandas as pd

    from cairn.features import Entity, FeatureStore, FeatureView, ParquetSource

    def view(name: str, ttl: timedelta | None) -> FeatureView:
        return FeatureView(
            name=name,
            entities=Entity("entity", join_keys="entity_id"),
            source=ParquetSource(paths[name]),
            features={**dict.fromkeys(FLOATS, "float64"), **dict.fromkeys(INTS, "int64")},
            timestamp="event_timestamp",
            ttl=ttl,
        )

    # the materialized values are months old: no time-to-live for them, in both tools
    history, latest = view("history", timedelta(days=DAYS + 10)), view("latest", None)
    entity_df = pd.read_parquet(paths["entities"])
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cairn-") as home:
        os.environ["CAIRN_HOME"] = home
        store = FeatureStore(online=f"sqlite:///{home}/online.db")
        store.apply(history, latest)
        samples, bare_samples, frame, bare_frame = alternated(
            lambda: store.get_historical_features(
                entity_df, [history], timestamp="event_timestamp"
            ),
            bare,
            repeat,
        )
        assert len(frame) == len(entity_df) and list(frame.columns)[-10:] == FEATURES
        assert len(bare_frame) == len(entity_df)
        out["historical_s"] = samples
        out["bare_duckdb_historical_s"] = bare_samples
        out["historical_null_rows"] = int(frame["f0"].isna().sum())

        end = START + timedelta(days=DAYS + 1)
        out["materialize_sqlite_s"], [done] = timed(lambda: store.materialize([latest], end=end))
        assert done.written == rows
        refs = [f"latest:{name}" for name in FEATURES]
        one, hundred = lookup_ids(rows, calls)
        out["online_sqlite_1"] = per_call(
            lambda i: store.get_online_features({"entity_id": i}, refs).to_dict(), one
        )
        out["online_sqlite_100"] = per_call(
            lambda ids: store.get_online_features({"entity_id": ids}, refs).to_dict(), hundred
        )
        check = store.get_online_features({"entity_id": one[0]}, refs).to_dict()
        assert all(check[name][0] is not None for name in FEATURES)
        store.close()
        out.update(cairn_redis(latest, refs, rows, calls, end))
    return out


def cairn_redis(latest: Any, refs: list[str], rows: int, calls: int, end: Any) -> dict[str, Any]:
    from cairn.features import FeatureStore
    from cairn.features.online.redis import RedisOnlineStore

    try:
        online = RedisOnlineStore(REDIS_URI, prefix="cairn-bench:")
        online._client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure: Redis is not there
        return {"redis_missing": f"{REDIS_URI}: {exc.__class__.__name__}"}
    store = FeatureStore(online=online)
    try:
        elapsed, [done] = timed(lambda: store.materialize([latest], end=end))
        assert done.written == rows
        one, hundred = lookup_ids(rows, calls)
        return {
            "materialize_redis_s": elapsed,
            "online_redis_1": per_call(
                lambda i: store.get_online_features({"entity_id": i}, refs).to_dict(), one
            ),
            "online_redis_100": per_call(
                lambda ids: store.get_online_features({"entity_id": ids}, refs).to_dict(), hundred
            ),
        }
    finally:
        online.drop("latest@1")
        store.close()


def bare_duckdb(paths: dict[str, Path]) -> Callable[[], Any]:
    """The same point-in-time join written by hand: one ASOF LEFT JOIN of the same in-memory
    entity frame and the same Parquet file, fetched to pandas."""
    import duckdb
    import pandas as pd

    entity_df = pd.read_parquet(paths["entities"])
    columns = ", ".join(f"h.{name}" for name in FEATURES)
    query = (
        f"SELECT e.entity_id, e.event_timestamp, {columns} FROM entity_df e "
        f"ASOF LEFT JOIN read_parquet('{paths['history']}') h "
        "ON e.entity_id = h.entity_id AND e.event_timestamp >= h.event_timestamp"
    )
    con = duckdb.connect()
    con.register("entity_df", entity_df)
    return lambda: con.sql(query).df()


# --- Feast (in its own virtualenv) --------------------------------------------------------------


def feast_figures(paths: dict[str, Path], rows: int, repeat: int, calls: int) -> dict[str, Any]:
    import logging

    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig
    from feast.types import Float64, Int64

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-feast-") as repo:
        config = RepoConfig(
            project="bench",
            provider="local",
            registry=f"{repo}/registry.db",
            online_store={"type": "sqlite", "path": f"{repo}/online.db"},
            offline_store={"type": "duckdb"},
            entity_key_serialization_version=3,
            repo_path=repo,
        )
        store = FeatureStore(config=config)
        entity = Entity(name="entity", join_keys=["entity_id"])
        schema = [Field(name=n, dtype=Float64) for n in FLOATS]
        schema += [Field(name=n, dtype=Int64) for n in INTS]

        def view(name: str, ttl: timedelta) -> FeatureView:
            return FeatureView(
                name=name,
                entities=[entity],
                ttl=ttl,  # 0: none
                schema=schema,
                source=FileSource(path=str(paths[name]), timestamp_field="event_timestamp"),
            )

        history, latest = view("history", timedelta(days=DAYS + 10)), view("latest", timedelta(0))
        store.apply([entity, history, latest])
        entity_df = pd.read_parquet(paths["entities"])
        refs = [f"history:{n}" for n in FEATURES]
        samples, frame = repeated(
            lambda: store.get_historical_features(entity_df=entity_df, features=refs).to_df(),
            repeat,
        )
        assert len(frame) == len(entity_df), (len(frame), len(entity_df))
        out: dict[str, Any] = {"historical_s": samples}
        out["materialize_sqlite_s"], _ = timed(
            lambda: store.materialize(
                start_date=START - timedelta(days=1),
                end_date=START + timedelta(days=DAYS + 1),
                feature_views=["latest"],
            )
        )
        refs = [f"latest:{n}" for n in FEATURES]
        one, hundred = lookup_ids(rows, calls)
        out["online_sqlite_1"] = per_call(
            lambda i: store.get_online_features(
                features=refs, entity_rows=[{"entity_id": i}]
            ).to_dict(),
            one,
        )
        out["online_sqlite_100"] = per_call(
            lambda ids: store.get_online_features(
                features=refs, entity_rows=[{"entity_id": i} for i in ids]
            ).to_dict(),
            hundred,
        )
        check = store.get_online_features(features=refs, entity_rows=[{"entity_id": one[0]}])
        assert check.to_dict()["f0"][0] is not None
        import feast

        out["version"] = feast.__version__
        return out


def run_feast(python: Path, paths: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    command = [
        str(python),
        __file__,
        "--worker=feast",
        f"--data={paths['history'].parent}",
        f"--repeat={args.repeat}",
        f"--calls={args.calls}",
        f"--rows={args.rows}",
    ]
    env = {**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"Feast worker failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report -------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-features-") as scratch:
        paths = write_data(Path(scratch), args.rows, args.rows // 10)
        cairn = cairn_figures(paths, args.rows, args.repeat, args.calls, bare_duckdb(paths))
        bare = cairn.pop("bare_duckdb_historical_s")
        feast = None
        if Path(args.feast_python).exists():
            feast = run_feast(Path(args.feast_python), paths, args)
    result: dict[str, Any] = {
        "benchmark": "features",
        "rows": args.rows,
        "features": len(FEATURES),
        "repeat": args.repeat,
        "cairn": cairn,
        "bare_duckdb_historical_s": bare,
        "feast": feast,
        "feast_missing": None if feast else f"{args.feast_python} does not exist",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    hist = median(cairn["historical_s"])
    ratios: dict[str, float | None] = {"historical_vs_bare_duckdb": hist / median(bare)}
    if feast:
        ratios["historical_vs_feast"] = median(feast["historical_s"]) / hist
        ratios["materialize_vs_feast"] = (
            feast["materialize_sqlite_s"] / cairn["materialize_sqlite_s"]
        )
        ratios["online_1_vs_feast"] = (
            feast["online_sqlite_1"]["median_ms"] / cairn["online_sqlite_1"]["median_ms"]
        )
        ratios["online_100_vs_feast"] = (
            feast["online_sqlite_100"]["median_ms"] / cairn["online_sqlite_100"]["median_ms"]
        )
    ratios["online_1_p99_ms"] = cairn["online_sqlite_1"]["p99_ms"]
    result["ratios"] = ratios
    result["targets"] = TARGETS
    result["meets"] = {
        name: (
            value <= TARGETS[name]
            if name in ("historical_vs_bare_duckdb", "online_1_p99_ms")
            else value >= TARGETS[name]
        )
        for name, value in ratios.items()
        if value is not None
    }
    return result


def print_report(r: dict[str, Any]) -> None:
    c, f, ratios = r["cairn"], r["feast"], r["ratios"]

    def s(values: list[float] | float | None) -> str:
        if values is None:
            return "n/a"
        return f"{median(values) if isinstance(values, list) else values:.3f} s"

    def ms(fig: dict[str, float] | None) -> str:
        return "n/a" if not fig else f"median {fig['median_ms']:.4f} ms, p99 {fig['p99_ms']:.4f} ms"

    print(f"feature store: {r['rows']:,} rows x {r['features']} features")
    print(
        f"  historical retrieval   cairn {s(c['historical_s'])}   bare DuckDB ASOF "
        f"{s(r['bare_duckdb_historical_s'])}   Feast {s(f and f['historical_s'])}"
    )
    print(
        f"  materialize (SQLite)   cairn {s(c['materialize_sqlite_s'])}   "
        f"Feast {s(f and f['materialize_sqlite_s'])}   (cairn into Redis "
        f"{s(c.get('materialize_redis_s'))})"
    )
    print(f"  online, 1 entity       cairn SQLite {ms(c['online_sqlite_1'])}")
    print(f"                         cairn Redis  {ms(c.get('online_redis_1'))}")
    print(f"                         Feast SQLite {ms(f and f['online_sqlite_1'])}")
    print(f"  online, 100 entities   cairn SQLite {ms(c['online_sqlite_100'])}")
    print(f"                         cairn Redis  {ms(c.get('online_redis_100'))}")
    print(f"                         Feast SQLite {ms(f and f['online_sqlite_100'])}")
    for name, value in ratios.items():
        verdict = "meets" if r["meets"].get(name) else "MISSES"
        print(f"  {name:28} {value:8.2f}  (target {TARGETS[name]}: {verdict})")
    if not f:
        print(f"  Feast not measured: {r['feast_missing']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, fewer repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None, help="online calls of one entity")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--feast-python", default=str(DEFAULT_FEAST_PYTHON))
    parser.add_argument("--worker", choices=["feast"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rows = args.rows or (100_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.calls = args.calls or (2_000 if args.quick else 10_000)
    if args.worker == "feast":
        paths = {name: args.data / f"{name}.parquet" for name in ("history", "entities", "latest")}
        with contextlib.redirect_stdout(sys.stderr):
            figures = feast_figures(paths, args.rows, args.repeat, args.calls)
        print(json.dumps(figures))
        return
    sys.path.insert(0, str(ROOT / "src"))
    result = report(args)
    publish(result, "features", args.json, print_report)


if __name__ == "__main__":
    main()
