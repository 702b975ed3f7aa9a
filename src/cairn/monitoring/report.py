"""The HTML report of a monitoring run: summary, the test of every column, and the reference
and current distributions of each column drawn side by side (PNG figures inside the page, so
the report is one self-contained file)."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cairn.monitoring import columns as col
from cairn.monitoring.drift import DriftReport, FeatureDrift
from cairn.monitoring.quality import QualityReport

#: Columns drawn at most (drifted first): each figure takes about 0.1 s to draw.
MAX_FIGURES = 40
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}.drifted{color:#b00;font-weight:bold}.ok{color:#070}
.muted{color:#888}figure{display:inline-block;margin:.5em}
"""


def render_html(
    title: str,
    drift: DriftReport,
    quality: QualityReport | None,
    performance: dict[str, float],
    reference: pd.DataFrame,
    current: pd.DataFrame,
) -> str:
    """The report as one HTML page."""
    verdict = {True: "drift detected", False: "no drift", None: "not tested"}[drift.drifted]
    share = "n/a" if drift.share_drifted is None else f"{drift.share_drifted:.0%}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        f"<p><b>{verdict}</b>: {len(drift.drifted_features)} of {len(drift.tested)} columns "
        f"drifted ({share}; the dataset drifts at {drift.drift_share:.0%}). "
        f"Reference {drift.reference_rows:,} rows, current {drift.current_rows:,} rows.</p>",
    ]
    if drift.multivariate is not None:
        parts.append(f"<p>Domain classifier ROC AUC: {drift.multivariate.auc:.3f}</p>")
    parts += [f"<p class='drifted'>{_e(p)}</p>" for p in drift.problems]
    parts.append("<h2>Drift per column</h2>" + _drift_table(drift.features + drift.prediction))
    if quality is not None:
        issues = "".join(f"<li>{_e(i)}</li>" for i in quality.issues) or "<li>none</li>"
        parts.append(f"<h2>Data quality</h2><ul>{issues}</ul>")
    if performance:
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{v:.4g}</td></tr>" for k, v in performance.items())
        parts.append(f"<h2>Live performance</h2><table>{rows}</table>")
    parts.append("<h2>Distributions: reference against current</h2>")
    drawn = sorted(
        (f for f in drift.features + drift.prediction if f.drifted is not None),
        key=lambda f: not f.drifted,
    )[:MAX_FIGURES]
    for feature in drawn:
        png = _figure(feature, reference[feature.column], current[feature.column])
        parts.append(
            f"<figure><img src='data:image/png;base64,{png}' alt='{_e(feature.column)}'>"
            f"<figcaption>{_e(feature.column)}</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def _drift_table(features: list[FeatureDrift]) -> str:
    head = (
        "<table><tr><th>column</th><th>type</th><th>status</th><th>test</th><th>value</th>"
        "<th>threshold</th><th>other statistics</th><th>nulls ref / cur</th><th>notes</th></tr>"
    )
    rows = []
    for f in features:
        others = ", ".join(f"{k} {v:.3g}" for k, v in f.values.items())
        nulls = " / ".join(
            "" if share is None else f"{share:.1%}"
            for share in (f.reference_missing, f.current_missing)
        )
        value = "" if f.statistic is None else f"{f.statistic:.4g}"
        limit = "" if f.threshold is None else f"{f.threshold:g}"
        css = {"drifted": "drifted", "ok": "ok"}.get(f.status, "muted")
        rows.append(
            f"<tr><td>{_e(f.column)}</td><td>{f.kind}</td><td class='{css}'>{f.status}</td>"
            f"<td>{f.method or ''}</td><td>{value}</td><td>{limit}</td><td>{_e(others)}</td>"
            f"<td>{nulls}</td><td>{_e('; '.join(f.notes))}</td></tr>"
        )
    return head + "".join(rows) + "</table>"


def _figure(feature: FeatureDrift, reference: pd.Series, current: pd.Series) -> str:
    """One column's two distributions as a base64 PNG. Drawing is most of a report's time, so
    each histogram is one outline (``stairs``, not a patch per bin) and the margins are fixed
    (``bbox_inches="tight"`` draws the figure twice): a third of the time it took."""
    figure = Figure(figsize=(4.2, 2.6))
    axes = figure.subplots()
    if feature.kind == "numeric":
        figure.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.12)
        ref, cur = col.sorted_values(reference), col.sorted_values(current)
        low, high = np.quantile(ref, [0.005, 0.995])
        low, high = min(low, cur[int(len(cur) * 0.005)]), max(high, cur[int(len(cur) * 0.995)])
        bins = np.linspace(low, high, 41) if high > low else np.linspace(low - 0.5, low + 0.5, 11)
        for values, label in ((ref, "reference"), (cur, "current")):
            heights, _ = np.histogram(values, bins=bins, density=True)
            axes.stairs(heights, bins, fill=True, alpha=0.5, label=label)
    else:
        figure.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.36)
        counts = _category_counts(feature, reference, current)
        positions = np.arange(len(counts))
        axes.bar(positions - 0.2, counts["reference"], 0.4, label="reference")
        axes.bar(positions + 0.2, counts["current"], 0.4, label="current")
        names = [_short(name) for name in counts.index]
        axes.set_xticks(positions, names, rotation=45, ha="right", fontsize=7)
    axes.set_title(f"{feature.column} ({feature.status})", fontsize=9)
    axes.legend(fontsize=7, loc="upper right")  # "best" searches the data: slow
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode()


def _short(name: Any, most: int = 14) -> str:
    """A category's name as it fits under the fixed margin of a figure."""
    text = str(name)
    return text if len(text) <= most else text[: most - 1] + "…"


def _category_counts(
    feature: FeatureDrift, reference: pd.Series, current: pd.Series
) -> pd.DataFrame:
    if col.is_numeric(reference):
        counts: Any = col.numeric_as_categories(
            col.sorted_values(reference), col.sorted_values(current)
        )
    else:
        counts = col.category_counts(reference, current)
    shares = pd.DataFrame(
        {
            "reference": counts.reference / max(counts.reference.sum(), 1),
            "current": counts.current / max(counts.current.sum(), 1),
        },
        index=counts.categories,
    )
    return shares.loc[shares.max(axis=1).sort_values(ascending=False).index[:15]]


def _e(text: str) -> str:
    return html.escape(str(text))
