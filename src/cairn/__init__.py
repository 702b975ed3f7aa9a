"""cairn: an MLOps platform that carries a team up the maturity ladder, measured.

The public SDK: ``cairn.start_run`` and the logging shortcuts act on the active run,
``cairn.Client`` reads what was stored, ``cairn.autolog`` records scikit-learn fits,
``cairn.evaluation`` runs evaluation suites and gates promotion.
"""

# cairn.evaluation adds the promotion gate to the registry's champion alias on import
from cairn import errors, evaluation
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
