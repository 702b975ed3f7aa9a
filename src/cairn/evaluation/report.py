"""The HTML report of an evaluation: a verdict per check, and the plots people read faster
than numbers — ROC and precision-recall curves, calibration curve and confusion matrix (or
predicted against actual for a regressor), per-group and per-slice bars, and the candidate
against the champion and previous version. One self-contained file: plots are PNG inlined as
base64, so it opens anywhere and is stored as one artifact.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import numpy as np

from cairn.evaluation.entities import CheckResult, Evaluation, Verdict

COLOURS = {
    Verdict.PASSED: "#1a7f37",
    Verdict.FAILED: "#cf222e",
    Verdict.ERRORED: "#9a6700",
    Verdict.SKIPPED: "#6e7781",
}
MAX_SCATTER = 5000
MAX_CURVE_POINTS = 2000
MAX_SLICE_BARS = 20

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1f2328; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
td, th { border-bottom: 1px solid #d0d7de; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
.verdict { font-weight: 600; text-transform: uppercase; font-size: 0.8rem; }
.banner { padding: 0.8rem 1rem; border-radius: 6px; color: white; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
.plots figure { margin: 0; } .plots img { max-width: 520px; }
details pre { white-space: pre-wrap; font-size: 0.8rem; background: #f6f8fa; padding: 0.5rem; }
"""


def render(evaluation: Evaluation, ctx: Any) -> str:
    """The report as one HTML document."""
    import matplotlib

    matplotlib.use("Agg")
    sections = [_summary(evaluation), _checks_table(evaluation.checks)]
    plots = _model_plots(ctx) + _comparison_plots(evaluation, ctx)
    plots += _group_plots(evaluation.checks) + _slice_plots(evaluation.checks)
    sections.append("<h2>Plots</h2><div class='plots'>" + "".join(plots) + "</div>")
    sections.append(_details(evaluation.checks))
    title = f"Evaluation of {evaluation.ref} on {evaluation.dataset}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )


def _summary(evaluation: Evaluation) -> str:
    colour = COLOURS[Verdict.PASSED if evaluation.passed else Verdict.FAILED]
    verdict = "PASSED" if evaluation.passed else "FAILED"
    counts = ", ".join(f"{n} {v}" for v, n in evaluation.counts().items() if n)
    compared = ", ".join(
        f"{role}: {found['ref'] if found else 'none'}"
        for role, found in evaluation.compared_with.items()
    )
    return (
        f"<p class='banner' style='background:{colour}'>{verdict}: {counts}</p>"
        f"<p>Suite <b>{html.escape(evaluation.suite_name)}</b> "
        f"(<code>{evaluation.suite_digest[:12]}</code>), {evaluation.row_count:,} rows, "
        f"evaluation <code>{evaluation.id}</code> by {html.escape(evaluation.creator)} at "
        f"{evaluation.created_at:%Y-%m-%d %H:%M:%S %Z}. Compared with: {html.escape(compared or 'none')}.</p>"
    )


def _checks_table(checks: list[CheckResult]) -> str:
    rows = "".join(
        "<tr>"
        f"<td class='verdict' style='color:{COLOURS[c.verdict]}'>{c.verdict}</td>"
        f"<td>{html.escape(c.name)}{'' if c.blocking else ' <i>(advisory)</i>'}</td>"
        f"<td>{'' if c.value is None else f'{c.value:.4g}'}</td>"
        f"<td>{html.escape(c.threshold or '')}</td>"
        f"<td>{html.escape(c.message)}</td>"
        "</tr>"
        for c in checks
    )
    return (
        "<h2>Checks</h2><table><tr><th>verdict</th><th>check</th><th>value</th>"
        f"<th>threshold</th><th>why</th></tr>{rows}</table>"
    )


def _details(checks: list[CheckResult]) -> str:
    blocks = "".join(
        f"<details><summary>{html.escape(c.name)}</summary><pre>"
        f"{html.escape(json.dumps(c.to_dict()['detail'], indent=2))}</pre></details>"
        for c in checks
        if c.detail
    )
    return f"<h2>Details</h2>{blocks}"


def _figure(fig: Any, caption: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _model_plots(ctx: Any) -> list[str]:
    import matplotlib.pyplot as plt

    o = ctx.outcomes
    found = []
    if ctx.task == "binary":
        from sklearn.calibration import calibration_curve
        from sklearn.metrics import precision_recall_curve, roc_curve

        models = [(f"{ctx.version.ref} (candidate)", o)] + [
            (f"{version.ref} ({role})", outcomes) for role, version, outcomes in ctx.compared()
        ]
        fig, (roc, pr) = plt.subplots(1, 2, figsize=(9, 4))
        for name, outcomes in models:
            fpr, tpr, _ = roc_curve(outcomes.positive, outcomes.scores)
            roc.plot(*_thin(fpr, tpr), label=name)
            precision, recall, _ = precision_recall_curve(outcomes.positive, outcomes.scores)
            pr.plot(*_thin(recall, precision), label=name)
        roc.plot([0, 1], [0, 1], "--", color="grey")
        roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        pr.set(xlabel="recall", ylabel="precision", title="precision-recall")
        roc.legend(loc="lower right")
        found.append(_figure(fig, "ROC and precision-recall curves"))
        fig, (cal, cm) = plt.subplots(1, 2, figsize=(9, 4))
        observed, predicted = calibration_curve(
            o.positive, o.scores, n_bins=10, strategy="quantile"
        )
        cal.plot(predicted, observed, "o-")
        cal.plot([0, 1], [0, 1], "--", color="grey")
        cal.set(xlabel="mean predicted probability", ylabel="observed rate", title="calibration")
        _confusion(cm, o)
        found.append(_figure(fig, "calibration curve and confusion matrix"))
    elif ctx.task == "multiclass":
        fig, cm = plt.subplots(figsize=(5, 4))
        _confusion(cm, o)
        found.append(_figure(fig, "confusion matrix"))
    else:
        rng = np.random.default_rng(0)
        rows = rng.choice(len(o.y), size=min(MAX_SCATTER, len(o.y)), replace=False)
        fig, (scatter, hist) = plt.subplots(1, 2, figsize=(9, 4))
        scatter.scatter(o.y[rows], o.scores[rows], s=4, alpha=0.4)
        low, high = float(np.min(o.y)), float(np.max(o.y))
        scatter.plot([low, high], [low, high], "--", color="grey")
        scatter.set(xlabel="actual", ylabel="predicted", title="predicted against actual")
        hist.hist(o.scores - o.y, bins=50)
        hist.set(xlabel="residual (predicted - actual)", title="residuals")
        found.append(_figure(fig, "predictions against labels"))
    return found


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most about MAX_CURVE_POINTS points of a curve, its ends kept: a line drawn from
    100,000 points looks the same and takes far longer."""
    step = max(1, len(x) // MAX_CURVE_POINTS)
    keep = np.r_[np.arange(0, len(x), step), len(x) - 1]
    return x[keep], y[keep]


def _confusion(ax: Any, o: Any) -> None:
    k = len(o.classes)
    matrix = np.bincount(o.codes * k + o.predicted_codes, minlength=k * k).reshape(k, k)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):  # k * k cells: a handful
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=8, color=colour)
    ticks = [str(c) for c in o.classes]
    ax.set_xticks(range(k), ticks, rotation=45)
    ax.set_yticks(range(k), ticks)
    ax.set(xlabel="predicted", ylabel="actual", title=f"confusion matrix (threshold {o.threshold})")


def _comparison_plots(evaluation: Evaluation, ctx: Any) -> list[str]:
    import matplotlib.pyplot as plt

    found = []
    for check in evaluation.checks:
        comparisons = check.detail.get("comparisons", {}) if check.kind == "regression" else {}
        judged = {r: c for r, c in comparisons.items() if "difference" in c}
        if not judged:
            continue
        fig, ax = plt.subplots(figsize=(5, 0.6 + 0.6 * len(judged)))
        labels = [f"vs {role} {c['ref']}" for role, c in judged.items()]
        diffs = [c["difference"] for c in judged.values()]
        errors = [
            [
                d - (c["ci_low"] if c["ci_low"] is not None else d)
                for d, c in zip(diffs, judged.values(), strict=True)
            ],
            [
                (c["ci_high"] if c["ci_high"] is not None else d) - d
                for d, c in zip(diffs, judged.values(), strict=True)
            ],
        ]
        colours = [COLOURS[Verdict(c["verdict"])] for c in judged.values()]
        ax.barh(labels, diffs, xerr=errors, color=colours, capsize=4)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set(xlabel=f"{check.detail['metric']}: candidate - reference (positive: better)")
        found.append(_figure(fig, f"candidate against earlier versions: {check.name}"))
    return found


def _group_plots(checks: list[CheckResult]) -> list[str]:
    import matplotlib.pyplot as plt

    found, drawn = [], set()
    for check in checks:
        if check.kind != "fairness":
            continue
        for attribute, result in check.detail.get("attributes", {}).items():
            if attribute in drawn:  # several fairness checks share the per-group rates
                continue
            drawn.add(attribute)
            groups = result["groups"]
            shown = [
                k
                for k in ("selection_rate", "true_positive_rate", "false_positive_rate")
                if any(k in g for g in groups.values())
            ]
            shown = shown or [result["metric"]]
            fig, ax = plt.subplots(figsize=(5, 3.2))
            width = 0.8 / len(shown)
            names = list(groups)
            for i, key in enumerate(shown):
                values = [groups[g].get(key) or 0.0 for g in names]
                ax.bar(
                    np.arange(len(names)) + i * width, values, width, label=key.replace("_", " ")
                )
            ax.set_xticks(np.arange(len(names)) + width * (len(shown) - 1) / 2, names, rotation=30)
            ax.set(title=f"per group of {attribute}")
            ax.legend(fontsize=7)
            found.append(_figure(fig, f"per-group rates of {attribute}"))
    return found


def _slice_plots(checks: list[CheckResult]) -> list[str]:
    import matplotlib.pyplot as plt

    found = []
    for check in checks:
        slices = check.detail.get("slices") if check.kind == "slices" else None
        if not slices:
            continue
        worst = slices[:MAX_SLICE_BARS]
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.28 * len(worst)))
        labels = [f"{s['feature']}={s['slice']} (n={s['size']:,})" for s in worst]
        colours = [COLOURS[Verdict.PASSED if s["ok"] else Verdict.FAILED] for s in worst]
        ax.barh(labels[::-1], [s["value"] for s in worst][::-1], color=colours[::-1])
        ax.axvline(check.detail["overall"], color="black", linestyle="--", label="whole set")
        ax.set(xlabel=check.detail["metric"], title=f"worst {len(worst)} slices")
        ax.legend(fontsize=7)
        found.append(_figure(fig, check.name))
    return found
