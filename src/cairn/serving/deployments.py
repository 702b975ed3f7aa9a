"""Deployments: an approved version put into service on a target (``production`` by default).

``deploy("credit-risk/3")`` refuses a version whose latest review is not an approval (a second
person must have approved it), an archived version, and, when its model has an evaluation
policy, a version without a passing evaluation on that suite (``GateFailed``) unless an
``override_reason`` is given, which is recorded. In one transaction it records who deployed
what, when and under which approval, marks the target's previous deployment replaced and adds
the lineage edge model version -> deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import Conflict, InvalidInput, PermissionDenied
from cairn.evaluation.gate import check_gate
from cairn.registry import registry_service
from cairn.registry.entities import Record
from cairn.registry.service import MODEL_KIND
from cairn.store.lineage import Edge, add_edges
from cairn.store.schema import approvals, deployments, model_versions, registered_models

KIND = "deployment"
DEFAULT_TARGET = "production"
_TARGET = re.compile(r"[a-z][a-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class Deployment(Record):
    id: str
    ref: str  # name/version
    target: str
    approval_id: str
    approved_by: str
    status: str  # active, replaced
    comment: str | None
    created_at: datetime
    creator: str
    replaced_at: datetime | None = None


def deploy(
    ref: str,
    target: str = DEFAULT_TARGET,
    comment: str | None = None,
    override_reason: str | None = None,
) -> Deployment:
    """Record the deployment of the version ``ref`` names to ``target``."""
    if not isinstance(target, str) or not _TARGET.fullmatch(target):
        raise InvalidInput.for_field(
            "target", target, "a lower-case name such as 'production' or 'staging'"
        )
    service = registry_service()
    version = service.get_version(ref)
    if version.archived_at is not None:
        raise Conflict(f"{version.ref} is archived and cannot be deployed", field="ref", value=ref)
    with service.store.write() as conn:
        decision = conn.execute(
            select(approvals.c.id, approvals.c.decision, approvals.c.reviewer)
            .where(approvals.c.version_id == version.id)
            .order_by(approvals.c.created_at.desc())
            .limit(1)
        ).first()
        if decision is None or decision.decision != "approve":
            state = "was rejected" if decision else "has not been approved"
            raise PermissionDenied(
                f"{version.ref} {state}: a second person must approve it before it is deployed "
                f"(cairn models request-approval {version.ref}; the reviewer runs "
                f"cairn models approve {version.ref})",
                field="ref",
                value=version.ref,
            )
        check_gate(conn, version, "deploy", override_reason)
        now, user = now_ms(), settings().user
        conn.execute(
            update(deployments)
            .where(deployments.c.target == target, deployments.c.status == "active")
            .values(status="replaced", replaced_at=now)
        )
        row = {
            "id": new_id(),
            "version_id": version.id,
            "target": target,
            "approval_id": decision.id,
            "status": "active",
            "comment": comment,
            "created_at": now,
            "creator": user,
            "replaced_at": None,
        }
        conn.execute(deployments.insert(), row)
        add_edges(conn, [Edge(MODEL_KIND, version.id, KIND, row["id"], "deployed")])
    return _deployment(
        {**row, "name": version.name, "version": version.version, "reviewer": decision.reviewer}
    )


def list_deployments(
    *, target: str | None = None, model: str | None = None, active_only: bool = False
) -> list[Deployment]:
    """Deployments, newest first, optionally of one target or model, or only active ones."""
    query = (
        select(
            deployments,
            registered_models.c.name,
            model_versions.c.version,
            approvals.c.reviewer,
        )
        .join(model_versions, model_versions.c.id == deployments.c.version_id)
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .join(approvals, approvals.c.id == deployments.c.approval_id)
        .order_by(deployments.c.created_at.desc(), deployments.c.id)
    )
    if target is not None:
        query = query.where(deployments.c.target == target)
    if model is not None:
        query = query.where(registered_models.c.name == model)
    if active_only:
        query = query.where(deployments.c.status == "active")
    with registry_service().store.read() as conn:
        return [_deployment(row) for row in conn.execute(query).mappings()]


def _deployment(row: Any) -> Deployment:
    return Deployment(
        id=row["id"],
        ref=f"{row['name']}/{row['version']}",
        target=row["target"],
        approval_id=row["approval_id"],
        approved_by=row["reviewer"],
        status=row["status"],
        comment=row["comment"],
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
        replaced_at=None if row["replaced_at"] is None else from_ms(row["replaced_at"]),
    )
