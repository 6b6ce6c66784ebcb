"""Retrieval recall and zero-shot accuracy against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sarlang.errors import SarlangError
from sarlang.eval.retrieval import retrieval_scores, zeroshot_scores


def unit(*rows: list[float]) -> np.ndarray:
    m = np.array(rows, dtype=float)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_recall_both_ways_by_hand() -> None:
    images = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    # texts 0,1 describe image 0; text 2 image 1; text 3 image 2 (but it points at image 1)
    texts = unit([1, 0.1, 0], [0.2, 1, 0], [0, 1, 0], [0, 1, 0.5])
    scores = retrieval_scores(images, texts, [0, 0, 1, 2])
    # image->text: image 0's best own text is text 0 (rank 1); image 1's own text 2 has the top score (1.0) -> rank 1;
    # image 2's own text 3 scores 0.447, and no other text scores above it -> rank 1
    assert scores["i2t"] == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0}
    # text->image: text 0 -> image 0 first; text 1 -> image 1 first (wrong), image 0 second; text 2 -> image 1 first;
    # text 3 -> image 1 (0.894) above image 2 (0.447): rank 2
    assert scores["t2i"]["R@1"] == pytest.approx(2 / 4) and scores["t2i"]["R@5"] == 1.0
    assert scores["mR"] == pytest.approx((1 + 1 + 1 + 0.5 + 1 + 1) / 6)


def test_ties_count_as_expected_ranks() -> None:
    # three identical texts for three images: whichever image a text names, all three tie
    images = unit([1, 0], [1, 0], [1, 0])
    texts = unit([1, 0], [1, 0], [1, 0])
    scores = retrieval_scores(images, texts, [0, 1, 2])
    assert scores["t2i"]["R@1"] == pytest.approx(1 / 3) and scores["t2i"]["R@5"] == 1.0
    assert scores["i2t"]["R@1"] == pytest.approx(1 / 3)


def test_zeroshot_accuracy_and_confusion_by_hand() -> None:
    classes = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    images = unit([1, 0.1, 0], [0.9, 0, 0.1], [0.3, 1, 0], [1, 0, 0.8], [0, 0.2, 1])
    labels = [0, 0, 1, 2, 2]
    scores = zeroshot_scores(images, classes, labels, ["a", "b", "c"])
    # predictions: 0, 0, 1, 0 (wrong: class 2's image is closer to class 0), 2
    assert scores["top1"] == pytest.approx(4 / 5) and scores["top5"] == 1.0 and scores["n"] == 5
    assert scores["mean_per_class"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert scores["confusion"] == [[2, 0, 0], [0, 1, 0], [1, 0, 1]]


def test_bad_shapes_are_clear_errors() -> None:
    with pytest.raises(SarlangError):
        retrieval_scores(unit([1, 0]), unit([1, 0]), [0])
    with pytest.raises(SarlangError):
        zeroshot_scores(unit([1, 0]), unit([1, 0]), [0, 1], ["a"])
