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

from sarlang.errors import MissingDependencyError, SarlangError
from sarlang.eval.bleu import bleu_scores, clipped_counts
from sarlang.eval.cider import cider_scores, cider_similarity
from sarlang.eval.ngrams import ngram_corpus, ngram_keys, ngram_table
from sarlang.eval.rouge import rouge_l_scores
from sarlang.eval.caption_metrics import CAPTION_METRICS, DEFAULT_METRICS, CaptionMetric

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


_NGRAM_PASS: tuple[list[str], list[list[str]], tuple[list[float], np.ndarray, float, np.ndarray]] | None = None


def _ngram_metrics(hyps: list[str], refs: list[list[str]]) -> tuple[list[float], np.ndarray, float, np.ndarray]:
    """BLEU-1..4 and CIDEr from one n-gram table; the last input's result is kept, so BLEU and
    CIDEr asked for together count the n-grams once."""
    global _NGRAM_PASS
    if _NGRAM_PASS is not None and _NGRAM_PASS[0] is hyps and _NGRAM_PASS[1] is refs:
        return _NGRAM_PASS[2]
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
    _NGRAM_PASS = (hyps, refs, (bleu, bleu_per, cider, cider_per))
    return bleu, bleu_per, cider, cider_per


def _bleu(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, list[float]]]:
    bleu, bleu_per, _, _ = _ngram_metrics(hyps, refs)
    return {f"Bleu_{k + 1}": (float(bleu[k]), bleu_per[k].tolist()) for k in range(4)}


def _cider(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, list[float]]]:
    _, _, cider, cider_per = _ngram_metrics(hyps, refs)
    return {"CIDEr": (cider, cider_per.tolist())}


def _rouge(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, list[float]]]:
    rouge, rouge_per = rouge_l_scores(hyps, refs)
    return {"ROUGE_L": (rouge, rouge_per.tolist())}


def _meteor(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, list[float]]]:
    from sarlang.eval.meteor import meteor_scores

    return {"METEOR": meteor_scores(hyps, refs)}


#: BLEU-1..4 (Papineni et al., "BLEU: a method for automatic evaluation of machine translation", ACL 2002).
BLEU = CaptionMetric(("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"), _bleu)
#: METEOR 1.5 (Denkowski & Lavie, "Meteor Universal", WMT 2014), with pycocoevalcap's jar; needs Java.
METEOR = CaptionMetric(("METEOR",), _meteor)
#: ROUGE-L (Lin, "ROUGE: a package for automatic evaluation of summaries", ACL workshop 2004).
ROUGE_L = CaptionMetric(("ROUGE_L",), _rouge, forks=True)
#: CIDEr-D as pycocoevalcap's Cider (Vedantam et al., "CIDEr: consensus-based image description
#: evaluation", CVPR 2015, doi:10.1109/CVPR.2015.7299087).
CIDER = CaptionMetric(("CIDEr",), _cider)

_FORKED_INPUT: tuple[CaptionMetric, list[str], list[list[str]]] | None = None


def _score_forked_input() -> dict[str, tuple[float, list[float]]]:
    assert _FORKED_INPUT is not None
    metric, hyps, refs = _FORKED_INPUT
    return metric.score(hyps, refs)


def _start_in_fork(metric: CaptionMetric, hyps: list[str], refs: list[list[str]]) -> tuple[Future | None, ProcessPoolExecutor | None]:
    """A pure-Python metric on a large corpus runs in a forked process beside the n-gram work.

    The child inherits the captions through the fork instead of having them pickled to it.
    """
    global _FORKED_INPUT
    can_fork = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    if not metric.forks or len(hyps) < _PARALLEL_ROUGE_MIN or (os.cpu_count() or 1) < 2 or not can_fork:
        return None, None
    _FORKED_INPUT = (metric, hyps, refs)
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        future = pool.submit(_score_forked_input)  # the worker is forked here
    finally:
        _FORKED_INPUT = None
    return future, pool


def score_captions(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    mode: str = "sarlang",
    meteor: bool = True,
    metrics: Sequence[str] = DEFAULT_METRICS,
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
    metrics:
        Names in :data:`CAPTION_METRICS`. The seven scores of the built-in metrics are always
        present (``None``, with the reason in ``unavailable``, for one not asked for); other
        metrics' scores follow them.

    Returns
    -------
    CaptionScores
        Corpus scores (fractions; CIDEr on its 0–10 scale) and per-image scores.

    Raises
    ------
    SarlangError
        An unknown mode or metric, unequal lengths, no captions, or an image without references.
    """
    global _NGRAM_PASS
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

    chosen = {CAPTION_METRICS.normalize(name): CAPTION_METRICS.get(name) for name in metrics}
    if not meteor:
        chosen.pop("meteor", None)
    scores: dict[str, float | None] = {name: None for name in METRIC_NAMES}
    per_sample: dict[str, list[float]] = {}
    unavailable = {"SPICE": SPICE_UNAVAILABLE}
    if not meteor:
        unavailable["METEOR"] = "not requested (--no-meteor)"
    started = {name: _start_in_fork(metric, hyps, refs) for name, metric in chosen.items()}
    try:
        for name, metric in chosen.items():
            future, _ = started[name]
            try:
                result = future.result() if future is not None else metric.score(hyps, refs)
            except MissingDependencyError as exc:
                unavailable.update({n: str(exc) for n in metric.names})
                continue
            for n in metric.names:
                if n not in result:
                    raise SarlangError(f"caption metric '{name}' gave no score '{n}'")
                scores[n], per_sample[n] = result[n]
    finally:
        _NGRAM_PASS = None
        for _, pool in started.values():
            if pool is not None:
                pool.shutdown()
    for name in METRIC_NAMES:
        if scores[name] is None and name not in unavailable:
            unavailable[name] = "not requested (--metric)"
    return CaptionScores(
        mode=mode,
        tokenizer=TOKENIZERS[mode],
        n=len(hyps),
        scores=scores,
        unavailable=unavailable,
        per_sample=per_sample,
    )
