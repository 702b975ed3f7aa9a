"""Model registry: registered models, numbered versions, aliases, approvals and lineage.

``run.log_model(model, name=..., input_example=...)`` or ``register(run_id, name, model=...)``
store a model (skops, never pickle) as an artifact of its run and register its next version,
with the run's params, metrics, environment and dataset inputs, and a signature inferred from
the example. Refs: ``name/3``, ``name@champion``, ``name@latest``. ``cairn.models.load(ref)``
gives a model whose ``predict`` checks its input against the signature.
"""

from __future__ import annotations

import os
from typing import Any

from cairn.registry import approvals as _approvals
from cairn.registry import packaging as _packaging
from cairn.registry.entities import (
    AliasMove,
    Approval,
    ApprovalRequest,
    ModelVersion,
    RegisteredModel,
)
from cairn.registry.loaded import LoadedModel
from cairn.registry.refs import Ref, parse_ref
from cairn.registry.service import RegistryService, registry_service
from cairn.registry.signature import ColumnSpec, Signature, infer_signature


def register(
    run_id: str, name: str, *, model: Any, input_example: Any = None, **options: Any
) -> ModelVersion:
    """Register ``model``, trained in run ``run_id``, as the next version of ``name``.

    ``options``: ``description`` and ``tags`` (a mapping) of the version.
    """
    return registry_service().register(
        run_id, name, model=model, input_example=input_example, **options
    )


def get_model(name: str) -> RegisteredModel:
    return registry_service().get_model(name)


def list_models(*, include_archived: bool = False) -> list[RegisteredModel]:
    return registry_service().list_models(include_archived=include_archived)


def get_version(ref: str) -> ModelVersion:
    return registry_service().get_version(ref)


def list_versions(name: str) -> list[ModelVersion]:
    return registry_service().list_versions(name)


def update_model(name: str, **changes: Any) -> RegisteredModel:
    return registry_service().update_model(name, **changes)


def update_version(ref: str, **changes: Any) -> ModelVersion:
    return registry_service().update_version(ref, **changes)


def archive_model(name: str) -> RegisteredModel:
    return registry_service().archive_model(name)


def archive_version(ref: str) -> ModelVersion:
    return registry_service().archive_version(ref)


def set_alias(
    name: str, alias: str, version: int, *, override_reason: str | None = None
) -> AliasMove:
    """Point ``name@alias`` at ``version``; ``override_reason`` passes a guard, recorded."""
    return registry_service().set_alias(name, alias, version, override_reason=override_reason)


def delete_alias(name: str, alias: str) -> AliasMove:
    return registry_service().delete_alias(name, alias)


def alias_history(name: str, alias: str | None = None) -> list[AliasMove]:
    return registry_service().alias_history(name, alias)


def load(ref: str) -> LoadedModel:
    return registry_service().load(ref)


def lineage(ref: str) -> dict[str, Any]:
    return registry_service().lineage(ref)


def versions_from_dataset(dataset_version: Any) -> list[ModelVersion]:
    return registry_service().versions_from_dataset(dataset_version)


def request_approval(ref: str) -> ApprovalRequest:
    return _approvals.request_approval(registry_service(), ref)


def approve(ref: str, comment: str | None = None) -> Approval:
    return _approvals.review(registry_service(), ref, "approve", comment)


def reject(ref: str, comment: str | None = None) -> Approval:
    return _approvals.review(registry_service(), ref, "reject", comment)


def approvals_of(ref: str) -> list[Approval]:
    return _approvals.approvals_of(registry_service(), ref)


def is_approved(version: str | ModelVersion) -> bool:
    ref = version.ref if isinstance(version, ModelVersion) else version
    return _approvals.is_approved(registry_service(), ref)


def package(ref: str, out: str | os.PathLike) -> os.PathLike:
    return _packaging.package(registry_service(), ref, out)


__all__ = [
    "AliasMove",
    "Approval",
    "ApprovalRequest",
    "ColumnSpec",
    "LoadedModel",
    "ModelVersion",
    "Ref",
    "RegisteredModel",
    "RegistryService",
    "Signature",
    "alias_history",
    "approvals_of",
    "approve",
    "archive_model",
    "archive_version",
    "delete_alias",
    "get_model",
    "get_version",
    "infer_signature",
    "is_approved",
    "lineage",
    "list_models",
    "list_versions",
    "load",
    "package",
    "parse_ref",
    "register",
    "registry_service",
    "reject",
    "request_approval",
    "set_alias",
    "update_model",
    "update_version",
    "versions_from_dataset",
]
