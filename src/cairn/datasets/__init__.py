"""Synthetic data sets shipped with cairn, so demos and tests need no downloads.

``make_credit_applications`` generates seeded loan applications with a default label, sensitive
attributes for fairness checks, and a ``drift`` knob for monitoring. The ``CREDIT_*`` constants
name its columns so callers need not hard-code them.
"""

from __future__ import annotations

from cairn.datasets import credit
from cairn.datasets.credit import make_credit_applications

CREDIT_FEATURES = credit.FEATURES
CREDIT_NUMERIC = credit.NUMERIC
CREDIT_CATEGORICAL = credit.CATEGORICAL
CREDIT_LABEL = credit.LABEL
CREDIT_SENSITIVE = credit.SENSITIVE
CREDIT_DRIFTING = credit.DRIFTING

__all__ = [
    "CREDIT_CATEGORICAL",
    "CREDIT_DRIFTING",
    "CREDIT_FEATURES",
    "CREDIT_LABEL",
    "CREDIT_NUMERIC",
    "CREDIT_SENSITIVE",
    "credit",
    "make_credit_applications",
]
