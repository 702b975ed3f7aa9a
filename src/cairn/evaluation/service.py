"""Running a suite on a model version and storing the result as an Evaluation record.

``evaluate`` resolves the version, the evaluation data (a dataset version, or a DataFrame it
snapshots so the record always points at a version) and the suite (given; else the model's
policy suite; else the template for what the model predicts), checks the input, runs every
check, renders the HTML report into the artifact store, and stores the record with its lineage
edges (model version -> evaluation, dataset version -> evaluation) in one transaction.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from cairn.core import new_id, now_ms, settings
from cairn.errors import InvalidInput, NotFound
from cairn.evaluation.checks import RegressionCheck
from cairn.evaluation.context import EvaluationContext, task_of
from cairn.evaluation.entities import Evaluation
from cairn.evaluation.records import evaluation_from_row, evaluations_query, policy_of
from cairn.evaluation.suite import Suite, load_suite
from cairn.evaluation.templates import template_for
from cairn.registry import ModelVersion, RegistryService, registry_service
from cairn.registry.refs import Ref
from cairn.store import Store
from cairn.store.lineage import Edge, add_edges
from cairn.store.schema import evaluations, model_versions

KIND = "evaluation"
_ID_PREFIX_MIN = 6


class EvaluationService:
    """Evaluations over the registry (and so the store and artifact store) of ``registry``."""

    def __init__(self, registry: RegistryService) -> None:
        self.registry = registry
        self.store: Store = registry.store

    def evaluate(
        self,
        model: str | ModelVersion,
        data: Any,
        *,
        suite: Suite | str | os.PathLike | None = None,
        label: str | None = None,
        sensitive: Sequence[str] | None = None,
        dataset_name: str | None = None,
        seed: int = 0,
    ) -> Evaluation:
        """Run ``suite`` on ``model`` (a ref or version) with ``data`` (a dataset version, its
        ref, or a DataFrame snapshotted as ``dataset_name``, default ``<model>-evaluation``)."""
        started = time.perf_counter()
        version = self.registry.get_version(model) if isinstance(model, str) else model
        task = task_of(version.signature)
        chosen = self._suite(version, suite, task).with_options(label=label, sensitive=sensitive)
        chosen.validate(task)
        dataset, frame = _dataset(data, dataset_name or f"{version.name}-evaluation")
        roles = _roles(chosen)
        references = {role: self._reference(version, role) for role in roles}
        ctx = EvaluationContext(
            version=version,
            model=self.registry.load(version.ref),
            frame=frame,
            label=chosen.label,
            sensitive=chosen.sensitive,
            references=references,
            registry=self.registry,
            seed=seed,
        )
        results = chosen.run(ctx)
        record = Evaluation(
            id=new_id(),
            ref=version.ref,
            version_id=version.id,
            dataset=dataset.ref,
            dataset_version_id=dataset.id,
            suite_name=chosen.name,
            suite_digest=chosen.digest,
            suite=chosen.to_dict(),
            passed=not any(r.blocks for r in results),
            checks=results,
            compared_with={
                role: None if found is None else {"ref": found.ref, "id": found.id}
                for role, found in references.items()
            },
            row_count=len(frame),
            report_digest=None,
            seconds=0.0,
            created_at=_now(),
            creator=settings().user,
        )
        from cairn.evaluation.report import render

        html = render(record, ctx)
        digest = self.registry.artifacts.put_bytes(html.encode())
        seconds = time.perf_counter() - started
        row = {
            "id": record.id,
            "version_id": version.id,
            "dataset_version_id": dataset.id,
            "suite_name": record.suite_name,
            "suite_digest": record.suite_digest,
            "suite": json.dumps(record.suite),
            "passed": record.passed,
            "checks": json.dumps([c.to_dict() for c in results], allow_nan=False),
            "compared_with": json.dumps(record.compared_with),
            "row_count": record.row_count,
            "report_digest": digest,
            "duration_ms": int(seconds * 1000),
            "created_at": int(record.created_at.timestamp() * 1000),
            "creator": record.creator,
        }
        with self.store.write() as conn:
            conn.execute(evaluations.insert(), row)
            add_edges(
                conn,
                [
                    Edge("model_version", version.id, KIND, record.id, "evaluated"),
                    Edge("dataset_version", dataset.id, KIND, record.id, "evaluation_data"),
                ],
            )
        return self.get(record.id)

    def _suite(self, version: ModelVersion, suite: Any, task: str) -> Suite:
        if suite is not None:
            return load_suite(suite)
        with self.store.read() as conn:
            model_id = conn.scalar(
                select(model_versions.c.model_id).where(model_versions.c.id == version.id)
            )
            policy = policy_of(conn, model_id)
        if policy is not None:
            return Suite.from_dict(policy.suite)
        return template_for(task)

    def _reference(self, version: ModelVersion, role: str) -> ModelVersion | None:
        """The champion, or the newest unarchived version before ``version``."""
        if role == "champion":
            try:
                return self.registry.get_version(Ref(version.name, alias="champion"))
            except NotFound:
                return None
        earlier = [
            v
            for v in self.registry.list_versions(version.name)
            if v.version < version.version and v.archived_at is None
        ]
        return earlier[0] if earlier else None

    # reading ---------------------------------------------------------------------------

    def get(self, evaluation_id: str) -> Evaluation:
        """The evaluation with this id (or a unique prefix of 6+ characters)."""
        if not isinstance(evaluation_id, str) or len(evaluation_id) < _ID_PREFIX_MIN:
            raise InvalidInput.for_field(
                "evaluation",
                evaluation_id,
                f"an evaluation id (or {_ID_PREFIX_MIN}+ characters of it)",
            )
        with self.store.read() as conn:
            rows = (
                conn.execute(
                    evaluations_query().where(evaluations.c.id.like(evaluation_id + "%")).limit(2)
                )
                .mappings()
                .all()
            )
        if not rows:
            raise NotFound.for_field("evaluation", evaluation_id)
        if len(rows) > 1:
            raise InvalidInput.for_field(
                "evaluation", evaluation_id, "more characters: several evaluations start so"
            )
        return evaluation_from_row(rows[0])

    def list(self, model: str) -> list[Evaluation]:
        """Evaluations of a version (``name/3``, ``name@champion``) or of every version of a
        model (``name``), newest first."""
        if "/" in model or "@" in model:
            where = evaluations.c.version_id == self.registry.get_version(model).id
        else:
            ids = [v.id for v in self.registry.list_versions(model)]
            where = evaluations.c.version_id.in_(ids)
        with self.store.read() as conn:
            rows = conn.execute(
                evaluations_query().where(where).order_by(evaluations.c.created_at.desc())
            ).mappings()
            return [evaluation_from_row(row) for row in rows]

    def report(self, evaluation_id: str) -> str:
        """The HTML report of an evaluation."""
        found = self.get(evaluation_id)
        if found.report_digest is None:
            raise NotFound.for_field("report of evaluation", found.id)
        return self.registry.artifacts.get_bytes(found.report_digest).decode()


def _roles(suite: Suite) -> list[str]:
    """The versions the suite's regression checks compare with."""
    roles: dict[str, None] = {}
    for check in suite.checks:
        if isinstance(check, RegressionCheck):
            roles.update(dict.fromkeys(check.against))
    return list(roles)


def _dataset(data: Any, name: str) -> tuple[Any, Any]:
    """(dataset version, DataFrame) of the evaluation data."""
    import cairn.data
    from cairn.data import Kind

    if type(data).__module__.split(".")[0] in ("pandas", "pyarrow"):
        version = cairn.data.snapshot(data, name=name)
        frame = data if hasattr(data, "iloc") else data.to_pandas()
        return version, frame
    if not isinstance(data, str | cairn.data.DatasetVersion):
        raise InvalidInput.for_field(
            "data", type(data).__qualname__, "a dataset version, its ref (name@2) or a DataFrame"
        )
    version = cairn.data.get_version(data)
    if version.kind is not Kind.TABLE:
        raise InvalidInput.for_field("data", version.ref, f"a table version, not a {version.kind}")
    return version, cairn.data.load(version)


def _now() -> Any:
    from cairn.core.timeutil import from_ms

    return from_ms(now_ms())


def evaluation_service(uri: str | None = None) -> EvaluationService:
    return EvaluationService(registry_service(uri))
