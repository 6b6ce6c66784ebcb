"""Scoring mask answers (referring segmentation), by the protocol of RRSIS-D and GeoPix.

Per item the answer's region (the union of its instance masks) is compared with the target's
region (the union of the true instances' masks):

- **gIoU**: the mean over items of each item's IoU (an empty answer to a non-empty target: 0);
- **cIoU**: the sum of every item's intersection over the sum of every item's union (pixels), so
  large targets weigh more;
- **P@0.5 ... P@0.9**: the share of items whose IoU reaches 0.5, 0.6, 0.7, 0.8, 0.9.

Each is given over all items, over targets unique in their image and over the others (one of
several of its category, or all of them). Items with several true instances are also matched
instance to instance, as grounding matches boxes (the Hungarian method over mask IoUs, a match
at IoU 0.5 or more a true positive): precision, recall and F1 over instances. An answer nothing
reads (:func:`sarlang.formats.masks.parse_masks`) is an empty mask, and its reason is counted;
box answers are scored as box masks and counted as such (``parsed_as``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.formats.masks import ParsedMasks

#: IoU thresholds of the precisions (``P@0.5`` ...).
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class SegmentationItem:
    """One mask answer to score: the parsed answer, the true instance masks (bool, image-sized),
    whether the target is unique in its image, and its question type."""

    id: str
    answer: ParsedMasks
    truth: tuple[np.ndarray, ...]
    unique: bool = True
    question_type: str = ""


def mask_iou(a: np.ndarray | None, b: np.ndarray | None) -> tuple[int, int]:
    """(intersection, union) in pixels of two masks (None: empty)."""
    if a is None and b is None:
        return 0, 0
    if a is None or b is None:
        return 0, int((a if a is not None else b).sum())
    return int(np.logical_and(a, b).sum()), int(np.logical_or(a, b).sum())


def _ratio(inter: int, union: int) -> float:
    # an empty answer to an empty target is right; nothing asks for one, but a hand-made record may
    return inter / union if union else 1.0


def match_masks(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one matches (predicted index, true index, IoU) maximising the total IoU, kept when
    their IoU reaches ``threshold``."""
    from scipy.optimize import linear_sum_assignment

    if not len(predicted) or not len(truth):
        return []
    overlaps = np.array([[_ratio(*mask_iou(p, t)) for t in truth] for p in predicted], dtype=float)
    rows, cols = linear_sum_assignment(-overlaps)
    return [(int(r), int(c), float(overlaps[r, c])) for r, c in zip(rows, cols) if overlaps[r, c] >= threshold]


def _summary(items: Sequence[SegmentationItem], pixels: Sequence[tuple[int, int]]) -> dict[str, Any]:
    if not items:
        return {"n": 0, "gIoU": None, "cIoU": None, **{f"P@{t}": None for t in THRESHOLDS}}
    ious = np.array([_ratio(i, u) for i, u in pixels])
    inter, union = sum(i for i, _ in pixels), sum(u for _, u in pixels)
    return {"n": len(items), "gIoU": float(ious.mean()), "cIoU": float(inter / union) if union else None,
            **{f"P@{t}": float(np.mean(ious >= t - 1e-12)) for t in THRESHOLDS}}


def score_segmentation(items: Sequence[SegmentationItem]) -> dict[str, Any]:
    """gIoU, cIoU and P@0.5..0.9 over all items, unique and non-unique targets; instance matching
    of the several-instance items; how answers were read and why some were not; per item."""
    pixels = [mask_iou(it.answer.union, np.logical_or.reduce(it.truth) if it.truth else None) for it in items]
    unique = [k for k, it in enumerate(items) if it.unique]
    others = [k for k, it in enumerate(items) if not it.unique]
    tp = n_pred = n_true = 0
    several = [it for it in items if len(it.truth) > 1]
    for it in several:
        tp += len(match_masks(it.answer.masks, it.truth))
        n_pred += len(it.answer.masks)
        n_true += len(it.truth)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    per_item = [{"id": it.id, "iou": _ratio(*px), "intersection": px[0], "union": px[1], "parsed_as": it.answer.parsed_as,
                 "reason": it.answer.reason, "masks": len(it.answer.masks), "unique": it.unique, "question_type": it.question_type}
                for it, px in zip(items, pixels)]
    return {
        **_summary(items, pixels),
        "unique": _summary([items[k] for k in unique], [pixels[k] for k in unique]),
        "non_unique": _summary([items[k] for k in others], [pixels[k] for k in others]),
        "instances": {"n": len(several), "masks_predicted": n_pred, "masks_true": n_true, "true_positives": tp,
                      "precision@0.5": precision, "recall@0.5": recall,
                      "f1@0.5": 2 * precision * recall / (precision + recall) if precision + recall else 0.0},
        "parsed_as": dict(Counter(it.answer.parsed_as or "unreadable" for it in items)),
        "unreadable": dict(Counter(it.answer.reason for it in items if it.answer.reason)),
        "items": per_item,
    }


def segmentation_items(items: Sequence[Any], records: Sequence[Any], masks_folder: str | Path | None = None) -> list[SegmentationItem]:
    """Mask answers (:class:`~sarlang.schema.EvalItem`) joined to their segmentation records.

    A build's records keep the true masks (COCO RLE), the image size and uniqueness in their
    provenance; an export read back gives them through RLE answers only. ``masks_folder`` holds
    mask pictures written beside the predictions (``<record id>.png``), read first where present.

    Raises:
        InputError: a record without its masks (not made by ``sarlang build --segmentation``).
    """
    from sarlang.formats.masks import parse_masks, record_masks

    by_id = {r.id: r for r in records}
    folder = Path(masks_folder) if masks_folder else None
    out = []
    for item in items:
        truth, width, height, unique = record_masks(by_id[item.id])
        png = folder / f"{item.id}.png" if folder is not None else None
        out.append(SegmentationItem(item.id, parse_masks(item.prediction, width, height, png), tuple(truth), unique, item.question_type))
    return out


def masks_folder_of(predictions: str | Path) -> Path:
    """Where mask pictures of a prediction file lie: ``<stem>_masks/`` beside it."""
    p = Path(predictions)
    return p.with_name(f"{p.stem}_masks")


def box_answers_for_masks(answers: dict[str, str], records: Sequence[Any]) -> dict[str, str]:
    """A model's box answers to grounding records (by id), given to the segmentation records of
    the same targets (same image, true boxes within 2 pixels of the masks' boxes), by id: scored
    as box masks (:func:`~sarlang.formats.masks.parse_masks` reads boxes), they say what a box
    answer reaches as a mask."""
    from sarlang.formats.masks import record_masks

    grounding: dict[str, list[tuple[tuple, str]]] = {}
    for r in records:
        if r.application == "visual_grounding" and r.id in answers:
            boxes = tuple(tuple(float(v) for v in b) for b in r.provenance.get("boxes", []))
            grounding.setdefault(r.image, []).append((boxes, r.id))
    out = {}
    for r in records:
        if r.application != "referring_segmentation" or r.image not in grounding:
            continue
        boxes = []
        for m in record_masks(r)[0]:
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            boxes.append((float(cols[0]), float(rows[0]), float(cols[-1] + 1 - cols[0]), float(rows[-1] + 1 - rows[0])))
        found = next((gid for b, gid in grounding[r.image] if _close(b, tuple(boxes))), None)
        if found is not None:
            out[r.id] = answers[found]
    return out


def _close(a: tuple, b: tuple, tolerance: float = 2.0) -> bool:
    return len(a) == len(b) and all(max(abs(x - y) for x, y in zip(p, q)) <= tolerance for p, q in zip(sorted(a), sorted(b)))


def mean_mask_answers(records: Sequence[Any]) -> dict[str, str]:
    """The trivial mask baseline: for each test segmentation record, the training targets' mean
    mask (each resized to a 64 x 64 grid of its image; pixels held by at least half of them, or,
    when none is, the most often held pixels covering the training targets' mean area), resized
    to its image, as RLE JSON; by record id."""
    import json

    from PIL import Image

    from sarlang.formats.masks import encode_rle, record_masks

    side = 64
    stack, areas = [], []
    for r in records:
        if r.split == "train" and r.application == "referring_segmentation":
            masks, _, _, _ = record_masks(r)
            union = np.logical_or.reduce(masks)
            stack.append(np.asarray(Image.fromarray(union.astype(np.uint8) * 255).resize((side, side), Image.Resampling.BILINEAR)) / 255.0)
            areas.append(union.mean())
    if not stack:
        return {}
    frequency = np.mean(stack, axis=0)
    mean = frequency >= 0.5
    if not mean.any():
        keep = max(1, round(float(np.mean(areas)) * side * side))
        mean = frequency >= np.sort(frequency.ravel())[::-1][keep - 1]
    picture = Image.fromarray(mean.astype(np.uint8) * 255)
    out = {}
    for r in records:
        if r.split == "test" and r.application == "referring_segmentation":
            _, width, height, _ = record_masks(r)
            m = np.asarray(picture.resize((width, height), Image.Resampling.NEAREST)) > 127
            out[r.id] = json.dumps(encode_rle(m))
    return out
