"""Image–text retrieval and zero-shot classification scores, as SAR and remote-sensing CLIP papers
report them (RemoteCLIP, GeoRSCLIP, SkyScript, SARVLM): recall at K both ways and their mean
(mR); top-1, top-5 and mean per-class accuracy with the confusion matrix.

Scores are computed from unit embedding vectors (any model's), so this module knows no model.
Ties are common in SAR benchmarks (chips of one class share a caption, so their texts embed
identically); a rank is counted as the expected one under random tie-breaking: with ``g``
candidates scoring above the correct one and ``t`` others scoring the same, it is a hit at K with
probability ``clip((K - g) / (t + 1), 0, 1)``, so ties neither inflate nor deflate recall.
Percentages are fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sarlang.errors import SarlangError
from sarlang.vocabulary import counted

RECALL_AT = (1, 5, 10)
#: Prompt templates of zero-shot classification; ``{}`` is the class name.
TEMPLATES = {
    "sar": ("a SAR image of a {}.", "a synthetic aperture radar image of a {}.", "a radar image showing a {}.",
            "This SAR image contains one {}."),
    "plain": ("{}",),
}


def class_vectors(model: Any, classes: Sequence[str], templates: Sequence[str]) -> np.ndarray:
    """(classes, d) unit vectors: each class's prompts (``templates`` filled with its name)
    embedded by ``model.embed_texts``, averaged and renormalised (CLIP's prompt ensembling,
    Radford et al., ICML 2021)."""
    vectors = []
    for name in classes:
        mean = model.embed_texts([t.format(name) for t in templates]).mean(0)
        vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    return np.stack(vectors)


def _hit_probability(scores: np.ndarray, correct: np.ndarray, k: int) -> np.ndarray:
    """Per query (row of ``scores``), the probability that a correct candidate ranks within the top ``k``.

    ``correct`` marks the correct candidates of each row; the best-scoring correct one counts.
    """
    best = np.where(correct, scores, -np.inf).max(1, keepdims=True)
    wrong = ~correct
    above = ((scores > best) & wrong).sum(1)
    tied = ((scores == best) & wrong).sum(1)
    return np.clip((k - above) / (tied + 1), 0.0, 1.0)


def retrieval_scores(image_vectors: np.ndarray, text_vectors: np.ndarray, text_image: Sequence[int]) -> dict[str, Any]:
    """Image->text and text->image recall at 1, 5, 10 and their mean (mR).

    Args:
        image_vectors: (images, d) unit vectors.
        text_vectors: (texts, d) unit vectors.
        text_image: For each text, the index of the image it describes.

    Returns:
        ``{"i2t": {"R@1": ...}, "t2i": {...}, "mR": ..., "images": n, "texts": m}``.

    Raises:
        SarlangError: shapes that disagree, or fewer than two images.
    """
    owner = np.asarray(text_image)
    if len(owner) != len(text_vectors) or len(image_vectors) < 2 or not len(text_vectors):
        raise SarlangError(f"retrieval needs texts of at least two images ({counted(len(image_vectors), 'image')}, {len(text_vectors)} texts)")
    similarity = np.asarray(image_vectors, dtype=np.float64) @ np.asarray(text_vectors, dtype=np.float64).T
    correct = owner[None, :] == np.arange(len(image_vectors))[:, None]  # (images, texts)
    if not correct.any(1).all():
        raise SarlangError("every image needs at least one text")
    i2t = {f"R@{k}": float(_hit_probability(similarity, correct, k).mean()) for k in RECALL_AT}
    t2i = {f"R@{k}": float(_hit_probability(similarity.T, correct.T, k).mean()) for k in RECALL_AT}
    return {"i2t": i2t, "t2i": t2i, "mR": float(np.mean([*i2t.values(), *t2i.values()])),
            "images": int(len(image_vectors)), "texts": int(len(text_vectors))}


def zeroshot_scores(image_vectors: np.ndarray, class_vectors: np.ndarray, labels: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    """Top-1 and top-5 accuracy, mean per-class accuracy and the confusion matrix of zero-shot classification.

    Args:
        image_vectors: (images, d) unit vectors.
        class_vectors: (classes, d) unit vectors (each class's prompts, averaged and renormalised).
        labels: The true class index of each image.
        classes: The class names, in index order.

    Returns:
        ``{"top1", "top5", "mean_per_class", "n", "classes", "confusion"}``; ``confusion[i][j]``
        counts images of class ``i`` predicted as ``j`` (top-1, ties broken as for recall).

    Raises:
        SarlangError: shapes that disagree, or no image.
    """
    truth = np.asarray(labels)
    if len(truth) != len(image_vectors) or not len(truth) or len(class_vectors) != len(classes):
        raise SarlangError(f"zero-shot needs one label per image and one vector per class ({len(truth)} labels, "
                           f"{counted(len(image_vectors), 'image')}, {len(class_vectors)} vectors, {len(classes)} classes)")
    scores = np.asarray(image_vectors, dtype=np.float64) @ np.asarray(class_vectors, dtype=np.float64).T
    correct = truth[:, None] == np.arange(len(classes))[None, :]
    top1 = _hit_probability(scores, correct, 1)
    top5 = _hit_probability(scores, correct, 5)
    predicted = scores.argmax(1)
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = [float(top1[truth == c].mean()) for c in range(len(classes)) if (truth == c).any()]
    return {"top1": float(top1.mean()), "top5": float(top5.mean()), "mean_per_class": float(np.mean(per_class)),
            "n": int(len(truth)), "classes": list(classes), "confusion": confusion.tolist()}


def model_retrieval(model: Any, data: Any) -> dict[str, Any]:
    """:func:`retrieval_scores` of an embedding model over a caption set
    (:func:`sarlang.formats.embedding_sets.caption_set`)."""
    return retrieval_scores(model.embed_images(data.images), model.embed_texts(data.texts), data.text_image)


def model_zeroshot(model: Any, data: Any, templates: Sequence[str]) -> dict[str, Any]:
    """:func:`zeroshot_scores` of an embedding model over a class set
    (:func:`sarlang.formats.embedding_sets.class_set`), each class's ``templates`` averaged."""
    return zeroshot_scores(model.embed_images(data.images), class_vectors(model, data.classes, templates), data.labels, data.classes)
