"""Vectorised n-gram counts of a caption corpus, shared by BLEU and CIDEr.

pycocoevalcap counts n-grams sentence by sentence in Python dictionaries. Here every n-gram
occurrence of every sentence becomes an integer key, and one sort per order groups them by
(n-gram, image, sentence). BLEU's clipped counts and CIDEr's document frequencies and tf-idf
vectors are then reductions over contiguous runs of that sorted table, with exactly the
arithmetic pycocoevalcap does, so the scores agree with it to floating-point rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

# Keys stay below 2**62 so that a key times a sentence count never wraps around.
_KEY_LIMIT = 1 << 62
# A token no caption contains (checked), placed between sentences for a single split.
_BOUNDARY = "\x00\x01sentence-boundary\x01\x00"


@dataclass(frozen=True)
class NgramCorpus:
    """Hypotheses and references as integer token ids, image by image.

    Sentences are numbered image by image: the hypothesis of an image, then its references.
    Sorting anything by sentence index therefore sorts it by (image, hypothesis-first).
    """

    tokens: np.ndarray  # int64, all sentences concatenated
    lengths: np.ndarray  # int64, tokens per sentence
    owner: np.ndarray  # int64, image of each sentence
    is_ref: np.ndarray  # bool, True for references
    hyp_sentence: np.ndarray  # int64, sentence index of each image's hypothesis
    ref_count: np.ndarray  # int64, references per image
    vocab_size: int

    @property
    def n_images(self) -> int:
        return len(self.ref_count)

    @property
    def n_sentences(self) -> int:
        return len(self.lengths)

    @property
    def ref_sentences(self) -> np.ndarray:
        return np.flatnonzero(self.is_ref)


def ngram_corpus(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> NgramCorpus:
    """Split hypotheses and references (a list per image) on whitespace and map tokens to ids."""
    sentences: list[str] = []
    for hyp, refs in zip(hypotheses, references):
        sentences.append(hyp)
        sentences.extend(refs)
    text = "\n".join(sentences)
    if _BOUNDARY not in text:
        # One C-level split of the whole corpus, with a marker token between sentences.
        flat = f"\n{_BOUNDARY}\n".join(sentences).split()
        flat.append(_BOUNDARY)
        vocab = {token: i for i, token in enumerate(dict.fromkeys(flat))}
        ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        boundary = ids == vocab[_BOUNDARY]
        ends = np.flatnonzero(boundary)
        lengths = np.diff(np.concatenate(([-1], ends))) - 1
        tokens = ids[~boundary]
    else:
        split = [s.split() for s in sentences]
        flat = list(chain.from_iterable(split))
        vocab = {token: i for i, token in enumerate(dict.fromkeys(flat))}
        tokens = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    ref_count = np.fromiter(map(len, references), dtype=np.int64, count=len(references))
    per_image = ref_count + 1
    hyp_sentence = np.concatenate(([0], np.cumsum(per_image)[:-1])).astype(np.int64)
    n_sentences = int(per_image.sum())
    is_ref = np.ones(n_sentences, dtype=bool)
    is_ref[hyp_sentence] = False
    return NgramCorpus(
        tokens=tokens,
        lengths=lengths.astype(np.int64),
        owner=np.repeat(np.arange(len(references), dtype=np.int64), per_image),
        is_ref=is_ref,
        hyp_sentence=hyp_sentence,
        ref_count=ref_count,
        vocab_size=max(len(vocab), 1),
    )


@dataclass(frozen=True)
class NgramTable:
    """Occurrence counts of the n-grams of one order: one row per (n-gram, sentence).

    Rows are sorted by n-gram, then sentence, so each (n-gram, image) pair is a contiguous
    block whose first row is the hypothesis when the hypothesis contains that n-gram.
    """

    gram: np.ndarray
    sentence: np.ndarray
    count: np.ndarray
    owner: np.ndarray
    is_ref: np.ndarray
    block_start: np.ndarray  # first row of each (n-gram, image) block
    block_of_row: np.ndarray  # block index of each row


def _dense(keys: np.ndarray) -> np.ndarray:
    return np.unique(keys, return_inverse=True)[1].astype(np.int64).reshape(keys.shape)


def _runs(sorted_keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in a sorted array."""
    new = np.empty(len(sorted_keys), dtype=bool)
    if len(new):
        new[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return np.flatnonzero(new)


def _run_index(starts: np.ndarray, total: int) -> np.ndarray:
    return np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(np.append(starts, total)))


def ngram_keys(corpus: NgramCorpus, max_order: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """For orders 1..``max_order``: the key of every n-gram occurrence, its sentence, and a key bound.

    An n-gram's key is its token ids in base ``vocab_size`` (renumbered densely when that
    would overflow), so equal keys are equal n-grams; occurrences are those pycocoevalcap's
    ``precook`` counts (every window inside one sentence).
    """
    n_tokens = len(corpus.tokens)
    sentence_of_token = np.repeat(np.arange(corpus.n_sentences, dtype=np.int64), corpus.lengths)
    starts = np.concatenate(([0], np.cumsum(corpus.lengths)[:-1])).astype(np.int64)
    remaining = np.repeat(corpus.lengths + starts, corpus.lengths) - np.arange(n_tokens, dtype=np.int64)
    n_sentences = max(corpus.n_sentences, 1)
    out: list[tuple[np.ndarray, np.ndarray, int]] = []
    keys = corpus.tokens  # keys[i]: the n-gram starting at token i (where it fits in its sentence)
    key_max = corpus.vocab_size
    for order in range(1, max_order + 1):
        if order > 1:
            if key_max * corpus.vocab_size >= _KEY_LIMIT:
                keys = _dense(keys)
                key_max = len(keys) + 1
            keys = keys[:-1] * corpus.vocab_size + corpus.tokens[order - 1 :]
            key_max *= corpus.vocab_size
        fits = remaining[: len(keys)] >= order
        gram, gram_max = keys[fits], key_max
        if gram_max * n_sentences >= _KEY_LIMIT:
            gram = _dense(gram)
            gram_max = len(gram) + 1
        out.append((gram, sentence_of_token[: len(keys)][fits], gram_max))
    return out


def ngram_table(corpus: NgramCorpus, gram: np.ndarray, sentence: np.ndarray) -> NgramTable:
    """Count the occurrences of one order (from :func:`ngram_keys`) per (n-gram, sentence)."""
    n_sentences = max(corpus.n_sentences, 1)
    combined = gram * n_sentences + sentence
    combined.sort()
    first = _runs(combined)
    count = np.diff(np.append(first, len(combined)))
    gram_u, sentence_u = np.divmod(combined[first], n_sentences)
    owner_u = corpus.owner[sentence_u]
    block_start = _runs(gram_u * corpus.n_images + owner_u)
    return NgramTable(
        gram=gram_u,
        sentence=sentence_u,
        count=count,
        owner=owner_u,
        is_ref=corpus.is_ref[sentence_u],
        block_start=block_start,
        block_of_row=_run_index(block_start, len(gram_u)),
    )


def ngram_tables(corpus: NgramCorpus, max_order: int) -> list[NgramTable]:
    """Tables for orders 1..``max_order``, counted as pycocoevalcap's ``precook`` counts them."""
    return [ngram_table(corpus, gram, sentence) for gram, sentence, _ in ngram_keys(corpus, max_order)]
