"""Paired bootstrap without a Python loop per resample.

A ``Resampler`` draws ``resamples`` index matrices of the evaluation rows (each row of a matrix
one resample of n row numbers), in chunks of about ``CHUNK_CELLS`` indices so memory stays
bounded; the same seed gives the same resamples to every check and every model, which is what
makes the comparison paired. Two statistics are computed per chunk with numpy alone:

- sums of per-row terms (``terms[idx].sum(axis=1)``), from which log loss, Brier score,
  accuracy, precision, recall, F1, RMSE, MAE and R² follow (see ``cairn.evaluation.metrics``);
- ROC AUC, from a histogram per resample of (score rank, label) built with one ``bincount``
  over the chunk, then a cumulative sum of negatives below each rank (the Mann-Whitney count).
  Scores with more than ``AUC_LEVELS`` distinct values are put into that many quantile levels
  (pairs within one level count one half, moving an AUC by about 1/AUC_LEVELS at most); the
  distribution is then shifted by the exact point estimate's difference, so the intervals are
  centred on the exact value.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK_CELLS = 2_000_000
AUC_LEVELS = 16_384


class Resampler:
    """``resamples`` bootstrap resamples of ``n`` rows, drawn again identically on each pass."""

    def __init__(self, n: int, resamples: int = 1000, seed: int = 0) -> None:
        self.n = n
        self.resamples = resamples
        self.seed = seed

    def chunks(self) -> Iterator[np.ndarray]:
        """Index matrices (b, n) of row numbers, b resamples at a time."""
        rng = np.random.default_rng(self.seed)
        per_chunk = max(1, CHUNK_CELLS // max(self.n, 1))
        for start in range(0, self.resamples, per_chunk):
            b = min(per_chunk, self.resamples - start)
            yield rng.integers(0, self.n, size=(b, self.n), dtype=np.int32)

    def sums(self, terms: list[np.ndarray]) -> list[np.ndarray]:
        """For each (n, k) array of per-row terms, its (resamples, k) sums over each resample."""
        out: list[list[np.ndarray]] = [[] for _ in terms]
        for idx in self.chunks():
            for found, values in zip(out, terms, strict=True):
                found.append(
                    np.stack(
                        [values[:, j][idx].sum(axis=1) for j in range(values.shape[1])], axis=1
                    )
                )
        return [np.concatenate(parts) for parts in out]

    def aucs(self, positive: np.ndarray, scores: list[np.ndarray]) -> list[np.ndarray]:
        """Each model's ROC AUC on every resample (binary labels ``positive``)."""
        from sklearn.metrics import roc_auc_score

        keys = [_rank_keys(positive, s) for s in scores]
        out: list[list[np.ndarray]] = [[] for _ in scores]
        for idx in self.chunks():
            b = idx.shape[0]
            for found, (key, levels) in zip(out, keys, strict=True):
                cells = key[idx]
                cells += (np.arange(b, dtype=np.int32) * (2 * levels))[:, None]
                counts = np.bincount(cells.ravel(), minlength=b * 2 * levels)
                found.append(_auc_of_histograms(counts.reshape(b, levels, 2)))
        # centre on the exact AUC (levels put near-equal scores together)
        shifts = [
            roc_auc_score(positive, s)
            - _auc_of_histograms(np.bincount(key, minlength=2 * levels).reshape(1, levels, 2))[0]
            for s, (key, levels) in zip(scores, keys, strict=True)
        ]
        return [np.concatenate(parts) + shift for parts, shift in zip(out, shifts, strict=True)]


def _auc_of_histograms(counts: np.ndarray) -> np.ndarray:
    """ROC AUC of each (levels, 2) histogram of negatives and positives per score level."""
    negatives, positives = counts[:, :, 0], counts[:, :, 1]
    below = np.cumsum(negatives, axis=1) - 0.5 * negatives
    wins = (positives * below).sum(axis=1)
    pairs = positives.sum(axis=1).astype(float) * negatives.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return wins / pairs


def _rank_keys(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Per row: 2 * (rank level of its score) + label, and the number of levels."""
    unique, inverse = np.unique(scores, return_inverse=True)
    levels = len(unique)
    if levels > AUC_LEVELS:
        # equal scores share a level: the level of their first (lowest) rank
        first = np.searchsorted(np.sort(scores), scores, side="left")
        inverse = first * AUC_LEVELS // len(scores)
        levels = AUC_LEVELS
    return (inverse.astype(np.int32) * 2 + positive.astype(np.int32)), levels


def interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval holding ``confidence`` of the (finite) resampled values."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
