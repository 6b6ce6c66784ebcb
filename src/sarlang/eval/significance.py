"""Uncertainty of accuracies and significance of differences between two models.

The bootstrap of a mean of 0/1 outcomes resamples n items with replacement; the number of
correct items in a resample is then exactly Binomial(n, p) (p the observed accuracy), so we
draw that count directly instead of resampling item lists: the same distribution, in
microseconds at any n. Paired resampling of two models works the same way with the
multinomial over the four (A right/wrong) x (B right/wrong) cells (Efron and Tibshirani,
"An Introduction to the Bootstrap", 1993). McNemar's exact test (McNemar 1947) is the
binomial test on the discordant pairs.

A bootstrap p-value cannot be smaller than its resolution: when no resample crosses zero, the
two-sided p is below 2 / resamples, and is reported as that bound with ``p_bootstrap_is_bound``
true (printed ``p < 2e-04`` for 10,000 resamples), never as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def bootstrap_ci(correct: int, n: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% percentile bootstrap interval of an accuracy ``correct / n`` (NaNs when n = 0)."""
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, correct / n, size=resamples) / n
    low, high = np.percentile(means, [2.5, 97.5])
    return (float(low), float(high))


def paired_comparison(a: Sequence[bool], b: Sequence[bool], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Compare two models' correctness on the same items.

    Returns accuracies, their difference (B - A) with a 95% paired-bootstrap interval and a
    two-sided bootstrap p-value, and McNemar's exact p-value.
    """
    from scipy.stats import binomtest

    av = np.asarray(a, dtype=bool)
    bv = np.asarray(b, dtype=bool)
    if av.shape != bv.shape:
        raise ValueError("paired comparison needs the same items for both models")
    n = int(av.size)
    both = int(np.sum(av & bv))
    only_a = int(np.sum(av & ~bv))
    only_b = int(np.sum(~av & bv))
    neither = n - both - only_a - only_b
    diff = (only_b - only_a) / n if n else float("nan")
    result: dict[str, Any] = {
        "n": n,
        "accuracy_a": float(av.mean()) if n else float("nan"),
        "accuracy_b": float(bv.mean()) if n else float("nan"),
        "difference": diff,
        "both_correct": both,
        "only_a_correct": only_a,
        "only_b_correct": only_b,
        "both_wrong": neither,
    }
    if n:
        rng = np.random.default_rng(seed)
        cells = rng.multinomial(n, np.array([both, only_a, only_b, neither]) / n, size=resamples)
        diffs = (cells[:, 2] - cells[:, 1]) / n
        low, high = np.percentile(diffs, [2.5, 97.5])
        result["ci95"] = [float(low), float(high)]
        if only_a + only_b:
            result.update(_bootstrap_p(diffs))
        else:
            result.update(p_bootstrap=1.0, p_bootstrap_is_bound=False)
    discordant = only_a + only_b
    result["p_mcnemar"] = float(binomtest(only_b, discordant, 0.5).pvalue) if discordant else 1.0
    return result


def paired_mean_difference(a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Paired bootstrap of the difference of means (B - A) of per-item scores, e.g. per-image CIDEr."""
    av = np.asarray(a, dtype=float)
    bv = np.asarray(b, dtype=float)
    n = av.size
    d = bv - av
    rng = np.random.default_rng(seed)
    boots = np.empty(resamples)
    for start in range(0, resamples, 200):  # bounded memory for large n
        stop = min(resamples, start + 200)
        idx = rng.integers(0, n, size=(stop - start, n))
        boots[start:stop] = d[idx].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5])
    return {"n": int(n), "mean_a": float(av.mean()), "mean_b": float(bv.mean()), "difference": float(d.mean()),
            "ci95": [float(low), float(high)], **_bootstrap_p(boots)}


def _bootstrap_p(differences: np.ndarray) -> dict[str, Any]:
    """Two-sided bootstrap p of a difference being 0, or its bound at the bootstrap's resolution."""
    tail = min(int(np.sum(differences <= 0)), int(np.sum(differences >= 0)))
    if tail == 0:
        return {"p_bootstrap": 2.0 / differences.size, "p_bootstrap_is_bound": True}
    return {"p_bootstrap": min(1.0, 2.0 * tail / differences.size), "p_bootstrap_is_bound": False}


def format_p(p: float, is_bound: bool = False) -> str:
    """``p = 0.0123``, or ``p < 2e-04`` when ``p`` is a bound at the bootstrap's resolution."""
    return f"p < {p:.0e}" if is_bound else f"p = {p:.4g}"
