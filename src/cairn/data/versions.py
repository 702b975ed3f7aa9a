"""Dataset versions: snapshot data, find a version by reference, load it, list them, trace reads.

A reference names a version: ``"name@3"``, ``"name@latest"``, ``"name"`` (the latest), or the
digest of its content (or a unique prefix of at least 8 hex characters). The blobs go to the
artifact store first (content-addressed, so a failed call leaves at most an unreferenced blob);
the records are then written in one transaction, so no half-made version is ever seen.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError as StoreIntegrityError

from cairn.artifacts import ArtifactStore, open_artifact_store, validate_logical_path
from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.data.diff import DatasetDiff, compare
from cairn.data.entities import (
    ColumnProfile,
    ColumnSchema,
    Dataset,
    DatasetVersion,
    Kind,
    RunInput,
)
from cairn.errors import InvalidInput, NotFound
from cairn.store import Store, open_store
from cairn.store.lineage import edges_from, edges_to
from cairn.store.schema import dataset_versions, datasets, runs

MIN_DIGEST_PREFIX = 8
_NAME = re.compile(r"[A-Za-z0-9][\w.\-/]{0,255}")
_DIGEST_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_DIGEST_PREFIX},64}}")
_REF_HELP = "name@N, name@latest, name, or a digest (a prefix of 8+ hex characters is enough)"
PARQUET_MAGIC = b"PAR1"
_WRITERS = 4  # threads storing a table's parts: their writes wait on the disk, not the CPU
_RETRIES = 3  # PostgreSQL: another process may create the same dataset first


@dataclass(frozen=True)
class _Draft:
    """A version's content, stored in the artifact store, not yet recorded."""

    kind: Kind
    digest: str
    blob: str
    size_bytes: int
    row_count: int | None = None
    column_count: int | None = None
    schema: dict[str, ColumnSchema] = field(default_factory=dict)
    profile: dict[str, ColumnProfile] = field(default_factory=dict)


class DataService:
    """Datasets and their versions in one metadata store and one artifact store."""

    def __init__(self, store: Store, artifacts: ArtifactStore | str | None = None) -> None:
        """``artifacts`` is a store, a location to open on first use, or None for the setting."""
        self.store = store
        self._artifacts = artifacts

    @property
    def artifacts(self) -> ArtifactStore:
        if not isinstance(self._artifacts, ArtifactStore):
            self._artifacts = open_artifact_store(self._artifacts)
        return self._artifacts

    # snapshot ----------------------------------------------------------------------------

    def snapshot(self, obj: Any, name: str, description: str | None = None) -> DatasetVersion:
        """Record ``obj`` (DataFrame, Arrow table, file or folder path) as a version of ``name``.

        Content the dataset already holds gives back that version, and nothing is stored twice.
        """
        _check_name(name)
        if description is not None and not isinstance(description, str):
            raise InvalidInput.for_field("description", description, "a string or None")
        from cairn.data import content

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            if isinstance(obj, str | os.PathLike):
                draft = self._store_path(content.as_path(obj), pool)
            elif content.is_table(obj):
                table = content.as_arrow(obj, pool)
                digest = content.table_digest(table, pool)
                draft = self._reuse(name, digest) or self._store_table(table, digest, pool)
            else:
                kind = type(obj).__qualname__
                raise InvalidInput(
                    f"cannot snapshot an object of type {kind}: give a pandas DataFrame, "
                    "a pyarrow Table, or the path of a file or folder",
                    field="obj",
                    value=kind,
                )
        if isinstance(draft, DatasetVersion):
            return draft
        return self._record(name, description, draft)

    def _reuse(self, name: str, digest: str) -> DatasetVersion | _Draft | None:
        """This dataset's version with ``digest``, or a draft copied from another dataset's."""
        with self.store.read() as conn:
            rows = conn.execute(
                _versions_query().where(dataset_versions.c.digest == digest)
            ).mappings()
            found = [_version(row) for row in rows]
        for version in found:
            if version.dataset == name:
                return version
        if not found or not self.artifacts.exists_many([found[0].blob]):
            return None  # new content, or its blob is not in this artifact store
        v = found[0]
        return _Draft(
            v.kind, v.digest, v.blob, v.size_bytes, v.row_count, v.column_count, v.schema, v.profile
        )

    def _store_table(self, table: Any, digest: str, pool: Executor) -> _Draft:
        """Encode the Parquet parts on the pool, then profile the table there; writer threads
        store the parts as they come, as much of a write is waiting for the disk. String
        columns that Parquet dictionary-encodes are counted from the codes each encoded part
        holds. The version's blob is the manifest of the parts."""
        import pyarrow as pa

        from cairn.data import content
        from cairn.data.profile import profile_encoded_strings, start_profile

        artifacts, columns = self.artifacts, content.data_columns(table)
        options = content.parquet_options(table)
        parts = content.parquet_parts(table)
        strings = [n for n in content.dictionary_encoded_strings(table, options) if n in columns]
        with ThreadPoolExecutor(min(len(parts), _WRITERS)) as writers:

            def encode(part: Any) -> tuple[int, Future[str], Any]:
                encoded = content.parquet_bytes(part, options)
                put = writers.submit(artifacts.put_bytes, memoryview(encoded))
                codes = content.read_dictionary_encoded(encoded, strings) if strings else None
                return encoded.size, put, codes

            encoding = [pool.submit(encode, part) for part in parts]  # the longest tasks: first
            profiled = start_profile(table, [c for c in columns if c not in strings], pool)
            dtypes = content.pandas_dtypes(table)  # while the pool works
            stored = [future.result() for future in encoding]
            if strings:  # counted here while the pool profiles the other columns
                codes = pa.concat_tables([codes for _, _, codes in stored])
                profile = {n: profile_encoded_strings(table.column(n), codes[n]) for n in strings}
            else:
                profile = {}
            entries = {
                content.part_name(i): {"digest": put.result(), "size": size}
                for i, (size, put, _) in enumerate(stored)
            }
        blob = artifacts.put_bytes(content.manifest_bytes(entries))
        profile |= profiled()
        profile = {name: profile[name] for name in columns}
        return _Draft(
            Kind.TABLE,
            digest,
            blob,
            sum(entry["size"] for entry in entries.values()),
            table.num_rows,
            len(columns),
            content.table_schema(dtypes, profile),
            profile,
        )

    def _store_path(self, path: Path, pool: Executor) -> _Draft:
        from cairn.data import content

        if path.is_dir():
            files = content.put_files(self.artifacts, content.folder_files(path), pool)
            manifest = content.manifest_bytes(files)
            blob = self.artifacts.put_bytes(manifest)
            size = sum(entry["size"] for entry in files.values())
            return _Draft(Kind.FOLDER, blob, blob, size)
        files = content.put_files(self.artifacts, [(path.name, path)], pool)
        blob = self.artifacts.put_bytes(content.manifest_bytes(files))
        entry = files[path.name]
        return _Draft(Kind.FILE, entry["digest"], blob, entry["size"])

    def _record(self, name: str, description: str | None, draft: _Draft) -> DatasetVersion:
        """Write the version in one transaction (the dataset too, on its first version)."""
        for attempt in range(_RETRIES):
            try:
                with self.store.write() as conn:
                    dataset_id = self._dataset_id(conn, name, description)
                    row = self._version_row(conn, dataset_id, draft, description)
                    if "digest" in row:  # the row just inserted: no need to read it back
                        return _version({**row, "dataset_name": name})
                    return self._find(conn, dataset_versions.c.id == row["id"])[0]
            except StoreIntegrityError:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _dataset_id(conn: Connection, name: str, description: str | None) -> str:
        """The dataset's id, its row locked (PostgreSQL) so version numbers are taken in turn."""
        locked = select(datasets.c.id).where(datasets.c.name == name).with_for_update()
        found = conn.scalar(locked)
        if found is not None:
            return found
        row = {"id": new_id(), "name": name, "description": description, **_stamp()}
        conn.execute(datasets.insert(), row)
        return row["id"]

    @staticmethod
    def _version_row(
        conn: Connection, dataset_id: str, draft: _Draft, description: str | None
    ) -> Mapping[str, Any]:
        """The dataset's version holding ``draft.digest``: the stored one, or a new one."""
        same = conn.execute(
            select(dataset_versions.c.id).where(
                dataset_versions.c.dataset_id == dataset_id,
                dataset_versions.c.digest == draft.digest,
            )
        ).first()
        if same is not None:  # another process stored the same content meanwhile
            return {"id": same[0]}
        latest = conn.scalar(
            select(func.max(dataset_versions.c.version)).where(
                dataset_versions.c.dataset_id == dataset_id
            )
        )
        row = {
            "id": new_id(),
            "dataset_id": dataset_id,
            "version": (latest or 0) + 1,
            "digest": draft.digest,
            "kind": str(draft.kind),
            "manifest_digest": draft.blob,
            "size_bytes": draft.size_bytes,
            "row_count": draft.row_count,
            "column_count": draft.column_count,
            "schema": _json({k: v.to_dict() for k, v in draft.schema.items()}),
            "profile": _json({k: v.to_dict() for k, v in draft.profile.items()}),
            "description": description,
            **_stamp(),
        }
        conn.execute(dataset_versions.insert(), row)
        return row

    # find and load -----------------------------------------------------------------------

    def get_version(self, ref: str | DatasetVersion) -> DatasetVersion:
        """The version ``ref`` names (see the module docstring), without loading its data."""
        if isinstance(ref, DatasetVersion):
            return ref
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInput.for_field("ref", ref, _REF_HELP)
        name, at, selector = ref.rpartition("@")
        with self.store.read() as conn:
            if at:
                return self._by_name(conn, ref, name, _version_number(ref, name, selector))
            if conn.scalar(select(datasets.c.id).where(datasets.c.name == ref)) is not None:
                return self._by_name(conn, ref, ref, None)
            if _DIGEST_PREFIX.fullmatch(ref):
                return self._by_digest(conn, ref)
        raise NotFound.for_field("dataset", ref)

    def _by_name(self, conn: Connection, ref: str, name: str, number: int | None) -> DatasetVersion:
        if conn.scalar(select(datasets.c.id).where(datasets.c.name == name)) is None:
            raise NotFound.for_field("dataset", name)
        where = [datasets.c.name == name]
        if number is not None:
            where.append(dataset_versions.c.version == number)
        found = self._find(conn, *where, newest_first=True, limit=1)
        if not found:
            raise NotFound(f"no dataset version {ref!r}", field="ref", value=ref)
        return found[0]

    def _by_digest(self, conn: Connection, prefix: str) -> DatasetVersion:
        """The oldest version whose digest starts with ``prefix``, if only one digest does."""
        found = self._find(conn, dataset_versions.c.digest.like(prefix + "%"))
        digests = {v.digest for v in found}
        if len(digests) > 1:
            raise InvalidInput(
                f"digest prefix {prefix!r} matches {len(digests)} different contents; "
                "give more characters",
                field="ref",
                value=prefix,
            )
        if not found:
            raise NotFound(f"no dataset or digest {prefix!r}", field="ref", value=prefix)
        return found[0]

    def load(self, ref: str | DatasetVersion, dest: str | os.PathLike | None = None) -> Any:
        """A table version as a DataFrame; a file or folder version as the local path it is
        copied to: ``dest`` (a folder), by default ``$CAIRN_HOME/cache/data/<digest>``."""
        version = self.get_version(ref)
        if version.kind is Kind.TABLE:
            if dest is not None:
                raise InvalidInput.for_field(
                    "dest", str(dest), "None: a table version loads as a DataFrame"
                )
            frame = self.read_table(version).to_pandas()
            return _with_declared_categories(frame, version) if not len(frame) else frame
        return self._materialise(version, dest)

    def read_table(self, version: DatasetVersion) -> Any:
        """The Arrow table of a table version: its Parquet parts, in the manifest's order."""
        from cairn.data.content import read_parquet

        digests = self.table_parts(version)
        blobs = self.artifacts.get_many(digests)
        return read_parquet(blobs[digest] for digest in digests)

    def table_parts(self, version: DatasetVersion) -> list[str]:
        """The digests of a table version's Parquet files, in order (DuckDB reads them as is)."""
        from cairn.data.content import read_manifest

        stored = self.artifacts.get_bytes(version.blob)
        if stored[:4] == PARQUET_MAGIC:  # stored whole, by cairn before tables had parts
            return [version.blob]
        return [entry["digest"] for entry in read_manifest(stored).values()]

    def _materialise(self, version: DatasetVersion, dest: str | os.PathLike | None) -> Path:
        target = Path(dest) if dest is not None else cache_folder() / version.digest
        files = self.manifest(version)

        def fetch(item: tuple[str, dict[str, Any]]) -> int:
            path, entry = item
            return self.artifacts.get_file(entry["digest"], target / validate_logical_path(path))

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(fetch, files.items()))
        if version.kind is Kind.FILE:
            return target / next(iter(files))
        target.mkdir(parents=True, exist_ok=True)  # an empty folder is a folder too
        return target

    def manifest(self, version: DatasetVersion) -> dict[str, dict[str, Any]]:
        """{relative path: {digest, size}} of a file or folder version; {} for a table."""
        if version.kind is Kind.TABLE:
            return {}
        from cairn.data.content import read_manifest

        return read_manifest(self.artifacts.get_bytes(version.blob))

    def diff(self, before: str | DatasetVersion, after: str | DatasetVersion) -> DatasetDiff:
        """What changed from ``before`` to ``after``: schema, rows, statistics, categories, files."""
        old, new = self.get_version(before), self.get_version(after)
        return compare(old, new, self.manifest(old), self.manifest(new))

    # listings and lineage ----------------------------------------------------------------

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name, with its number of versions and latest version."""
        stmt = (
            select(
                datasets,
                func.count(dataset_versions.c.id).label("version_count"),
                func.max(dataset_versions.c.version).label("latest_version"),
            )
            .outerjoin(dataset_versions, dataset_versions.c.dataset_id == datasets.c.id)
            .group_by(*datasets.c)
            .order_by(datasets.c.name)
        )
        with self.store.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [
            Dataset(
                row["id"],
                row["name"],
                row["description"],
                from_ms(row["created_at"]),
                row["creator"],
                row["version_count"],
                row["latest_version"],
            )
            for row in rows
        ]

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of the dataset ``name``, oldest first."""
        with self.store.read() as conn:
            if conn.scalar(select(datasets.c.id).where(datasets.c.name == name)) is None:
                raise NotFound.for_field("dataset", name)
            return self._find(conn, datasets.c.name == name)

    def runs_that_read(self, ref: str | DatasetVersion, relation: str | None = None) -> list[str]:
        """Ids of the runs that logged the version as an input, oldest first."""
        version = self.get_version(ref)
        edges = edges_from("dataset_version", version.id, relation=relation, source=self.store)
        return list(dict.fromkeys(e.dst_id for e in edges if e.dst_kind == "run"))

    def inputs_of(self, run: Any) -> list[RunInput]:
        """The dataset versions a run (an id, or anything with ``.id``) logged as inputs."""
        run_id = getattr(run, "id", run)
        if not isinstance(run_id, str):
            raise InvalidInput.for_field("run", run, "a run or its id")
        with self.store.read() as conn:
            if conn.scalar(select(runs.c.id).where(runs.c.id == run_id)) is None:
                raise NotFound.for_field("run", run_id)
            edges = [
                e for e in edges_to("run", run_id, source=conn) if e.src_kind == "dataset_version"
            ]
            ids = {e.src_id for e in edges}
            by_id = {v.id: v for v in self._find(conn, dataset_versions.c.id.in_(ids))}
        return [RunInput(by_id[e.src_id], e.relation) for e in edges if e.src_id in by_id]

    # rows -> versions ----------------------------------------------------------------------

    @staticmethod
    def _find(
        conn: Connection, *where: Any, newest_first: bool = False, limit: int | None = None
    ) -> list[DatasetVersion]:
        stmt = _versions_query().where(*where)
        if newest_first:
            stmt = stmt.order_by(dataset_versions.c.version.desc())
        else:
            stmt = stmt.order_by(dataset_versions.c.created_at, dataset_versions.c.version)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_version(row) for row in conn.execute(stmt).mappings()]


def _versions_query() -> Any:
    return select(dataset_versions, datasets.c.name.label("dataset_name")).join(
        datasets, datasets.c.id == dataset_versions.c.dataset_id
    )


def _version(row: Mapping[str, Any]) -> DatasetVersion:
    schema = json.loads(row["schema"]) if row["schema"] else {}
    profile = json.loads(row["profile"]) if row["profile"] else {}
    return DatasetVersion(
        id=row["id"],
        dataset=row["dataset_name"],
        version=row["version"],
        digest=row["digest"],
        kind=Kind(row["kind"]),
        blob=row["manifest_digest"],
        size_bytes=row["size_bytes"],
        row_count=row["row_count"],
        column_count=row["column_count"],
        schema={name: ColumnSchema.from_dict(value) for name, value in schema.items()},
        profile={name: ColumnProfile.from_dict(value) for name, value in profile.items()},
        description=row["description"],
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
    )


def _with_declared_categories(frame: Any, version: DatasetVersion) -> Any:
    """Parquet keeps a dictionary only with values: give empty categoricals theirs back."""
    for name, column in version.profile.items():
        if column.categories is not None and str(frame[name].dtype) == "category":
            ordered = "ordered=1" in column.type
            frame[name] = frame[name].cat.set_categories(column.categories, ordered=ordered)
    return frame


def _stamp() -> dict[str, Any]:
    """When and by whom a record is made: every record has both."""
    return {"created_at": now_ms(), "creator": settings().user}


def _json(data: dict[str, Any]) -> str | None:
    return json.dumps(data, default=str) if data else None


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput.for_field(
            "name",
            name,
            "a dataset name of 1 to 256 letters, digits and _ - . / starting with a letter "
            "or digit, e.g. 'credit-applications'",
        )


def _version_number(ref: str, name: str, selector: str) -> int | None:
    """The version number ``selector`` names (None: the latest); InvalidInput naming ``ref``."""
    if name and selector == "latest":
        return None
    if name and selector.isascii() and selector.isdigit() and int(selector) > 0:
        return int(selector)
    raise InvalidInput.for_field("ref", ref, _REF_HELP)


def cache_folder() -> Path:
    """Where file and folder versions are copied when no destination is given."""
    return settings().home / "cache" / "data"


# --- the SDK: module-level functions over the store and artifact store the settings name --------


def data_service() -> DataService:
    """The service for the current settings (``CAIRN_URI``, ``CAIRN_ARTIFACTS``)."""
    config = settings()
    return DataService(open_store(config.uri), config.artifacts)


def snapshot(obj: Any, name: str, description: str | None = None) -> DatasetVersion:
    """Record a DataFrame, Arrow table, file or folder as the next version of dataset ``name``.

    The same content again returns the version that holds it; nothing is stored twice.
    """
    return data_service().snapshot(obj, name, description)


def get_version(ref: str | DatasetVersion) -> DatasetVersion:
    """The version ``ref`` names (``name@3``, ``name@latest``, ``name``, a digest or prefix)."""
    return data_service().get_version(ref)


def load(ref: str | DatasetVersion, dest: str | os.PathLike | None = None) -> Any:
    """A table version as a DataFrame; a file or folder version as a local path."""
    return data_service().load(ref, dest)


def list_datasets() -> list[Dataset]:
    return data_service().list_datasets()


def list_versions(name: str) -> list[DatasetVersion]:
    return data_service().list_versions(name)


def runs_that_read(ref: str | DatasetVersion, relation: str | None = None) -> list[str]:
    """Ids of the runs that read the version (``ActiveRun.log_input``), oldest first."""
    return data_service().runs_that_read(ref, relation)


def diff(before: str | DatasetVersion, after: str | DatasetVersion) -> DatasetDiff:
    """What changed from one version to another (see ``cairn.data.diff.DatasetDiff``)."""
    return data_service().diff(before, after)


def inputs_of(run: Any) -> list[RunInput]:
    """The dataset versions a run read, with the relation each was logged with."""
    return data_service().inputs_of(run)
