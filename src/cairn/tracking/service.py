"""The tracking service: every operation on experiments and runs, over a metadata store.

The SDK, the CLI and (later) the REST API all call these methods; nothing else writes tracking
records. Each method is one transaction, so a failed call leaves nothing half-written.
"""

from __future__ import annotations

import math
import mimetypes
import os
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError as StoreIntegrityError

from cairn.artifacts import ArtifactStore, open_artifact_store, validate_logical_path
from cairn.core import new_id, now_ms, settings
from cairn.core.serialization import NPY, PARQUET, decode, encode
from cairn.core.timeutil import from_ms
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.store import Store, open_store
from cairn.store.schema import (
    environments,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_artifacts,
    runs,
    tags,
)
from cairn.tracking import environment as env
from cairn.tracking.entities import (
    Artifact,
    Experiment,
    MetricHistory,
    Run,
    RunList,
    RunStatus,
)
from cairn.tracking.filters import apply_order_by, compile_filter
from cairn.tracking.validation import check_key, param_value

DEFAULT_EXPERIMENT = "Default"
# One metric row as the store takes it: key, value (None = NaN), step, timestamp in ms.
MetricRow = tuple[str, float | None, int, int]
#: (path in the run, blob digest, size in bytes, media type) of an artifact already stored.
ArtifactRow = tuple[str, str, int, str]
_MIN_PREFIX = 6


class TrackingService:
    """Experiments, runs, params, tags, metrics and artifacts in one store."""

    def __init__(self, store: Store, artifacts: ArtifactStore | str | None = None) -> None:
        """``artifacts`` is a store, a location to open on first use, or None for the setting."""
        self.store = store
        self._artifacts = artifacts
        self._experiments: dict[str, Experiment] = {}
        p = store.placeholder
        self._insert_metrics_sql = f"INSERT INTO metrics (run_id, key, step, timestamp, value) VALUES ({p}, {p}, {p}, {p}, {p})"
        # Ordered by step alone, so the index gives the order; equal steps come as stored.
        self._history_sql = f"SELECT step, value, timestamp FROM metrics WHERE run_id = {p} AND key = {p} ORDER BY step"

    @property
    def artifacts(self) -> ArtifactStore:
        if not isinstance(self._artifacts, ArtifactStore):  # opened on first use: most calls
            self._artifacts = open_artifact_store(self._artifacts)  # never touch blobs
        return self._artifacts

    # experiments -------------------------------------------------------------------------

    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        check_key("experiment", name)
        with self.store.write() as conn:
            if self._find_experiment(conn, name) is not None:
                raise Conflict(
                    f"experiment {name!r} exists already", field="experiment", value=name
                )
            return self._insert_experiment(conn, name, description)

    def _insert_experiment(
        self, conn: Connection, name: str, description: str | None
    ) -> Experiment:
        row = {
            "id": new_id(),
            "name": name,
            "description": description,
            "created_at": now_ms(),
            "creator": settings().user,
        }
        conn.execute(experiments.insert(), row)
        return _experiment(row)

    def get_or_create_experiment(self, name: str) -> Experiment:
        if name in self._experiments:  # experiments are never deleted: safe to remember
            return self._experiments[name]
        check_key("experiment", name)
        with self.store.read() as conn:
            found = self._find_experiment(conn, name)
        if found is None:
            try:
                with self.store.write() as conn:  # re-check under the write lock: another may win
                    found = self._find_experiment(conn, name) or self._insert_experiment(
                        conn, name, None
                    )
            except StoreIntegrityError:  # PostgreSQL takes no lock up front: another process won
                with self.store.read() as conn:
                    found = self._find_experiment(conn, name)
                if found is None:
                    raise
        self._experiments[name] = found
        return found

    def get_experiment(self, name_or_id: str) -> Experiment:
        with self.store.read() as conn:
            found = self._find_experiment(conn, name_or_id)
        if found is None:
            raise NotFound.for_field("experiment", name_or_id)
        return found

    def list_experiments(self) -> list[Experiment]:
        with self.store.read() as conn:
            rows = conn.execute(select(experiments).order_by(experiments.c.created_at)).mappings()
            return [_experiment(row) for row in rows]

    @staticmethod
    def _find_experiment(conn: Connection, name_or_id: str) -> Experiment | None:
        row = (
            conn.execute(
                select(experiments).where(
                    (experiments.c.name == name_or_id) | (experiments.c.id == name_or_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _experiment(row)

    # runs ------------------------------------------------------------------------------

    def create_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
    ) -> Run:
        """Start a run, capturing who, where, which code and which environment."""
        exp = self.get_or_create_experiment(experiment)
        param_rows = _string_rows("params", params)
        tag_rows = _string_rows("tags", tags)
        environ = env.environment()
        git = env.current_git_state()
        run_id = new_id()
        row = {
            "id": run_id,
            "experiment_id": exp.id,
            "parent_id": parent_id,
            "name": name,
            "status": RunStatus.RUNNING.value,
            "start_time": now_ms(),
            "end_time": None,
            "creator": settings().user,
            "source": env.source_file(),
            "git_commit": git.commit,
            "git_dirty": git.dirty,
            "environment_digest": environ.digest,
            "host": env.host(),
            "pid": os.getpid(),
            "notes": None,
            "error": None,
            "deleted_at": None,
        }
        with self.store.write() as conn:
            if parent_id is not None:
                self._require_run(conn, parent_id)
            self.store.upsert(
                conn,
                environments,
                [
                    {
                        "digest": environ.digest,
                        "python_version": environ.python_version,
                        "platform": environ.platform,
                        "packages": environ.packages_json,
                    }
                ],
                ["digest"],
                replace=False,
            )
            conn.execute(runs.insert(), row)
            _insert_pairs(conn, params_table=True, run_id=run_id, pairs=param_rows)
            _insert_pairs(conn, params_table=False, run_id=run_id, pairs=tag_rows)
        return _run(
            {**row, "experiment_name": exp.name},
            params=dict(param_rows),
            tags=dict(tag_rows),
            metrics={},
        )

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        error: str | None = None,
        final_metrics: Sequence[MetricRow] = (),
        final_tags: Mapping[str, Any] | None = None,
        final_artifacts: Sequence[ArtifactRow] = (),
    ) -> None:
        """End a run, writing its last metric points, tags and artifact records (of blobs
        already in the artifact store) in the same transaction."""
        status = _status(status)
        if status is RunStatus.RUNNING:
            raise InvalidInput.for_field("status", status.value, "finished, failed or killed")
        pairs = _string_rows("tags", final_tags)
        with self.store.write() as conn:
            self._require_run(conn, run_id)
            self._insert_metric_rows(conn, run_id, final_metrics)
            self._upsert_tags(conn, run_id, pairs)
            self._upsert_artifacts(conn, run_id, final_artifacts)
            # Only a running run ends: a run already marked killed or failed keeps its verdict.
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status == RunStatus.RUNNING.value)
                .values(status=status.value, end_time=now_ms(), error=error)
            )

    def kill_run(self, run_id: str) -> Run:
        """Mark a run whose process died as killed; only a running run can be."""
        run = self.get_run(run_id)
        if run.status is not RunStatus.RUNNING:
            raise Conflict(
                f"run {run.id} is {run.status}, not running", field="status", value=str(run.status)
            )
        self.end_run(run.id, RunStatus.KILLED, error="marked killed: its process was gone")
        return self.get_run(run.id)

    def set_notes(self, run_id: str, notes: str) -> None:
        with self.store.write() as conn:
            self._require_run(conn, run_id)
            conn.execute(update(runs).where(runs.c.id == run_id).values(notes=notes))

    def delete_run(self, run_id: str) -> None:
        self._set_deleted(run_id, now_ms())

    def restore_run(self, run_id: str) -> None:
        self._set_deleted(run_id, None)

    def _set_deleted(self, run_id: str, when: int | None) -> None:
        run_id = self.resolve_run_id(run_id)
        with self.store.write() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(deleted_at=when))

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of a run given its id or a unique prefix of at least six characters."""
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput.for_field("run_id", run_id, "a run id")
        with self.store.read() as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first():
                return run_id
            if len(run_id) >= _MIN_PREFIX:
                pattern = run_id.replace("\\", "").replace("%", "").replace("_", "") + "%"
                found = conn.execute(
                    select(runs.c.id).where(runs.c.id.like(pattern)).limit(2)
                ).all()
                if len(found) == 1:
                    return found[0][0]
                if len(found) > 1:
                    raise InvalidInput(
                        f"run id prefix {run_id!r} matches several runs; give more characters",
                        field="run_id",
                        value=run_id,
                    )
        raise NotFound.for_field("run", run_id)

    def get_run(self, run_id: str) -> Run:
        run_id = self.resolve_run_id(run_id)
        return self._load_runs([run_id])[0]

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        *,
        filter: str | None = None,  # noqa: A002 - the word users know
        order_by: Sequence[str] | str | None = None,
        limit: int | None = 1000,
        include_deleted: bool = False,
        only_deleted: bool = False,
        status: RunStatus | str | None = None,
    ) -> RunList:
        """Runs matching ``filter`` in the given experiments (all when None), ordered."""
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidInput.for_field("limit", limit, "a positive integer")
        stmt = select(runs.c.id)
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            stmt = stmt.where(runs.c.experiment_id.in_([self.get_experiment(n).id for n in names]))
        if only_deleted:
            stmt = stmt.where(runs.c.deleted_at.is_not(None))
        elif not include_deleted:
            stmt = stmt.where(runs.c.deleted_at.is_(None))
        if status is not None:
            stmt = stmt.where(runs.c.status == _status(status).value)
        clause = compile_filter(filter)
        if clause is not None:
            stmt = stmt.where(clause)
        stmt = apply_order_by(stmt, [order_by] if isinstance(order_by, str) else order_by)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.store.read() as conn:
            ids = [row[0] for row in conn.execute(stmt)]
        return RunList(self._load_runs(ids))

    def _load_runs(self, ids: list[str]) -> list[Run]:
        """Runs with their params, tags and latest metrics, in the order of ``ids``."""
        if not ids:
            return []
        with self.store.read() as conn:
            base = conn.execute(
                select(runs, experiments.c.name.label("experiment_name"))
                .join(experiments, experiments.c.id == runs.c.experiment_id)
                .where(runs.c.id.in_(ids))
            ).mappings()
            by_id = {row["id"]: dict(row) for row in base}
            extras: dict[str, dict[str, dict[str, Any]]] = {
                i: {"params": {}, "tags": {}, "metrics": {}} for i in by_id
            }
            for table, slot in ((params, "params"), (tags, "tags"), (latest_metrics, "metrics")):
                rows = conn.execute(
                    select(table.c.run_id, table.c.key, table.c.value).where(
                        table.c.run_id.in_(ids)
                    )
                ).all()  # one fetch: iterating row by row costs more than the query
                for run_id, key, value in rows:
                    extras[run_id][slot][key] = value
        for extra in extras.values():  # a stored NULL metric is a logged NaN
            extra["metrics"] = {
                k: math.nan if v is None else v for k, v in extra["metrics"].items()
            }
        return [_run(by_id[i], **extras[i]) for i in ids if i in by_id]

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise NotFound.for_field("run", run_id)

    # params and tags -------------------------------------------------------------------

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Record params; logging a key again with the same value is fine, another value raises."""
        pairs = _string_rows("params", values)
        if not pairs:
            return
        with self.store.write() as conn:
            self._require_run(conn, run_id)
            stored = dict(
                conn.execute(
                    select(params.c.key, params.c.value).where(
                        params.c.run_id == run_id, params.c.key.in_([k for k, _ in pairs])
                    )
                ).all()
            )
            for key, value in pairs:
                if key in stored and stored[key] != value:
                    raise Conflict(
                        f"param {key!r} was logged as {stored[key]!r}; cannot change it to {value!r}",
                        field=f"params.{key}",
                        value=value,
                    )
            new = [(k, v) for k, v in pairs if k not in stored]
            _insert_pairs(conn, params_table=True, run_id=run_id, pairs=new)

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        pairs = _string_rows("tags", values)
        if not pairs:
            return
        with self.store.write() as conn:
            self._require_run(conn, run_id)
            self._upsert_tags(conn, run_id, pairs)

    def _upsert_tags(self, conn: Connection, run_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in pairs]
        self.store.upsert(conn, tags, rows, ["run_id", "key"])

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.store.write() as conn:
            self._require_run(conn, run_id)
            conn.execute(tags.delete().where(tags.c.run_id == run_id, tags.c.key == key))

    # metrics ---------------------------------------------------------------------------

    def log_metric_rows(self, run_id: str, rows: Sequence[MetricRow]) -> None:
        """Store already-validated metric points in one transaction (the batched hot path)."""
        if rows:
            with self.store.write() as conn:
                self._require_run(conn, run_id)
                self._insert_metric_rows(conn, run_id, rows)

    def _insert_metric_rows(self, conn: Connection, run_id: str, rows: Sequence[MetricRow]) -> None:
        if not rows:
            return
        latest: dict[str, MetricRow] = {}
        for row in rows:  # the last point of each key in this batch, by step
            current = latest.get(row[0])
            if current is None or row[2] >= current[2]:
                latest[row[0]] = row
        conn.exec_driver_sql(
            self._insert_metrics_sql, [(run_id, k, s, t, v) for k, v, s, t in rows]
        )
        self.store.upsert(
            conn,
            latest_metrics,
            [
                {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t}
                for k, v, s, t in latest.values()
            ],
            ["run_id", "key"],
            only_if_newer="step",
        )

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        run_id = self.resolve_run_id(run_id)
        with self.store.read() as conn:
            # The driver's own cursor: histories run to millions of rows, and SQLAlchemy's
            # result processing would cost more than the query.
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.execute(self._history_sql, (run_id, key))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        return MetricHistory.from_rows(key, rows)

    def metric_keys(self, run_id: str) -> dict[str, int]:
        """Each metric key of a run and how many points it has."""
        with self.store.read() as conn:
            return dict(
                conn.execute(
                    select(metrics.c.key, func.count())
                    .where(metrics.c.run_id == run_id)
                    .group_by(metrics.c.key)
                    .order_by(metrics.c.key)
                ).all()
            )

    # artifacts -------------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None
    ) -> list[Artifact]:
        """Store a file, or every file under a folder, under ``artifact_path`` in the run."""
        source = Path(local_path)
        if source.is_file():
            items = [(source, artifact_path or source.name)]
        elif source.is_dir():
            prefix = f"{artifact_path.rstrip('/')}/" if artifact_path else ""
            items = [
                (p, prefix + p.relative_to(source).as_posix())
                for p in sorted(source.rglob("*"))
                if p.is_file()
            ]
        else:
            raise NotFound.for_field("local path", str(local_path))
        records = []
        for path, logical in items:
            logical = validate_logical_path(logical)
            digest, size = self.artifacts.put_file(path)
            records.append((logical, digest, size, _media_type(logical)))
        return self._record_artifacts(run_id, records)

    def log_object(self, run_id: str, obj: Any, artifact_path: str) -> Artifact:
        """Store a DataFrame, array, figure, dict or text as a run artifact."""
        encoded = encode(obj)
        logical = validate_logical_path(artifact_path)
        if not Path(logical).suffix and encoded.suffix:
            logical += encoded.suffix
        digest = self.artifacts.put_bytes(encoded.data)
        return self._record_artifacts(
            run_id, [(logical, digest, len(encoded.data), encoded.media_type)]
        )[0]

    def _record_artifacts(self, run_id: str, records: Sequence[ArtifactRow]) -> list[Artifact]:
        with self.store.write() as conn:
            self._require_run(conn, run_id)
            rows = self._upsert_artifacts(conn, run_id, records)
        return [_artifact(row) for row in rows]

    def _upsert_artifacts(
        self, conn: Connection, run_id: str, records: Sequence[ArtifactRow]
    ) -> list[dict[str, Any]]:
        created = now_ms()
        rows = [
            {
                "run_id": run_id,
                "path": p,
                "digest": d,
                "size": s,
                "media_type": m,
                "created_at": created,
            }
            for p, d, s, m in records
        ]
        self.store.upsert(conn, run_artifacts, rows, ["run_id", "path"])
        return rows

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        run_id = self.resolve_run_id(run_id)
        with self.store.read() as conn:
            rows = conn.execute(
                select(run_artifacts)
                .where(run_artifacts.c.run_id == run_id)
                .order_by(run_artifacts.c.path)
            ).mappings()
            return [_artifact(row) for row in rows]

    def _artifact(self, run_id: str, path: str) -> Artifact:
        logical = validate_logical_path(path)
        for item in self.list_artifacts(run_id):
            if item.path == logical:
                return item
        raise NotFound.for_field("artifact", f"{run_id}/{logical}")

    def load_artifact(self, run_id: str, path: str) -> Any:
        """The stored object: DataFrame for Parquet, array for .npy, dict for JSON, else bytes."""
        item = self._artifact(run_id, path)
        return decode(self.artifacts.get_bytes(item.digest), item.media_type)

    def download_artifacts(
        self, run_id: str, dest: str | os.PathLike, path: str | None = None
    ) -> list[Path]:
        """Copy a run's artifacts (all, or those at or under ``path``) into ``dest``."""
        prefix = validate_logical_path(path) if path else None
        chosen = [
            a
            for a in self.list_artifacts(run_id)
            if prefix is None or a.path == prefix or a.path.startswith(prefix + "/")
        ]
        if prefix is not None and not chosen:
            raise NotFound.for_field("artifact", f"{run_id}/{prefix}")
        written = []
        for item in chosen:
            target = Path(dest) / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            self.artifacts.get_file(item.digest, target)
            written.append(target)
        return written

    # environment -----------------------------------------------------------------------

    def get_environment(self, digest: str) -> dict[str, Any]:
        import json

        with self.store.read() as conn:
            stmt = select(environments).where(environments.c.digest == digest)
            row = self.store.one(conn, stmt, "environment", digest)
        return {
            "python_version": row["python_version"],
            "platform": row["platform"],
            "packages": json.loads(row["packages"]),
        }


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# row -> entity ---------------------------------------------------------------------------


def _experiment(row: Mapping[str, Any]) -> Experiment:
    return Experiment(
        row["id"], row["name"], row["description"], from_ms(row["created_at"]), row["creator"]
    )


def _artifact(row: Mapping[str, Any]) -> Artifact:
    return Artifact(
        row["path"], row["digest"], row["size"], row["media_type"], from_ms(row["created_at"])
    )


def _run(row: Mapping[str, Any], *, params: dict, tags: dict, metrics: dict) -> Run:
    return Run(
        id=row["id"],
        experiment_id=row["experiment_id"],
        experiment=row["experiment_name"],
        name=row["name"],
        status=RunStatus(row["status"]),
        start_time=from_ms(row["start_time"]),
        end_time=from_ms(row["end_time"]),
        creator=row["creator"],
        source=row["source"],
        git_commit=row["git_commit"],
        git_dirty=row["git_dirty"],
        parent_id=row["parent_id"],
        host=row["host"],
        pid=row["pid"],
        notes=row["notes"],
        error=row["error"],
        deleted=row["deleted_at"] is not None,
        environment_digest=row["environment_digest"],
        params=params,
        metrics=metrics,
        tags=tags,
    )


def _status(value: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(str(value).lower())
    except ValueError:
        raise InvalidInput.for_field(
            "status", value, "running, finished, failed or killed"
        ) from None


def _string_rows(kind: str, values: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if values is None:
        return []
    if not isinstance(values, Mapping):
        raise InvalidInput.for_field(kind, values, "a mapping of names to values")
    return [(check_key(f"{kind} key", k), param_value(k, v)) for k, v in values.items()]


def _insert_pairs(
    conn: Connection, *, params_table: bool, run_id: str, pairs: list[tuple[str, str]]
) -> None:
    if pairs:
        table = params if params_table else tags
        conn.execute(table.insert(), [{"run_id": run_id, "key": k, "value": v} for k, v in pairs])


def _media_type(path: str) -> str:
    if path.endswith(".parquet"):
        return PARQUET
    if path.endswith(".npy"):
        return NPY
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


_services: dict[tuple[str, str], TrackingService] = {}
_services_lock = threading.Lock()


def tracking_service(uri: str | None = None, artifacts: str | None = None) -> TrackingService:
    """The service for ``uri`` and artifact location (default: the settings), one per process."""
    config = settings()
    uri = uri or config.uri
    artifacts = artifacts or config.artifacts
    if uri.startswith(("http://", "https://")):
        from cairn.errors import ConfigError

        raise ConfigError(
            f"CAIRN_URI={uri!r}: this cairn has no HTTP client yet; use sqlite:/// or postgresql://",
            field="uri",
            value=uri,
        )
    with _services_lock:
        key = (uri, artifacts)
        if key not in _services:
            _services[key] = TrackingService(open_store(uri), artifacts)
        return _services[key]
