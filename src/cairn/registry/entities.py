"""What the registry records: registered models, versions, alias moves, approvals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cairn.registry.signature import Signature


class Record:
    """``to_dict`` for JSON: dataclass fields, times as ISO text."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)  # type: ignore[call-overload]
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


@dataclass(frozen=True)
class RegisteredModel(Record):
    id: str
    name: str
    description: str | None
    tags: dict[str, str]
    created_at: datetime
    creator: str
    archived_at: datetime | None = None
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version number


@dataclass(frozen=True)
class ModelVersion(Record):
    id: str
    name: str
    version: int
    run_id: str
    flavour: str
    artifact_path: str
    digest: str
    size: int
    trusted_types: list[str]
    signature: Signature
    environment: dict[str, Any]  # python_version, platform, packages {name: version}
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]
    description: str | None
    created_at: datetime
    creator: str
    archived_at: datetime | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``name/version``, as ``cairn.models.load`` takes it."""
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["ref"] = self.ref
        return data


@dataclass(frozen=True)
class AliasMove(Record):
    name: str
    alias: str
    from_version: int | None  # None: the alias was new
    to_version: int | None  # None: the alias was removed
    moved_at: datetime
    moved_by: str


@dataclass(frozen=True)
class ApprovalRequest(Record):
    id: str
    ref: str
    requested_by: str
    requested_at: datetime
    status: str  # open, approved, rejected


@dataclass(frozen=True)
class Approval(Record):
    id: str
    ref: str
    reviewer: str
    decision: str  # approve or reject
    comment: str | None
    created_at: datetime
