"""Executors run pipeline steps: ``local`` worker processes (the default) or ``ray``.

Executors are registered by name and imported only when chosen, so Ray loads only for
``executor="ray"``. The choice is the ``executor`` argument, else ``CAIRN_EXECUTOR`` (``local``,
``ray``, or ``ray://host:port`` for a cluster), else ``local``.
"""

from __future__ import annotations

import importlib
import os

from cairn.errors import ConfigError, InvalidInput
from cairn.pipelines.executors.base import Executor, StepResult, StepTask

#: name -> "module:class"; the class is built with no arguments
_EXECUTORS: dict[str, str] = {
    "local": "cairn.pipelines.executors.local:LocalExecutor",
    "ray": "cairn.pipelines.executors.ray:RayExecutor",
}


def register_executor(name: str, target: str) -> None:
    """Make ``executor=name`` build the class ``target`` ("module:class")."""
    _EXECUTORS[name] = target


def get_executor(spec: str | Executor | None = None) -> Executor:
    """The executor ``spec`` names (an instance is returned as it is)."""
    if isinstance(spec, Executor):
        return spec
    from_setting = spec is None
    if spec is None:
        spec = os.environ.get("CAIRN_EXECUTOR") or "local"
    if isinstance(spec, str) and spec.startswith("ray://"):
        from cairn.pipelines.executors.ray import RayExecutor

        return RayExecutor(address=spec)
    target = _EXECUTORS.get(spec) if isinstance(spec, str) else None
    if target is None:
        error = ConfigError if from_setting else InvalidInput
        name = "CAIRN_EXECUTOR" if from_setting else "executor"
        raise error(
            f"{name}={spec!r} is unknown: use one of {', '.join(sorted(_EXECUTORS))}, "
            "ray://host:port or an Executor",
            field="executor",
            value=spec if isinstance(spec, str) else repr(spec),
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


__all__ = ["Executor", "StepResult", "StepTask", "get_executor", "register_executor"]
