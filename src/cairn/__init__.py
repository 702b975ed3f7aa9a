"""cairn: an MLOps platform that carries a team up the maturity ladder, measured.

The public SDK: ``cairn.start_run`` and the logging shortcuts act on the active run,
``cairn.Client`` reads what was stored, ``cairn.autolog`` records scikit-learn fits,
``cairn.evaluation`` runs evaluation suites and gates promotion.
"""

import importlib
from typing import Any

from cairn import errors
from cairn.pipelines import pipeline, step
from cairn.tracking import (
    ActiveRun,
    Client,
    active_run,
    end_run,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
    start_run,
)
from cairn.tracking.autolog import autolog

__version__ = "0.1.0"


#: Subpackages loaded on first use (``cairn.registry.get_version(...)`` needs no import of its
#: own): they load pandas or more, which a CLI command or a tracked script may never need.
_LAZY_SUBPACKAGES = {
    "data",
    "evaluation",
    "features",
    "models",
    "monitoring",
    "registry",
    "serving",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"cairn.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "Client",
    "__version__",
    "active_run",
    "autolog",
    "end_run",
    "errors",
    "evaluation",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "pipeline",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
]
