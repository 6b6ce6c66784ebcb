"""Bootstrap intervals and paired tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from sarlang.eval.significance import bootstrap_ci, paired_comparison, paired_mean_difference


def test_binomial_bootstrap_equals_resampling_items() -> None:
    rng = np.random.default_rng(1)
    outcomes = rng.random(400) < 0.7
    correct, n = int(outcomes.sum()), outcomes.size
    explicit = [outcomes[rng.integers(0, n, n)].mean() for _ in range(4000)]
    lo, hi = np.percentile(explicit, [2.5, 97.5])
    ours = bootstrap_ci(correct, n)
    assert ours[0] == pytest.approx(lo, abs=0.01) and ours[1] == pytest.approx(hi, abs=0.01)
    assert ours[0] < correct / n < ours[1]


def test_interval_edges() -> None:
    assert bootstrap_ci(10, 10) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_ci(0, 0)))
    assert bootstrap_ci(3, 10) == bootstrap_ci(3, 10)  # deterministic


def test_paired_comparison_and_mcnemar() -> None:
    a = [True] * 50 + [False] * 50
    b = [True] * 40 + [False] * 10 + [True] * 30 + [False] * 20
    result = paired_comparison(a, b)
    assert result["only_a_correct"] == 10 and result["only_b_correct"] == 30
    assert result["difference"] == pytest.approx(0.2)
    assert result["p_mcnemar"] == pytest.approx(binomtest(30, 40, 0.5).pvalue)
    assert result["ci95"][0] > 0 and result["p_bootstrap"] < 0.05
    same = paired_comparison(a, a)
    assert same["p_mcnemar"] == 1.0 and same["difference"] == 0


def test_paired_mean_difference() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(300)
    result = paired_mean_difference(a, a + 0.1)
    assert result["difference"] == pytest.approx(0.1)
    # no resample crosses zero: p is reported as the bound 2 / resamples, never as 0
    assert result["ci95"][0] == pytest.approx(0.1) and result["p_bootstrap"] == pytest.approx(2 / 2000) and result["p_bootstrap_is_bound"]
