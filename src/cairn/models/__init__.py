"""Loading models to predict with: ``cairn.models.load("credit-risk@champion")``.

A ref (``name/3``, ``name@alias``, ``name@latest``) loads from the registry; a path to a folder
written by ``cairn models package`` loads from that folder, without any store.
``compile_onnx(loaded)`` gives the same model as a checked ONNX graph, for fast serving;
``load_compiled(ref)`` does so for a registry version and stores the graph with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from cairn.models.compiled import compile_onnx, load_compiled
from cairn.registry import LoadedModel


def load(ref_or_path: str | os.PathLike) -> LoadedModel:
    """A ``LoadedModel`` whose ``predict`` checks its input against the signature."""
    if isinstance(ref_or_path, os.PathLike) or Path(str(ref_or_path), "model.json").is_file():
        from cairn.registry.packaging import load_package

        return load_package(ref_or_path)
    from cairn.registry import load as load_ref

    return load_ref(str(ref_or_path))


__all__ = ["LoadedModel", "compile_onnx", "load", "load_compiled"]
