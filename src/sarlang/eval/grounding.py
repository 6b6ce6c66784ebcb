"""Scoring box answers (visual grounding), as the grounding papers report them.

One target box (a referring expression, "where is the ship?"): Acc@0.5 and Acc@0.7, the share of
answers whose first box overlaps the target with an intersection over union of at least 0.5 or
0.7, and the mean IoU (RefCOCO's protocol; VRSBench splits it into targets unique in their image
and targets among others of their category). Several target boxes ("give the boxes of all
ships"): predicted and true boxes are matched one to one, maximising the total IoU (the
Hungarian method, scipy's ``linear_sum_assignment``); a match at IoU 0.5 or more is a true
positive, giving precision, recall and F1 over all boxes; where the answers give scores, COCO's
101-point interpolated average precision at IoU 0.5 as well. An answer no convention reads
scores IoU 0 (and no box) and its reason is counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sarlang.formats.boxes import Box, ParsedBoxes
from sarlang.sar.scene import box_overlap

#: IoU thresholds of the single-box accuracies.
THRESHOLDS = (0.5, 0.7)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two pixel boxes (x1, y1, x2, y2); 0 when either has no area."""
    inter, area_a, area_b = box_overlap(a, b)
    if inter <= 0:
        return 0.0
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(predicted: Sequence[Box], truth: Sequence[Box]) -> np.ndarray:
    """(predicted, truth) IoUs."""
    return np.array([[iou(p, t) for t in truth] for p in predicted], dtype=float).reshape(len(predicted), len(truth))


def match(predicted: Sequence[Box], truth: Sequence[Box], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one matches (predicted index, true index, IoU) maximising the total IoU, kept when
    their IoU reaches ``threshold``."""
    from scipy.optimize import linear_sum_assignment

    if not predicted or not truth:
        return []
    overlaps = iou_matrix(predicted, truth)
    rows, cols = linear_sum_assignment(-overlaps)
    return [(int(r), int(c), float(overlaps[r, c])) for r, c in zip(rows, cols) if overlaps[r, c] >= threshold]


@dataclass(frozen=True)
class GroundingItem:
    """One box answer to score: the parsed answer, the true boxes (pixels), and whether the
    target is unique in its image (for several targets: whether all of the category are asked)."""

    id: str
    answer: ParsedBoxes
    truth: tuple[Box, ...]
    unique: bool = True
    question_type: str = ""


def average_precision(scored: Sequence[tuple[float, bool]], positives: int) -> float | None:
    """COCO's 101-point interpolated average precision of (score, is true positive) detections
    over ``positives`` true boxes; None without true boxes."""
    if positives == 0:
        return None
    order = sorted(scored, key=lambda s: -s[0])
    hits = np.cumsum([hit for _, hit in order], dtype=float)
    precision = hits / np.arange(1, len(order) + 1) if order else np.zeros(0)
    recall = hits / positives if order else np.zeros(0)
    # the precision envelope: the best precision at this recall or beyond
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    points = np.linspace(0, 1, 101)
    reached = np.searchsorted(recall, points, side="left")
    return float(np.mean([precision[i] if i < len(precision) else 0.0 for i in reached]))


def _single(items: Sequence[GroundingItem]) -> dict[str, Any]:
    overlaps = [max((iou(it.answer.boxes[0], t) for t in it.truth), default=0.0) if it.answer.boxes else 0.0 for it in items]
    out: dict[str, Any] = {"n": len(items), "mean_iou": float(np.mean(overlaps)) if items else None}
    for t in THRESHOLDS:
        out[f"acc@{t}"] = float(np.mean([o >= t for o in overlaps])) if items else None
    return out


def _several(items: Sequence[GroundingItem]) -> dict[str, Any]:
    tp = n_pred = n_true = 0
    scored: list[tuple[float, bool]] = []
    all_scored = True
    for it in items:
        found = match(it.answer.boxes, it.truth, 0.5)
        tp += len(found)
        n_pred += len(it.answer.boxes)
        n_true += len(it.truth)
        hit = {p for p, _, _ in found}
        if it.answer.boxes and any(s is None for s in it.answer.scores):
            all_scored = False
        scored += [(s if s is not None else 0.0, i in hit) for i, s in enumerate(it.answer.scores)]
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": len(items), "boxes_predicted": n_pred, "boxes_true": n_true, "true_positives": tp, "precision@0.5": precision,
            "recall@0.5": recall, "f1@0.5": f1, "ap@0.5": average_precision(scored, n_true) if all_scored and scored else None}


def score_grounding(items: Sequence[GroundingItem]) -> dict[str, Any]:
    """Single-target items (one true box): Acc@0.5, Acc@0.7 and mean IoU, overall and for unique
    and non-unique targets; several-target items: one-to-one matching with precision, recall, F1
    and (with scores) AP at IoU 0.5; how answers were read and why some were not; per item."""
    single = [it for it in items if len(it.truth) == 1]
    several = [it for it in items if len(it.truth) != 1]
    per_item = []
    for it in items:
        best = max((iou(it.answer.boxes[0], t) for t in it.truth), default=0.0) if it.answer.boxes and len(it.truth) == 1 else None
        per_item.append({"id": it.id, "parsed_as": it.answer.parsed_as, "reason": it.answer.reason, "boxes": len(it.answer.boxes),
                         "iou": best, "matched": len(match(it.answer.boxes, it.truth)) if len(it.truth) != 1 else None,
                         "unique": it.unique, "question_type": it.question_type})
    return {
        "single": {**_single(single), "unique": _single([it for it in single if it.unique]),
                   "non_unique": _single([it for it in single if not it.unique])},
        "several": _several(several),
        "parsed_as": dict(Counter(it.answer.parsed_as or "unreadable" for it in items)),
        "unreadable": dict(Counter(it.answer.reason for it in items if it.answer.reason)),
        "items": per_item,
    }


def _asked_convention(question: str) -> str | None:
    """The box convention a question states (:data:`sarlang.formats.boxes.CONVENTION_HINTS`), or None."""
    from sarlang.formats.boxes import CONVENTION_HINTS

    lowered = question.lower()
    return next((name for name, hint in CONVENTION_HINTS.items() if hint.lower() in lowered), None)


def _truth(record: Any) -> tuple[tuple[Box, ...], float, float, str, bool]:
    """(true boxes in pixels, image width, height, the convention asked, unique) of a grounding
    record: from its provenance (a build), else from its answer in the convention its question
    states (an export read back: LLaVA, ShareGPT, VLMEvalKit files keep no provenance)."""
    from sarlang.errors import InputError
    from sarlang.formats.boxes import parse_boxes

    p = record.provenance
    try:
        width, height = float(p["width"]), float(p["height"])
        truth = tuple((float(x), float(y), float(x) + float(w), float(y) + float(h)) for x, y, w, h in p["boxes"])
        return truth, width, height, str(p.get("convention", "sarlang")), bool(p.get("unique", len(truth) == 1))
    except (KeyError, TypeError, ValueError):
        pass
    asked = _asked_convention(record.question)
    if asked in ("sarlang", "qwen2.5"):  # pixel conventions: the answer is the truth, no image size needed
        parsed = parse_boxes(record.answer, asked, 0.0, 0.0)
        if parsed.boxes:
            return tuple(parsed.boxes), 0.0, 0.0, asked, len(parsed.boxes) == 1
    raise InputError(f"record '{record.id}' does not hold its boxes and image size"
                     + (f" (its question asks for {asked} boxes, which need the image's size)" if asked else ""),
                     hint="score against the build (--records BUILD) that sarlang build --grounding CONVENTION wrote")


def grounding_items(items: Sequence[Any], records: Sequence[Any], convention: str | None = None) -> list[GroundingItem]:
    """Box answers (:class:`~sarlang.schema.EvalItem`) joined to their grounding records, read in
    ``convention`` (default: the one the question asked for). A build's records keep the true
    boxes ``[x, y, w, h]`` in pixels, the image size, the convention and whether the target is
    unique in their provenance; an export read back (``--records sharegpt_test.json``) gives
    them through its answers, in the pixel conventions.

    Raises:
        InputError: a record without its boxes (not made by ``sarlang build --grounding``).
    """
    from sarlang.formats.boxes import check_convention, parse_boxes

    if convention is not None:
        check_convention(convention)
    by_id = {r.id: r for r in records}
    out = []
    for item in items:
        truth, width, height, asked, unique = _truth(by_id[item.id])
        if not width and (convention or asked) not in ("sarlang", "qwen2.5"):
            from sarlang.errors import InputError

            raise InputError(f"reading answers as {convention} boxes needs each image's size, which these records do not keep",
                             hint="score against the build (--records BUILD)")
        answer = parse_boxes(item.prediction, convention or asked, width, height)
        out.append(GroundingItem(item.id, answer, truth, unique, item.question_type))
    return out


def mean_box_answers(records: Sequence[Any]) -> dict[str, str]:
    """The trivial grounding baseline: for each test grounding record, the mean box of the
    training grounding records' targets (as fractions of their images' width and height),
    scaled to its image and written in its convention; by record id."""
    from sarlang.formats.boxes import format_boxes

    fractions = []
    for r in records:
        p = r.provenance
        if r.split == "train" and r.application == "visual_grounding" and p.get("boxes") and p.get("width") and p.get("height"):
            w, h = float(p["width"]), float(p["height"])
            fractions += [(x / w, y / h, (x + bw) / w, (y + bh) / h) for x, y, bw, bh in p["boxes"]]
    if not fractions:
        return {}
    mean = np.mean(np.array(fractions), axis=0)
    out = {}
    for r in records:
        p = r.provenance
        if r.split == "test" and r.application == "visual_grounding" and p.get("width") and p.get("height"):
            w, h = float(p["width"]), float(p["height"])
            out[r.id] = format_boxes([(mean[0] * w, mean[1] * h, mean[2] * w, mean[3] * h)], str(p.get("convention", "sarlang")), w, h)
    return out
