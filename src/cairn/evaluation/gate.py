"""The promotion gate: a model with an evaluation policy gets a new champion, or is deployed,
only with a passing evaluation of that version on the suite its policy names.

What counts: the *latest* evaluation of the version on exactly the policy's suite (same
digest). It must have passed (no blocking check failed or errored), and, when the suite
compares against the champion, it must have compared with the current champion: if the
champion moved since, the evaluation is stale. Otherwise the gate refuses with ``GateFailed``
(HTTP 409) saying why, unless the caller gives an ``override_reason``, which is recorded with
who gave it and what the gate found wrong.

A model without a policy is not gated: the gate applies once a team sets one
(``set_policy``, ``cairn evaluations policy set``). Importing this module adds the gate to the
registry's ``champion`` alias; the registry imports it before any alias moves
(``cairn.registry.guards.GUARD_MODULES``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete

from cairn.core import new_id, now_ms, settings
from cairn.errors import Conflict, InvalidInput
from cairn.evaluation.entities import Evaluation, Override, Policy
from cairn.evaluation.records import (
    CHAMPION,
    alias_target,
    latest_evaluation,
    model_id_of,
    override_from_row,
    overrides_query,
    policy_of,
)
from cairn.registry import ModelVersion, RegistryService, registry_service
from cairn.registry.guards import add_alias_guard
from cairn.store.schema import evaluation_overrides, evaluation_policies

ACTIONS = (CHAMPION, "deploy")


class GateFailed(Conflict):
    """A version may not be promoted or deployed: no passing, current evaluation."""


def set_policy(
    model: str,
    suite: Any = None,
    *,
    label: str | None = None,
    sensitive: Sequence[str] | None = None,
    registry: RegistryService | None = None,
) -> Policy:
    """Gate ``model``: its versions need a passing evaluation on ``suite`` (a Suite, a YAML
    path or a template name; by default the template for what its latest version predicts)."""
    from cairn.evaluation.context import task_of
    from cairn.evaluation.suite import load_suite
    from cairn.evaluation.templates import template_for

    registry = registry or registry_service()
    latest = registry.get_version(model)
    chosen = (
        template_for(task_of(latest.signature)) if suite is None else load_suite(suite)
    ).with_options(label=label, sensitive=sensitive)
    chosen.validate(task_of(latest.signature))
    row = {
        "model_id": registry.get_model(model).id,
        "suite_name": chosen.name,
        "suite": json.dumps(chosen.to_dict()),
        "suite_digest": chosen.digest,
        "updated_at": now_ms(),
        "updated_by": settings().user,
    }
    with registry.store.write() as conn:
        registry.store.upsert(conn, evaluation_policies, [row], ["model_id"])
    return get_policy(model, registry=registry)


def get_policy(model: str, *, registry: RegistryService | None = None) -> Policy | None:
    """The model's evaluation policy, or None: then its versions are not gated."""
    registry = registry or registry_service()
    model_id = registry.get_model(model).id
    with registry.store.read() as conn:
        return policy_of(conn, model_id)


def clear_policy(model: str, *, registry: RegistryService | None = None) -> None:
    registry = registry or registry_service()
    model_id = registry.get_model(model).id
    with registry.store.write() as conn:
        conn.execute(delete(evaluation_policies).where(evaluation_policies.c.model_id == model_id))


def require_passing_evaluation(
    version: str | ModelVersion,
    action: str = "deploy",
    override_reason: str | None = None,
    *,
    registry: RegistryService | None = None,
) -> Evaluation | Override | None:
    """The evaluation that lets ``version`` go ahead with ``action``, the recorded override
    that does, or None when its model has no policy; ``GateFailed`` otherwise."""
    registry = registry or registry_service()
    found = registry.get_version(version) if isinstance(version, str) else version
    with registry.store.write() as conn:
        return check_gate(conn, found, action, override_reason)


def check_gate(
    conn: Connection, version: ModelVersion, action: str, override_reason: str | None
) -> Evaluation | Override | None:
    """The gate in the caller's transaction (an override is recorded in it)."""
    if action not in ACTIONS:
        raise InvalidInput.for_field("action", action, f"one of {', '.join(ACTIONS)}")
    reason = _reason(override_reason)
    model_id = model_id_of(conn, version.id)
    policy = policy_of(conn, model_id)
    if policy is None:
        return None
    evaluation = latest_evaluation(conn, version.id, policy.suite_digest)
    problem = _problem(conn, version, model_id, policy, evaluation)
    if problem is None:
        return evaluation
    if reason is None:
        verb = "become champion" if action == CHAMPION else f"go ahead ({action})"
        raise GateFailed(
            f"{version.ref} cannot {verb}: {problem}. Evaluate it "
            f"(cairn evaluate {version.ref} --data ...), or override with a reason",
            field="version",
            value=version.ref,
        )
    row = {
        "id": new_id(),
        "version_id": version.id,
        "action": action,
        "reason": reason,
        "problem": problem,
        "evaluation_id": evaluation.id if evaluation else None,
        "created_at": now_ms(),
        "creator": settings().user,
    }
    conn.execute(evaluation_overrides.insert(), row)
    return override_from_row(version.ref, row)


def _reason(override_reason: str | None) -> str | None:
    if override_reason is None:
        return None
    if not isinstance(override_reason, str) or not override_reason.strip():
        raise InvalidInput.for_field(
            "override_reason", override_reason, "a sentence saying why the gate is overridden"
        )
    return override_reason.strip()


def _problem(
    conn: Connection,
    version: ModelVersion,
    model_id: str,
    policy: Policy,
    evaluation: Evaluation | None,
) -> str | None:
    """Why the gate refuses, or None when it lets the version through."""
    suite = f"suite {policy.suite_name!r} ({policy.suite_digest[:12]})"
    if evaluation is None:
        return f"it has no evaluation on {suite}, which the policy of {version.name!r} requires"
    when = evaluation.created_at.astimezone()
    if not evaluation.passed:
        failing = ", ".join(f"{c.name} ({c.verdict})" for c in evaluation.blocking_failures)
        return f"its latest evaluation {evaluation.id} on {suite} failed: {failing}"
    if CHAMPION in evaluation.compared_with:
        current = alias_target(conn, model_id, CHAMPION)
        compared = evaluation.compared_with[CHAMPION]
        if current not in (version.id, compared["id"] if compared else None):
            return (
                f"its latest evaluation {evaluation.id} ({when:%Y-%m-%d %H:%M}) compared it with "
                f"{compared['ref'] if compared else 'no champion'}, and the champion has moved "
                "since: evaluate it again"
            )
    return None


def overrides_of(
    version: str | ModelVersion, *, registry: RegistryService | None = None
) -> list[Override]:
    """Every gate override of a version, oldest first."""
    registry = registry or registry_service()
    found = registry.get_version(version) if isinstance(version, str) else version
    with registry.store.read() as conn:
        rows = conn.execute(overrides_query(found.id)).mappings().all()
    return [override_from_row(found.ref, row) for row in rows]


def _champion_guard(
    conn: Connection, version: ModelVersion, alias: str, override_reason: str | None
) -> None:
    check_gate(conn, version, CHAMPION, override_reason)


add_alias_guard(CHAMPION, _champion_guard)
