"""Reading evaluation records, policies and overrides from the store (SQLAlchemy only, so the
gate, which runs on every ``champion`` move, loads nothing heavy)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Select, select

from cairn.core.timeutil import from_ms
from cairn.evaluation.entities import CheckResult, Evaluation, Override, Policy
from cairn.store.schema import (
    dataset_versions,
    datasets,
    evaluation_overrides,
    evaluation_policies,
    evaluations,
    model_aliases,
    model_versions,
    registered_models,
)

CHAMPION = "champion"


def evaluations_query() -> Select:
    """Evaluations with the ref of their model version and of their dataset version."""
    return (
        select(
            evaluations,
            registered_models.c.name.label("model_name"),
            model_versions.c.version.label("model_version"),
            datasets.c.name.label("dataset_name"),
            dataset_versions.c.version.label("dataset_number"),
        )
        .join(model_versions, model_versions.c.id == evaluations.c.version_id)
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .join(dataset_versions, dataset_versions.c.id == evaluations.c.dataset_version_id)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
    )


def evaluation_from_row(row: Any) -> Evaluation:
    return Evaluation(
        id=row["id"],
        ref=f"{row['model_name']}/{row['model_version']}",
        version_id=row["version_id"],
        dataset=f"{row['dataset_name']}@{row['dataset_number']}",
        dataset_version_id=row["dataset_version_id"],
        suite_name=row["suite_name"],
        suite_digest=row["suite_digest"],
        suite=json.loads(row["suite"]),
        passed=bool(row["passed"]),
        checks=[CheckResult.from_dict(c) for c in json.loads(row["checks"])],
        compared_with=json.loads(row["compared_with"]),
        row_count=row["row_count"],
        report_digest=row["report_digest"],
        seconds=row["duration_ms"] / 1000,
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
    )


def latest_evaluation(conn: Connection, version_id: str, suite_digest: str) -> Evaluation | None:
    """The newest evaluation of a version on the suite with that digest."""
    row = (
        conn.execute(
            evaluations_query()
            .where(
                evaluations.c.version_id == version_id, evaluations.c.suite_digest == suite_digest
            )
            .order_by(evaluations.c.created_at.desc(), evaluations.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else evaluation_from_row(row)


def policy_of(conn: Connection, model_id: str) -> Policy | None:
    row = (
        conn.execute(
            select(evaluation_policies, registered_models.c.name)
            .join(registered_models, registered_models.c.id == evaluation_policies.c.model_id)
            .where(evaluation_policies.c.model_id == model_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Policy(
        model=row["name"],
        suite_name=row["suite_name"],
        suite_digest=row["suite_digest"],
        suite=json.loads(row["suite"]),
        updated_at=from_ms(row["updated_at"]),
        updated_by=row["updated_by"],
    )


def model_id_of(conn: Connection, version_id: str) -> str:
    return conn.scalar(select(model_versions.c.model_id).where(model_versions.c.id == version_id))


def alias_target(conn: Connection, model_id: str, alias: str) -> str | None:
    """The id of the version ``alias`` points at, if any."""
    return conn.scalar(
        select(model_aliases.c.version_id).where(
            model_aliases.c.model_id == model_id, model_aliases.c.alias == alias
        )
    )


def override_from_row(ref: str, row: Any) -> Override:
    return Override(
        id=row["id"],
        ref=ref,
        action=row["action"],
        reason=row["reason"],
        problem=row["problem"],
        evaluation_id=row["evaluation_id"],
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
    )


def overrides_query(version_id: str) -> Select:
    return (
        select(evaluation_overrides)
        .where(evaluation_overrides.c.version_id == version_id)
        .order_by(evaluation_overrides.c.created_at, evaluation_overrides.c.id)
    )
