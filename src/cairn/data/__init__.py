"""Data versioning: content-addressed dataset snapshots, schemas, profiles, diffs, validation.

``snapshot`` records a DataFrame, Arrow table, file or folder as the next version of a dataset;
``load`` and ``get_version`` find it again by ``name@3``, ``name@latest``, ``name`` or digest;
``diff`` compares two versions; ``infer_schema`` and ``validate`` check data against rules kept
as YAML. ``ActiveRun.log_input(version)`` records that a run read a version, and
``runs_that_read`` / ``inputs_of`` follow that lineage both ways.

Validation loads pandas and pandera, so its names are imported on first use: reading records
(as the CLI does) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from cairn.data.diff import CategoryChange, DatasetDiff, FileChange, SchemaChange, StatChange
from cairn.data.entities import (
    ColumnProfile,
    ColumnSchema,
    Dataset,
    DatasetVersion,
    Kind,
    RunInput,
)
from cairn.data.versions import (
    DataService,
    data_service,
    diff,
    get_version,
    inputs_of,
    list_datasets,
    list_versions,
    load,
    runs_that_read,
    snapshot,
)

_VALIDATION = ("ColumnRule", "Schema", "ValidationReport", "Violation", "infer_schema", "validate")


def __getattr__(name: str) -> Any:
    if name in _VALIDATION:
        return getattr(importlib.import_module("cairn.data.validation"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CategoryChange",
    "ColumnProfile",
    "ColumnRule",
    "ColumnSchema",
    "DataService",
    "Dataset",
    "DatasetDiff",
    "DatasetVersion",
    "FileChange",
    "Kind",
    "RunInput",
    "Schema",
    "SchemaChange",
    "StatChange",
    "ValidationReport",
    "Violation",
    "data_service",
    "diff",
    "get_version",
    "infer_schema",
    "inputs_of",
    "list_datasets",
    "list_versions",
    "load",
    "runs_that_read",
    "snapshot",
    "validate",
]
