"""The registry service: registered models, versions, aliases and lineage, over a store.

The SDK, the CLI and (later) the REST API call these methods. Registering a version is one
transaction: the model row, the numbered version, the run's ``model/…`` artifact and the lineage
edges (run → version, dataset versions → version) are stored together or not at all. The model
bytes go to the content-addressed artifact store first; an unreferenced blob is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select, update

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.registry import flavours
from cairn.registry.entities import AliasMove, ModelVersion, RegisteredModel
from cairn.registry.guards import check_alias_move
from cairn.registry.refs import LATEST, Ref, check_alias, check_name, parse_ref
from cairn.registry.signature import Signature, infer_signature
from cairn.store import Store
from cairn.store.lineage import Edge, add_edges, edges_from, edges_to
from cairn.store.schema import (
    alias_moves,
    dataset_versions,
    deployments,
    evaluations,
    model_aliases,
    model_versions,
    registered_models,
    run_artifacts,
)
from cairn.store.schema import datasets as datasets_table
from cairn.tracking.service import TrackingService, tracking_service

MODEL_KIND = "model_version"
#: Tag a pipeline puts on its runs (cairn.pipelines sits above the registry: not imported).
PIPELINE_REF_TAG = "cairn.pipeline.ref"


class RegistryService:
    """Registered models and their versions, in the store and artifact store of ``tracking``."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking
        self.store = tracking.store

    @property
    def artifacts(self):  # noqa: ANN201 - the tracking service's artifact store
        return self.tracking.artifacts

    # registering ---------------------------------------------------------------------------

    def register(
        self,
        run_id: str,
        name: str,
        *,
        model: Any,
        input_example: Any = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Store ``model`` as the run's ``model/<name>.skops`` (``.onnx``) and register its next
        version."""
        check_name(name)
        tag_rows = {str(k): str(v) for k, v in (tags or {}).items()}
        run = self.tracking.get_run(run_id)
        saved = flavours.save(model)
        predicts = flavours.predictor(model)
        if input_example is None:
            input_example = self._example_from_inputs(run.id, predicts)
        signature = infer_signature(predicts, input_example)
        environment = self._environment(run.environment_digest)
        digest = self.artifacts.put_bytes(saved.data)
        path = f"model/{name}{saved.suffix}"
        now, user = now_ms(), settings().user
        with self.store.write() as conn:
            model_id = self._model_id_for_update(conn, name, now, user)
            number = (
                conn.scalar(
                    select(func.max(model_versions.c.version)).where(
                        model_versions.c.model_id == model_id
                    )
                )
                or 0
            ) + 1
            row = {
                "id": new_id(),
                "model_id": model_id,
                "version": number,
                "run_id": run.id,
                "flavour": saved.flavour,
                "artifact_path": path,
                "digest": digest,
                "size": len(saved.data),
                "trusted_types": json.dumps(saved.trusted_types),
                "signature": json.dumps(signature.to_dict()),
                "environment": json.dumps(environment),
                "params": json.dumps(run.params),
                "metrics": json.dumps(_finite(run.metrics)),
                "tags": json.dumps(tag_rows),
                "description": description,
                "created_at": now,
                "creator": user,
                "archived_at": None,
            }
            conn.execute(model_versions.insert(), row)
            self.store.upsert(
                conn,
                run_artifacts,
                [
                    {
                        "run_id": run.id,
                        "path": path,
                        "digest": digest,
                        "size": len(saved.data),
                        "media_type": saved.media_type,
                        "created_at": now,
                    }
                ],
                ["run_id", "path"],
            )
            inputs = [
                e for e in edges_to("run", run.id, source=conn) if e.src_kind == "dataset_version"
            ]
            add_edges(
                conn,
                [Edge("run", run.id, MODEL_KIND, row["id"], "output")]
                + [Edge(e.src_kind, e.src_id, MODEL_KIND, row["id"], "train") for e in inputs],
            )
        return self._version_from_row({**row, "name": name}, [])

    def _model_id_for_update(self, conn: Connection, name: str, now: int, user: str) -> str:
        """The id of model ``name``, created when new, its row locked until the commit."""
        self.store.upsert(
            conn,
            registered_models,
            [
                {
                    "id": new_id(),
                    "name": name,
                    "description": None,
                    "tags": "{}",
                    "created_at": now,
                    "creator": user,
                    "archived_at": None,
                }
            ],
            ["name"],
            replace=False,
        )
        stmt = select(registered_models.c.id).where(registered_models.c.name == name)
        return conn.scalar(stmt.with_for_update())

    def _environment(self, digest: str | None) -> dict[str, Any]:
        """The run's captured environment (not re-inferred: that would cost seconds)."""
        if digest is None:
            return {"python_version": None, "platform": None, "packages": {}}
        return self.tracking.get_environment(digest)

    def _example_from_inputs(self, run_id: str, model: Any) -> Any:
        """A few rows of the run's first table input, limited to the model's feature names."""
        from cairn.data import inputs_of, load

        features = getattr(model, "feature_names_in_", None)
        for item in inputs_of(run_id):
            if item.version.kind == "table":
                frame = load(item.version.ref).head(20)
                if features is not None and set(features) <= set(frame.columns):
                    return frame[list(features)]
        raise InvalidInput.for_field(
            "input_example",
            None,
            "a few rows of model input (the run has no table input with the model's columns "
            "to infer the signature from)",
        )

    # reading -------------------------------------------------------------------------------

    def get_model(self, name: str) -> RegisteredModel:
        with self.store.read() as conn:
            row = self._model_row(conn, name)
            return self._model(conn, row)

    def list_models(self, *, include_archived: bool = False) -> list[RegisteredModel]:
        stmt = select(registered_models).order_by(registered_models.c.name)
        if not include_archived:
            stmt = stmt.where(registered_models.c.archived_at.is_(None))
        with self.store.read() as conn:
            return [self._model(conn, row) for row in conn.execute(stmt).mappings().all()]

    def list_versions(self, name: str, *, include_archived: bool = True) -> list[ModelVersion]:
        """Every version of model ``name``, newest first."""
        with self.store.read() as conn:
            model = self._model_row(conn, name)
            where = [model_versions.c.model_id == model["id"]]
            if not include_archived:
                where.append(model_versions.c.archived_at.is_(None))
            return self._versions(conn, *where)

    def get_version(self, ref: str | Ref) -> ModelVersion:
        """The version ``ref`` names: ``name/3``, ``name@alias``, ``name@latest`` or ``name``."""
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        with self.store.read() as conn:
            return self._resolve(conn, parsed)

    def versions_by_id(self, ids: list[str]) -> list[ModelVersion]:
        with self.store.read() as conn:
            return self._versions(conn, model_versions.c.id.in_(ids))

    def _resolve(self, conn: Connection, ref: Ref) -> ModelVersion:
        model = self._model_row(conn, ref.name)
        where = [model_versions.c.model_id == model["id"]]
        if ref.version is not None:
            where.append(model_versions.c.version == ref.version)
        elif ref.alias != LATEST:
            version_id = conn.scalar(
                select(model_aliases.c.version_id).where(
                    model_aliases.c.model_id == model["id"], model_aliases.c.alias == ref.alias
                )
            )
            if version_id is None:
                raise NotFound(
                    f"model {ref.name!r} has no alias {ref.alias!r}", field="alias", value=str(ref)
                )
            where.append(model_versions.c.id == version_id)
        found = self._versions(conn, *where, limit=1)
        if not found:
            raise NotFound(f"no model version {str(ref)!r}", field="version", value=str(ref))
        return found[0]

    @staticmethod
    def _model_row(conn: Connection, name: str) -> Mapping[str, Any]:
        check_name(name)
        return Store.one(
            conn, select(registered_models).where(registered_models.c.name == name), "model", name
        )

    def _model(self, conn: Connection, row: Mapping[str, Any]) -> RegisteredModel:
        latest = conn.scalar(
            select(func.max(model_versions.c.version)).where(model_versions.c.model_id == row["id"])
        )
        aliases = conn.execute(
            select(model_aliases.c.alias, model_versions.c.version)
            .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
            .where(model_aliases.c.model_id == row["id"])
            .order_by(model_aliases.c.alias)
        ).all()
        return RegisteredModel(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            tags=json.loads(row["tags"]),
            created_at=from_ms(row["created_at"]),
            creator=row["creator"],
            archived_at=from_ms(row["archived_at"]) if row["archived_at"] else None,
            latest_version=latest,
            aliases=dict(aliases),
        )

    def _versions(
        self, conn: Connection, *where: Any, limit: int | None = None
    ) -> list[ModelVersion]:
        stmt = (
            select(model_versions, registered_models.c.name)
            .join(registered_models, registered_models.c.id == model_versions.c.model_id)
            .where(*where)
            .order_by(registered_models.c.name, model_versions.c.version.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = conn.execute(stmt).mappings().all()
        aliases: dict[str, list[str]] = {}
        if rows:
            pairs = conn.execute(
                select(model_aliases.c.version_id, model_aliases.c.alias)
                .where(model_aliases.c.version_id.in_([r["id"] for r in rows]))
                .order_by(model_aliases.c.alias)
            ).all()
            for version_id, alias in pairs:
                aliases.setdefault(version_id, []).append(alias)
        return [self._version_from_row(r, aliases.get(r["id"], [])) for r in rows]

    @staticmethod
    def _version_from_row(row: Mapping[str, Any], aliases: list[str]) -> ModelVersion:
        return ModelVersion(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            run_id=row["run_id"],
            flavour=row["flavour"],
            artifact_path=row["artifact_path"],
            digest=row["digest"],
            size=row["size"],
            trusted_types=json.loads(row["trusted_types"]),
            signature=Signature.from_dict(json.loads(row["signature"])),
            environment=json.loads(row["environment"]),
            params=json.loads(row["params"]),
            metrics=json.loads(row["metrics"]),
            tags=json.loads(row["tags"]),
            description=row["description"],
            created_at=from_ms(row["created_at"]),
            creator=row["creator"],
            archived_at=from_ms(row["archived_at"]) if row["archived_at"] else None,
            aliases=aliases,
        )

    # updating ------------------------------------------------------------------------------

    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """Set the description and/or merge ``tags`` into the model's tags."""
        with self.store.write() as conn:
            row = self._model_row(conn, name)
            values = _changes(row, description, tags)
            if values:
                conn.execute(
                    update(registered_models)
                    .where(registered_models.c.id == row["id"])
                    .values(**values)
                )
        return self.get_model(name)

    def update_version(
        self,
        ref: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        with self.store.write() as conn:
            version = self._resolve(conn, parse_ref(ref))
            row = {"description": version.description, "tags": json.dumps(version.tags)}
            values = _changes(row, description, tags)
            if values:
                conn.execute(
                    update(model_versions).where(model_versions.c.id == version.id).values(**values)
                )
        return self.get_version(version.ref)

    def archive_model(self, name: str) -> RegisteredModel:
        with self.store.write() as conn:
            row = self._model_row(conn, name)
            conn.execute(
                update(registered_models)
                .where(registered_models.c.id == row["id"])
                .values(archived_at=now_ms())
            )
        return self.get_model(name)

    def archive_version(self, ref: str) -> ModelVersion:
        """Archive a version; refused while an alias points at it (move the alias first)."""
        with self.store.write() as conn:
            version = self._resolve(conn, parse_ref(ref))
            if version.aliases:
                raise Conflict(
                    f"{version.ref} is {', '.join('@' + a for a in version.aliases)}: "
                    "move or delete the alias before archiving it",
                    field="ref",
                    value=version.ref,
                )
            conn.execute(
                update(model_versions)
                .where(model_versions.c.id == version.id)
                .values(archived_at=now_ms())
            )
        return self.get_version(version.ref)

    # aliases -------------------------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: int, *, override_reason: str | None = None
    ) -> AliasMove:
        """Point ``name@alias`` at ``version``; the move and its record are one transaction.

        A guarded alias (see ``cairn.registry.guards``; ``champion`` when the model has an
        evaluation policy) moves only if its guards agree, or with an ``override_reason`` they
        record.
        """
        check_alias(alias)
        if alias == LATEST:
            raise InvalidInput.for_field("alias", alias, "any name but 'latest', which is kept")
        with self.store.write() as conn:
            target = self._resolve(conn, Ref(name, version=_version_number(version)))
            if target.archived_at is not None:
                raise Conflict(
                    f"{target.ref} is archived: an alias cannot point at it",
                    field="ref",
                    value=target.ref,
                )
            check_alias_move(conn, target, alias, override_reason)
            return self._move(conn, name, alias, target)

    def delete_alias(self, name: str, alias: str) -> AliasMove:
        check_alias(alias)
        with self.store.write() as conn:
            return self._move(conn, name, alias, None)

    def _move(
        self, conn: Connection, name: str, alias: str, target: ModelVersion | None
    ) -> AliasMove:
        model = self._model_row(conn, name)
        key = (model_aliases.c.model_id == model["id"]) & (model_aliases.c.alias == alias)
        before = conn.scalar(
            select(model_versions.c.version)
            .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
            .where(key)
        )
        if target is None and before is None:
            raise NotFound(f"model {name!r} has no alias {alias!r}", field="alias", value=alias)
        now, user = now_ms(), settings().user
        if target is None:
            conn.execute(model_aliases.delete().where(key))
        else:
            self.store.upsert(
                conn,
                model_aliases,
                [
                    {
                        "model_id": model["id"],
                        "alias": alias,
                        "version_id": target.id,
                        "updated_at": now,
                        "updated_by": user,
                    }
                ],
                ["model_id", "alias"],
            )
        move = {
            "id": new_id(),
            "model_id": model["id"],
            "alias": alias,
            "from_version": before,
            "to_version": None if target is None else target.version,
            "moved_at": now,
            "moved_by": user,
        }
        conn.execute(alias_moves.insert(), move)
        return _alias_move(name, move)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with self.store.read() as conn:
            model = self._model_row(conn, name)
            stmt = select(alias_moves).where(alias_moves.c.model_id == model["id"])
            if alias is not None:
                stmt = stmt.where(alias_moves.c.alias == check_alias(alias))
            rows = conn.execute(stmt.order_by(alias_moves.c.moved_at)).mappings().all()
        return [_alias_move(name, row) for row in rows]

    # loading and lineage -------------------------------------------------------------------

    def load(self, ref: str) -> Any:
        """A ``LoadedModel`` for ``ref``; its bytes are hash-checked by the artifact store."""
        from cairn.registry.loaded import LoadedModel

        version = self.get_version(ref)
        data = self.artifacts.get_bytes(version.digest)
        model = flavours.load(data, version.trusted_types, version.flavour)
        return LoadedModel(model, version.signature, version.to_dict())

    def lineage(self, ref: str) -> dict[str, Any]:
        """Where a version came from (run, pipeline run, dataset versions), its evaluations,
        approvals, aliases and deployments."""
        from cairn.registry.approvals import approvals_of

        version = self.get_version(ref)
        run = self.tracking.get_run(version.run_id)
        with self.store.read() as conn:
            ids = [
                e.src_id
                for e in edges_to(MODEL_KIND, version.id, source=conn)
                if e.src_kind == "dataset_version"
            ]
            datasets = conn.execute(
                select(datasets_table.c.name, dataset_versions.c.version, dataset_versions.c.id)
                .join(datasets_table, datasets_table.c.id == dataset_versions.c.dataset_id)
                .where(dataset_versions.c.id.in_(ids))
                .order_by(datasets_table.c.name, dataset_versions.c.version)
            ).all()
            deployed = conn.execute(
                select(deployments.c.id, deployments.c.target, deployments.c.status)
                .where(deployments.c.version_id == version.id)
                .order_by(deployments.c.created_at)
            ).all()
            evaluated = conn.execute(
                select(evaluations.c.id, evaluations.c.suite_name, evaluations.c.passed)
                .where(evaluations.c.version_id == version.id)
                .order_by(evaluations.c.created_at)
            ).all()
        return {
            "version": version.ref,
            "run": {"id": run.id, "experiment": run.experiment, "name": run.name},
            "pipeline_run": run.parent_id or run.tags.get(PIPELINE_REF_TAG),
            "datasets": [{"ref": f"{n}@{v}", "id": i} for n, v, i in datasets],
            "approvals": [a.to_dict() for a in approvals_of(self, version.ref)],
            "aliases": version.aliases,
            "deployments": [{"id": i, "target": t, "status": s} for i, t, s in deployed],
            "evaluations": [{"id": i, "suite": n, "passed": p} for i, n, p in evaluated],
        }

    def versions_from_dataset(self, dataset_version: Any) -> list[ModelVersion]:
        """The model versions a dataset version (a ref such as ``name@2``, id or object) fed."""
        from cairn.data import get_version as get_dataset_version

        found = get_dataset_version(dataset_version)
        ids = [
            e.dst_id
            for e in edges_from("dataset_version", found.id, source=self.store)
            if e.dst_kind == MODEL_KIND
        ]
        return self.versions_by_id(ids) if ids else []


def _version_number(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput.for_field("version", version, "a version number from 1")
    return version


def _changes(
    row: Mapping[str, Any], description: str | None, tags: Mapping[str, Any] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if description is not None:
        values["description"] = description
    if tags:
        merged = {**json.loads(row["tags"]), **{str(k): str(v) for k, v in tags.items()}}
        values["tags"] = json.dumps(merged)
    return values


def _finite(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: a NaN metric is recorded as null."""
    return {k: (v if v == v and abs(v) != float("inf") else None) for k, v in metrics.items()}


def _alias_move(name: str, row: Mapping[str, Any]) -> AliasMove:
    return AliasMove(
        name=name,
        alias=row["alias"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        moved_at=from_ms(row["moved_at"]),
        moved_by=row["moved_by"],
    )


def registry_service(uri: str | None = None) -> RegistryService:
    """The registry over the tracking service for ``uri`` (default: the settings); cheap."""
    return RegistryService(tracking_service(uri))
