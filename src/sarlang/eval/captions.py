"""Caption metrics at corpus level: BLEU-1..4, METEOR, ROUGE-L and CIDEr.

Scores are those pycocoevalcap 1.2 computes (fractions; CIDEr as returned, on its usual
0–10 scale), under pycocoevalcap's key names. Two modes say what the strings are before
scoring, and every result records which one produced it:

``sarlang``
    SARLANG-1M's official ``Evaluate_caption.py``: the raw strings, no tokenisation and no
    lower-casing (BLEU and CIDEr split on whitespace, ROUGE-L on single spaces), BLEU, ROUGE-L
    and CIDEr only in the original; we add METEOR when it is available.
``coco``
    The COCO caption evaluation: every string PTB-tokenised first (:mod:`sarlang.eval.ptb`).

SPICE needs Stanford CoreNLP models downloaded at run time, so it is reported as unavailable.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sarlang.errors import SarlangError
from sarlang.eval.bleu import bleu_scores, clipped_counts
from sarlang.eval.cider import cider_scores, cider_similarity
from sarlang.eval.ngrams import ngram_corpus, ngram_keys, ngram_table
from sarlang.eval.rouge import rouge_l_scores

CAPTION_MODES: tuple[str, ...] = ("sarlang", "coco")
METRIC_NAMES: tuple[str, ...] = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
TOKENIZERS = {
    "sarlang": "none (raw strings; BLEU/CIDEr split on whitespace, ROUGE-L on single spaces)",
    "coco": "PTB (Stanford CoreNLP 3.4.1 PTBTokenizer, lower-cased, punctuation removed)",
}
SPICE_UNAVAILABLE = "SPICE needs Stanford CoreNLP models downloaded at run time; not available offline"

# Below this many images a worker process costs more than it saves.
_PARALLEL_ROUGE_MIN = 4000


@dataclass
class CaptionScores:
    """Corpus scores of one caption evaluation, with per-image scores in ``per_sample``."""

    mode: str
    tokenizer: str
    n: int
    scores: dict[str, float | None]
    unavailable: dict[str, str] = field(default_factory=dict)
    per_sample: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "tokenizer": self.tokenizer,
            "n": self.n,
            "scores": dict(self.scores),
            "unavailable": dict(self.unavailable),
        }


def _ngram_metrics(hyps: list[str], refs: list[list[str]]) -> tuple[list[float], np.ndarray, float, np.ndarray]:
    corpus = ngram_corpus(hyps, refs)
    keys = ngram_keys(corpus, 4)

    def one_order(order_keys: tuple[np.ndarray, np.ndarray, int]) -> tuple[np.ndarray, np.ndarray]:
        table = ngram_table(corpus, order_keys[0], order_keys[1])
        return clipped_counts(table, corpus.n_images), cider_similarity(corpus, table)

    # numpy releases the GIL in sorts and ufuncs, so the four orders run side by side.
    with ThreadPoolExecutor(max_workers=min(len(keys), os.cpu_count() or 1)) as pool:
        per_order = list(pool.map(one_order, keys))
    bleu, bleu_per = bleu_scores(corpus, np.stack([c for c, _ in per_order], axis=1))
    cider, cider_per = cider_scores(corpus, np.stack([s for _, s in per_order]))
    return bleu, bleu_per, cider, cider_per


_FORKED_INPUT: tuple[list[str], list[list[str]]] | None = None


def _rouge_of_forked_input() -> tuple[float, np.ndarray]:
    assert _FORKED_INPUT is not None
    return rouge_l_scores(*_FORKED_INPUT)


def _start_rouge(hyps: list[str], refs: list[list[str]]) -> tuple[Future | None, ProcessPoolExecutor | None]:
    """ROUGE-L is pure Python; on large corpora it runs in a forked process beside the n-gram work.

    The child inherits the captions through the fork instead of having them pickled to it.
    """
    global _FORKED_INPUT
    can_fork = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    if len(hyps) < _PARALLEL_ROUGE_MIN or (os.cpu_count() or 1) < 2 or not can_fork:
        return None, None
    _FORKED_INPUT = (hyps, refs)
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        future = pool.submit(_rouge_of_forked_input)  # the worker is forked here
    finally:
        _FORKED_INPUT = None
    return future, pool


def score_captions(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    mode: str = "sarlang",
    meteor: bool = True,
) -> CaptionScores:
    """Score captions against one or more references per image.

    Parameters
    ----------
    hypotheses:
        One generated caption per image.
    references:
        For each image, a non-empty list of reference captions.
    mode:
        ``sarlang`` (raw strings) or ``coco`` (PTB-tokenised first); see the module docstring.
    meteor:
        Compute METEOR with the METEOR 1.5 jar when Java and pycocoevalcap are present;
        otherwise (or when False) METEOR is ``None`` with the reason in ``unavailable``.
    """
    if mode not in CAPTION_MODES:
        raise SarlangError(f"unknown caption mode '{mode}'", hint=f"use one of {', '.join(CAPTION_MODES)}")
    if len(hypotheses) != len(references):
        raise SarlangError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if not hypotheses:
        raise SarlangError("no captions to score", hint="the prediction file has no usable rows")
    for i, refs in enumerate(references):
        if not refs:
            raise SarlangError(f"image {i} has no reference caption")
    hyps = [str(h) for h in hypotheses]
    refs = [[str(r) for r in rs] for rs in references]
    if mode == "coco":
        from sarlang.eval.ptb import ptb_tokenize

        tokenized = ptb_tokenize(hyps + [r for rs in refs for r in rs])
        hyps, flat = tokenized[: len(hyps)], tokenized[len(hyps) :]
        rebuilt, at = [], 0
        for rs in refs:
            rebuilt.append(flat[at : at + len(rs)])
            at += len(rs)
        refs = rebuilt

    rouge_future, rouge_pool = _start_rouge(hyps, refs)
    try:
        bleu, bleu_per, cider, cider_per = _ngram_metrics(hyps, refs)
        rouge, rouge_per = rouge_future.result() if rouge_future else rouge_l_scores(hyps, refs)
    finally:
        if rouge_pool is not None:
            rouge_pool.shutdown()

    scores: dict[str, float | None] = {f"Bleu_{k + 1}": float(bleu[k]) for k in range(4)}
    per_sample: dict[str, list[float]] = {f"Bleu_{k + 1}": bleu_per[k].tolist() for k in range(4)}
    unavailable = {"SPICE": SPICE_UNAVAILABLE}
    scores["METEOR"] = None
    if meteor:
        from sarlang.errors import MissingDependencyError
        from sarlang.eval.meteor import meteor_scores

        try:
            scores["METEOR"], per_sample["METEOR"] = meteor_scores(hyps, refs)
        except MissingDependencyError as exc:
            unavailable["METEOR"] = str(exc)
    else:
        unavailable["METEOR"] = "not requested (--no-meteor)"
    scores["ROUGE_L"] = rouge
    scores["CIDEr"] = cider
    per_sample["ROUGE_L"] = rouge_per.tolist()
    per_sample["CIDEr"] = cider_per.tolist()
    return CaptionScores(
        mode=mode,
        tokenizer=TOKENIZERS[mode],
        n=len(hyps),
        scores={name: scores[name] for name in METRIC_NAMES},
        unavailable=unavailable,
        per_sample=per_sample,
    )
