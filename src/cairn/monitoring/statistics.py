"""Two-sample statistics for drift, computed from sorted arrays and category counts.

Each numeric column is sorted once; the Kolmogorov–Smirnov statistic and the Wasserstein
distance then come from one linear merge of the two sorted samples, and the PSI bins from a
binary search of the reference quantiles into each sorted sample. Categorical columns are
reduced to counts per category first, so every categorical statistic costs O(categories).
Nothing here divides by zero or takes the log of zero: empty bins are floored at ``PSI_FLOOR``
and zero shares are left out of the Jensen–Shannon sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Share given to an empty bin in PSI, so that a bin present on one side only stays finite.
PSI_FLOOR = 1e-4
PSI_BINS = 10
KS_EXACT_UP_TO = 10_000


@dataclass(frozen=True)
class NumericStatistics:
    ks: float
    ks_pvalue: float
    wasserstein: float  # divided by the reference standard deviation
    psi: float


@dataclass(frozen=True)
class CategoricalStatistics:
    chi2: float
    chi2_pvalue: float
    jensen_shannon: float
    psi: float


def numeric_statistics(reference: np.ndarray, current: np.ndarray) -> NumericStatistics:
    """KS, normalised Wasserstein and PSI between two sorted, non-empty, NaN-free samples.

    The reference must not be constant (its standard deviation normalises the distance)."""
    n_ref, n_cur = len(reference), len(current)
    # Merge the two sorted samples: each current value lands after the reference values <= it.
    at = np.arange(n_cur) + np.searchsorted(reference, current, side="right")
    from_ref = np.ones(n_ref + n_cur, dtype=bool)
    from_ref[at] = False
    merged = np.empty(n_ref + n_cur)
    merged[at] = current
    merged[from_ref] = reference
    # F_ref - F_cur at each merged point, with n_ref * F_ref = reference values so far.
    gap = np.cumsum(from_ref, dtype=np.float64)
    gap *= 1 / n_ref + 1 / n_cur
    gap -= np.arange(1, len(merged) + 1, dtype=np.float64) / n_cur
    gap = np.abs(gap[:-1], out=gap[:-1])
    steps = np.diff(merged)
    # Tied values: only the last of a run of equal values is a point of both ECDFs.
    ks = float(gap[steps > 0].max(initial=0.0))
    # Not np.dot: BLAS wakes its thread pool for it, slower than the sum on a busy machine.
    wasserstein = float(np.sum(gap * steps)) / float(np.std(reference))
    ks_pvalue = _ks_pvalue(ks, round(n_ref * n_cur / (n_ref + n_cur)))
    edges = reference[(np.arange(1, PSI_BINS) * n_ref) // PSI_BINS]
    edges = np.unique(edges)
    psi = population_stability(_bin_counts(reference, edges), _bin_counts(current, edges))
    return NumericStatistics(ks, ks_pvalue, wasserstein, psi)


def _ks_pvalue(statistic: float, effective_n: int) -> float:
    # The exact distribution is slow to evaluate past ~10,000 (half a second at 500,000),
    # where its limit (Kolmogorov's) is within 1e-3 of it.
    if effective_n <= KS_EXACT_UP_TO:
        return float(stats.kstwo.sf(statistic, max(effective_n, 1)))
    return float(stats.kstwobign.sf(statistic * np.sqrt(effective_n)))


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e1], (e1, e2], …, (ek, inf) of a sorted sample."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [len(sorted_values)]]))


def categorical_statistics(reference: np.ndarray, current: np.ndarray) -> CategoricalStatistics:
    """Chi-square (2 x k contingency), Jensen–Shannon distance (natural log) and PSI between two
    count vectors over the same categories, both with a positive total."""
    ref_share = reference / reference.sum()
    cur_share = current / current.sum()
    chi2, pvalue = _chi_square(np.vstack([reference, current]).astype(np.float64))
    return CategoricalStatistics(
        chi2=chi2,
        chi2_pvalue=pvalue,
        jensen_shannon=_jensen_shannon(ref_share, cur_share),
        psi=population_stability(reference, current),
    )


def _chi_square(table: np.ndarray) -> tuple[float, float]:
    table = table[:, table.sum(axis=0) > 0]  # a category neither side has tells nothing
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2

    def divergence(x: np.ndarray) -> float:
        present = x > 0
        return float(np.sum(x[present] * np.log(x[present] / m[present])))

    return float(np.sqrt(max((divergence(p) + divergence(q)) / 2, 0.0)))


def population_stability(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI = sum((cur - ref) * ln(cur / ref)) over bins, shares floored at ``PSI_FLOOR``."""
    ref = np.maximum(reference_counts / reference_counts.sum(), PSI_FLOOR)
    cur = np.maximum(current_counts / current_counts.sum(), PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))
