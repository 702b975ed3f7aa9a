"""Review before deploy: approval requests, and approvals or rejections by a second person.

Separation of duties: whoever made the version (registered it, or created its run) cannot
approve it (``PermissionDenied``). A version is approved when its latest decision approves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import InvalidInput, PermissionDenied
from cairn.registry.entities import Approval, ApprovalRequest
from cairn.registry.refs import parse_ref
from cairn.registry.service import RegistryService
from cairn.store.schema import approval_requests, approvals, runs

DECISIONS = {"approve": "approved", "reject": "rejected"}


def request_approval(service: RegistryService, ref: str) -> ApprovalRequest:
    """Ask for a review of a version; an open request is returned, not duplicated."""
    with service.store.write() as conn:
        version = service._resolve(conn, parse_ref(ref))
        row = (
            conn.execute(
                select(approval_requests).where(
                    approval_requests.c.version_id == version.id,
                    approval_requests.c.status == "open",
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            row = {
                "id": new_id(),
                "version_id": version.id,
                "requested_by": settings().user,
                "requested_at": now_ms(),
                "status": "open",
            }
            conn.execute(approval_requests.insert(), row)
    return _request(version.ref, row)


def review(
    service: RegistryService, ref: str, decision: str, comment: str | None = None
) -> Approval:
    """Record the current user's decision (approve or reject) on a version."""
    if decision not in DECISIONS:
        raise InvalidInput.for_field("decision", decision, "'approve' or 'reject'")
    reviewer = settings().user
    with service.store.write() as conn:
        version = service._resolve(conn, parse_ref(ref))
        run_creator = conn.scalar(select(runs.c.creator).where(runs.c.id == version.run_id))
        if decision == "approve" and reviewer in (version.creator, run_creator):
            raise PermissionDenied(
                f"{reviewer!r} made {version.ref} and cannot approve it: a second person must "
                "review it (separation of duties)",
                field="reviewer",
                value=reviewer,
            )
        row = {
            "id": new_id(),
            "version_id": version.id,
            "reviewer": reviewer,
            "decision": decision,
            "comment": comment,
            "created_at": now_ms(),
        }
        conn.execute(approvals.insert(), row)
        conn.execute(
            update(approval_requests)
            .where(
                approval_requests.c.version_id == version.id,
                approval_requests.c.status == "open",
            )
            .values(status=DECISIONS[decision])
        )
    return _approval(version.ref, row)


def approvals_of(service: RegistryService, ref: str) -> list[Approval]:
    """Every decision on a version, oldest first."""
    return _records_of(service, ref, approvals, approvals.c.created_at, _approval)


def requests_of(service: RegistryService, ref: str) -> list[ApprovalRequest]:
    """Every review request of a version, oldest first."""
    return _records_of(service, ref, approval_requests, approval_requests.c.requested_at, _request)


def _records_of(service: RegistryService, ref: str, table: Any, order: Any, make: Any) -> list:
    version = service.get_version(ref)
    with service.store.read() as conn:
        rows = conn.execute(
            select(table).where(table.c.version_id == version.id).order_by(order)
        ).mappings()
        return [make(version.ref, row) for row in rows]


def is_approved(service: RegistryService, ref: str) -> bool:
    decisions = approvals_of(service, ref)
    return bool(decisions) and decisions[-1].decision == "approve"


def _approval(ref: str, row: Any) -> Approval:
    return Approval(
        row["id"], ref, row["reviewer"], row["decision"], row["comment"], from_ms(row["created_at"])
    )


def _request(ref: str, row: Any) -> ApprovalRequest:
    return ApprovalRequest(
        row["id"], ref, row["requested_by"], from_ms(row["requested_at"]), row["status"]
    )
