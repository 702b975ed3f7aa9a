"""Monitoring: drift, data quality and live performance of models in production.

``drift(reference_df, current_df)`` compares two tables directly; monitors over the model
server's prediction log, their stored time series and alerts build on it.
"""

from cairn.monitoring.drift import METHODS, DomainClassifier, DriftReport, FeatureDrift, drift
from cairn.monitoring.quality import ColumnQuality, QualityReport, quality

__all__ = [
    "METHODS",
    "ColumnQuality",
    "DomainClassifier",
    "DriftReport",
    "FeatureDrift",
    "QualityReport",
    "drift",
    "quality",
]
