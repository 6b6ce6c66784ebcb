"""CIDEr exactly as pycocoevalcap 1.2 computes it (the CIDEr-D variant).

Vedantam, Zitnick and Parikh, "CIDEr: Consensus-based image description evaluation", CVPR 2015.
pycocoevalcap's ``Cider`` is CIDEr-D: tf-idf n-gram vectors (n = 1..4) with document
frequencies taken from the references of the scored corpus and ``log(number of images)`` as the
idf numerator; the hypothesis weight clipped to the reference's (``min(h, r) * r``); cosine
normalisation; a Gaussian penalty on the length difference with ``sigma = 6``, where "length"
is the number of bigrams (pycocoevalcap's quirk, kept); the mean over orders, averaged over
the references and multiplied by 10. The corpus score is the mean of the per-image scores.
"""

from __future__ import annotations

import numpy as np

from sarlang.eval.ngrams import NgramCorpus, NgramTable


def _document_frequency(table: NgramTable) -> np.ndarray:
    """For each row, the number of images whose references contain its n-gram."""
    has_ref = np.maximum.reduceat(table.is_ref.astype(np.int64), table.block_start)
    block_gram = table.gram[table.block_start]
    gram_start = np.flatnonzero(np.concatenate(([True], block_gram[1:] != block_gram[:-1])))
    df_of_gram = np.add.reduceat(has_ref, gram_start)
    gram_of_block = np.repeat(np.arange(len(gram_start)), np.diff(np.append(gram_start, len(block_gram))))
    return df_of_gram[gram_of_block[table.block_of_row]].astype(np.float64)


def cider_similarity(corpus: NgramCorpus, table: NgramTable, sigma: float = 6.0) -> np.ndarray:
    """Length-penalised cosine similarity of one order, per reference sentence (hypothesis of its image vs it)."""
    refs = corpus.ref_sentences
    if not len(table.count) or corpus.n_images == 0:
        return np.zeros(len(refs))
    hyp_of_ref = corpus.hyp_sentence[corpus.owner[refs]]
    idf_numerator = np.log(float(corpus.n_images))
    weight = table.count * (idf_numerator - np.log(np.maximum(1.0, _document_frequency(table))))
    norm = np.sqrt(np.bincount(table.sentence, weights=weight**2, minlength=corpus.n_sentences))
    first = table.block_start[table.block_of_row]
    is_ref = table.is_ref
    hyp_weight = np.where(is_ref[first], 0.0, weight[first])[is_ref]
    ref_weight = weight[is_ref]
    overlap = np.minimum(hyp_weight, ref_weight) * ref_weight
    # astype: bincount of no rows returns integers.
    val = np.bincount(table.sentence[is_ref], weights=overlap, minlength=corpus.n_sentences).astype(np.float64)[refs]
    norm_hyp = norm[hyp_of_ref]
    norm_ref = norm[refs]
    both = (norm_hyp != 0) & (norm_ref != 0)
    val[both] /= norm_hyp[both] * norm_ref[both]
    # pycocoevalcap's "length": the term frequency summed over bigrams only.
    length = np.maximum(corpus.lengths - 1, 0).astype(np.float64)
    delta = length[hyp_of_ref] - length[refs]
    return val * np.e ** (-(delta**2) / (2 * sigma**2))


def cider_scores(corpus: NgramCorpus, similarity: np.ndarray) -> tuple[float, np.ndarray]:
    """Corpus CIDEr and per-image CIDEr from :func:`cider_similarity` of every order, shape (orders, references)."""
    if corpus.n_images == 0:
        return float("nan"), np.zeros(0)
    first_ref = np.concatenate(([0], np.cumsum(corpus.ref_count)[:-1]))
    per_image = np.add.reduceat(similarity, first_ref, axis=1).mean(axis=0) / corpus.ref_count * 10.0
    return float(np.mean(per_image)), per_image
