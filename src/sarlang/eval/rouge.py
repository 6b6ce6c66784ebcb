"""ROUGE-L exactly as pycocoevalcap 1.2 computes it.

Lin, "ROUGE: A package for automatic evaluation of summaries", ACL workshop 2004.
pycocoevalcap's variant: tokens from ``str.split(" ")`` (so repeated spaces give empty
tokens), the longest common subsequence (LCS) with each reference, the maximum precision and
maximum recall over the references (taken separately), and the F-measure with ``beta = 1.2``.
The corpus score is the mean of the per-image scores.

The LCS length is computed with the bit-parallel algorithm of Allison and Dix (1986) in the
form of Hyyrö (2004): one big-integer addition per token of the shorter sequence instead of
pycocoevalcap's quadratic Python table, with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BETA = 1.2


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    get = masks.get
    for token in b:
        m = get(token)
        if m:
            u = v & m
            v = (v + u) | (v - u)
    return len(a) - (v & full).bit_count()


def rouge_l_sentence(candidate: str, references: Sequence[str], beta: float = BETA) -> float:
    """ROUGE-L F-measure of one candidate against its references."""
    tokens_c = candidate.split(" ")
    best_precision = 0.0
    best_recall = 0.0
    for reference in references:
        tokens_r = reference.split(" ")
        lcs = lcs_length(tokens_r, tokens_c)
        best_precision = max(best_precision, lcs / float(len(tokens_c)))
        best_recall = max(best_recall, lcs / float(len(tokens_r)))
    if best_precision != 0 and best_recall != 0:
        return ((1 + beta**2) * best_precision * best_recall) / float(best_recall + beta**2 * best_precision)
    return 0.0


def rouge_l_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[float, np.ndarray]:
    """Corpus ROUGE-L (mean over images) and per-image ROUGE-L."""
    per_image = np.fromiter(
        (rouge_l_sentence(h, refs) for h, refs in zip(hypotheses, references)), dtype=np.float64, count=len(hypotheses)
    )
    return float(np.mean(per_image)) if len(per_image) else float("nan"), per_image
