"""BLEU-1..4 exactly as pycocoevalcap 1.2 computes it.

Papineni et al., "BLEU: a method for automatic evaluation of machine translation", ACL 2002.
pycocoevalcap's variant: sentences split on whitespace, clipped n-gram counts against the
maximum count over an image's references, the "closest" reference length for the brevity
penalty, and smoothing constants ``tiny = 1e-15`` and ``small = 1e-9``. The corpus score sums
the counts over all images first; the per-image scores apply the same formula to one image.
"""

from __future__ import annotations

import numpy as np

from sarlang.eval.ngrams import NgramCorpus, NgramTable

_TINY = 1e-15
_SMALL = 1e-9


def clipped_counts(table: NgramTable, n_images: int) -> np.ndarray:
    """Matched n-grams of one order per image, each clipped by its maximum count in any reference."""
    if not len(table.count):
        return np.zeros(n_images)
    ref_max = np.maximum.reduceat(np.where(table.is_ref, table.count, 0), table.block_start)
    hyp = ~table.is_ref
    clipped = np.minimum(table.count[hyp], ref_max[table.block_of_row[hyp]])
    return np.bincount(table.owner[hyp], weights=clipped, minlength=n_images)


def closest_ref_lengths(corpus: NgramCorpus) -> np.ndarray:
    """Per image, the reference length closest to the hypothesis length (ties: the shorter)."""
    if corpus.n_images == 0:
        return np.zeros(0, dtype=np.int64)
    refs = corpus.ref_sentences
    ref_len = corpus.lengths[refs]
    test_len = corpus.lengths[corpus.hyp_sentence][corpus.owner[refs]]
    # Lexicographic minimum of (|ref - test|, ref), as pycocoevalcap's min over tuples.
    scale = int(ref_len.max()) + 1
    key = np.abs(ref_len - test_len) * scale + ref_len
    first_ref = np.concatenate(([0], np.cumsum(corpus.ref_count)[:-1]))
    return np.minimum.reduceat(key, first_ref) % scale


def bleu_scores(corpus: NgramCorpus, correct: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Corpus BLEU-1..n and per-image BLEU-1..n (shape (orders, images)).

    ``correct`` holds the clipped counts (:func:`clipped_counts`), shape (images, orders).
    """
    n_orders = correct.shape[1]
    n = corpus.n_images
    test_len = corpus.lengths[corpus.hyp_sentence]
    ref_len = closest_ref_lengths(corpus)
    guess = np.maximum(0, test_len[:, None] - np.arange(n_orders)[None, :]).astype(np.float64)

    per_image = np.empty((n_orders, n))
    running = np.ones(n)
    for k in range(n_orders):
        running = running * ((correct[:, k] + _TINY) / (guess[:, k] + _SMALL))
        per_image[k] = running ** (1.0 / (k + 1))
    ratio = (test_len + _TINY) / (ref_len + _SMALL)
    short = ratio < 1
    if short.any():
        per_image[:, short] *= np.exp(1 - 1 / ratio[short])

    total_correct = correct.sum(axis=0)
    total_guess = guess.sum(axis=0)
    corpus_scores: list[float] = []
    running_total = 1.0
    for k in range(n_orders):
        running_total *= float(total_correct[k] + _TINY) / (total_guess[k] + _SMALL)
        corpus_scores.append(running_total ** (1.0 / (k + 1)))
    ratio_total = (float(test_len.sum()) + _TINY) / (float(ref_len.sum()) + _SMALL)
    if ratio_total < 1:
        corpus_scores = [s * float(np.exp(1 - 1 / ratio_total)) for s in corpus_scores]
    return corpus_scores, per_image
