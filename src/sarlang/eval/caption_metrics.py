"""The caption metrics :func:`sarlang.eval.captions.score_captions` can score, by name.

A :class:`CaptionMetric` gives one or more scores under pycocoevalcap's key names. The built-in
ones (BLEU-1..4, METEOR, ROUGE-L, CIDEr) live in :mod:`sarlang.eval.captions`, where BLEU and
CIDEr share one n-gram table; other packages add theirs through the entry-point group
``sarlang.caption_metrics``, e.g. ``bertscore = "mypackage.metrics:BERTSCORE"``. This module imports
nothing heavy, so the CLI lists the choices without loading numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sarlang.registry import Entries


@dataclass(frozen=True)
class CaptionMetric:
    """One caption metric of the registry :data:`CAPTION_METRICS`.

    ``score(hypotheses, references)`` returns, for each name in ``names``, the corpus score and
    the per-image scores; it raises :class:`~sarlang.errors.MissingDependencyError` when it cannot
    run here (the names are then reported unavailable with its message). ``forks``: pure-Python
    work that runs in a forked process beside the others on large corpora.
    """

    names: tuple[str, ...]
    score: Callable[[list[str], list[list[str]]], dict[str, tuple[float, list[float]]]]
    forks: bool = False


#: Caption metrics by name: the built-ins, and other packages' :class:`CaptionMetric` s registered
#: in the entry-point group ``sarlang.caption_metrics`` (``bertscore = "pkg.module:BERTSCORE"``).
CAPTION_METRICS = Entries("caption metric", "sarlang.caption_metrics", {
    "bleu": "sarlang.eval.captions:BLEU",
    "meteor": "sarlang.eval.captions:METEOR",
    "rouge-l": "sarlang.eval.captions:ROUGE_L",
    "cider": "sarlang.eval.captions:CIDER",
}, normalize=lambda name: name.strip().lower().replace("_", "-"))

#: The metrics scored when none are named.
DEFAULT_METRICS: tuple[str, ...] = ("bleu", "meteor", "rouge-l", "cider")
