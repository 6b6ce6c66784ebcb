"""Retrieval for prompts: the top passages of each record, by its image, its question or both,
and how well retrieval found the passages that hold a question's answer.

``by``:

- ``image``: the image (a pair's earlier date) embedded by the index's SAR-CLIP model, against
  the passages' images (image-to-image cosine);
- ``question``: the question embedded by MiniLM, against the passages' texts;
- ``both``: the two lists fused by reciprocal rank (Cormack et al., SIGIR 2009: score
  ``sum 1 / (60 + rank)``), so documents (reached by text) and image passages mix.

A record never gets the passage of its own image: that passage holds the image's captions,
which would hand a captioning model its reference (and a question its answer). Training with
retrieval therefore learns from the passages of *other* images, as prediction sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError
from sarlang.knowledge.index import KnowledgeIndex
from sarlang.knowledge.passages import FACT_KEYS, Passage
from sarlang.schema import Record

RETRIEVE_BY = ("image", "question", "both")
RRF_K = 60


class Retriever:
    """The top ``k`` passages of records from a :class:`KnowledgeIndex` (see the module docstring).

    Args:
        index: The loaded index.
        k: Passages per prompt.
        by: ``image``, ``question`` or ``both``.
        encode_texts: Texts -> unit MiniLM vectors (:func:`sarlang.knowledge.index.text_encoder`).
        image_model: The index's image embedding model (``embed_images``), for ``image`` and ``both``.
        image_identity: What names ``image_model`` (checked against the index's manifest).

    Raises:
        InputError: an unknown ``by``, ``k`` under 1, or an image model missing or other than the index's.
    """

    def __init__(self, index: KnowledgeIndex, k: int, by: str, encode_texts: Callable[[Sequence[str]], np.ndarray],
                 image_model: Any = None, image_identity: dict[str, Any] | None = None) -> None:
        if by not in RETRIEVE_BY:
            raise InputError(f"unknown retrieval '{by}'", hint=f"use one of {', '.join(RETRIEVE_BY)}")
        if k < 1:
            raise InputError(f"--k must be at least 1, got {k}")
        if by != "question":
            if index.image is None:
                raise InputError(f"the index in '{index.folder}' holds no image embeddings, so it cannot retrieve by {by}",
                                 hint="retrieve by question, or rebuild the index with --clip MODEL")
            if image_model is None:
                raise InputError(f"retrieving by {by} needs the index's image model", hint="pass --clip MODEL (the SAR-CLIP folder the index was built with)")
            if index.manifest.get("image_model") != image_identity:
                raise InputError("the image model differs from the one the index was built with",
                                 hint=f"the index was built with {index.manifest.get('image_model')}")
        self.index, self.k, self.by = index, k, by
        self.encode_texts, self.image_model = encode_texts, image_model

    def info(self) -> dict[str, Any]:
        """What the predictions depend on: the index (folder, kind, passages, models), ``k`` and ``by``."""
        m = self.index.manifest
        return {"index": str(Path(self.index.folder).resolve()), "kind": m.get("kind"), "passages": len(self.index.passages),
                "image_model": m.get("image_model"), "k": self.k, "by": self.by}

    def for_records(self, records: Sequence[Record], images: Sequence[Any], prompts: Sequence[str]) -> list[list[Passage]]:
        """The top passages of each record (best first); ``images`` are the records' resolved
        image paths (a pair's tuple), ``prompts`` what the model would be asked."""
        depth = self.k + 4  # room for the passage of the record's own image, left out below
        lists: list[list[list[tuple[int, float]]]] = []
        if self.by in ("question", "both"):
            questions = [r.question or str(getattr(p, "question", p)) for r, p in zip(records, prompts)]
            lists.append(self.index.search_text(self.encode_texts(questions), depth))
        if self.by in ("image", "both"):
            paths = [image if isinstance(image, str) else image[0] for image in images]
            unique = list(dict.fromkeys(paths))
            vectors = self.image_model.embed_images(unique)
            row = {p: i for i, p in enumerate(unique)}
            found = self.index.search_images(vectors, depth)
            lists.append([found[row[p]] for p in paths])
        out = []
        for i, image in enumerate(images):
            own = {str(Path(p).resolve()) for p in ([image] if isinstance(image, str) else image)}
            scores: dict[int, float] = {}
            if len(lists) == 1:
                ranked = [row for row, _ in lists[0][i]]
            else:
                for hits in lists:
                    for rank, (row, _) in enumerate(hits, 1):
                        scores[row] = scores.get(row, 0.0) + 1.0 / (RRF_K + rank)
                ranked = sorted(scores, key=lambda r: (-scores[r], r))
            chosen = [self.index.passages[row] for row in ranked if self.index.passages[row].image not in own][: self.k]
            out.append(chosen)
        return out


def relevant(record: Record, passage: Passage) -> bool | None:
    """Whether a passage states the answer of a knowledge question (:data:`FACT_KEYS`); None for
    a record that is not a knowledge question (relevance unknown)."""
    key = FACT_KEYS.get(record.question_type)
    if key is None:
        return None
    return str(passage.metadata.get(key, "")).strip().lower() == record.answer.strip().lower()


def retrieval_scores(records: Sequence[Record], retrieved: dict[str, Sequence[str]], passages: dict[str, Passage],
                     ks: Sequence[int] = (1, 3, 5)) -> dict[str, Any]:
    """Recall@K (a relevant passage among the first K) and MRR (1 / rank of the first relevant,
    0 without one) of the knowledge questions whose retrieved passage ids are in ``retrieved``,
    overall and per question type.

    Raises:
        InputError: no knowledge question has retrieved passages, or a passage id the index lacks.
    """
    groups: dict[str, list[int]] = {}
    for r in records:
        if r.question_type not in FACT_KEYS or r.id not in retrieved:
            continue
        ranks = []
        for rank, pid in enumerate(retrieved[r.id], 1):
            if pid not in passages:
                raise InputError(f"the predictions name passage '{pid}', which the index does not hold", hint="score with the index they were made with")
            if relevant(r, passages[pid]):
                ranks.append(rank)
        groups.setdefault(r.question_type, []).append(ranks[0] if ranks else 0)
    if not groups:
        raise InputError("no knowledge question (sensor, resolution) has retrieved passages",
                         hint="build with --knowledge and predict with --retrieve INDEX")

    def summary(firsts: list[int]) -> dict[str, Any]:
        n = len(firsts)
        return {"n": n, "mrr": float(np.mean([1.0 / f if f else 0.0 for f in firsts])),
                **{f"recall@{k}": float(np.mean([0 < f <= k for f in firsts])) for k in ks}}

    every = [f for firsts in groups.values() for f in firsts]
    return {"overall": summary(every), "by_question_type": {t: summary(f) for t, f in sorted(groups.items())}}
