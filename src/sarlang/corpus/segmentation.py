"""Referring-segmentation questions of a scene, answered with the instances' masks (GeoPix's task).

From objects that carry masks (HRSID's masks, COCO polygons or RLE, the simulator's):

- "Segment the {c}" for a category with one instance in the image (a target unique in its image);
- "Segment all {cs}" for a category with several (up to :data:`MAX_SEGMENTATION_MASKS`; a target
  of several instances, marked non-unique);
- a referring expression that singles one of several out ("the largest", "the leftmost", "the
  one nearest the {o}", ...), by the same rules and margins as grounding
  (:func:`sarlang.corpus.vqa._single_out`: by the box, so "largest" means the largest box), marked
  non-unique.

A category some of whose instances have no mask, or are crowd annotations, gets no mask questions
(an "all" answer would miss pixels the labels do not give). The answer is the masks written in
the build's convention (:mod:`sarlang.formats.masks`: polygons in pixels, or COCO RLE); the
record keeps every target's mask as COCO RLE of the whole image, the image size, the convention
and uniqueness in its provenance, which scoring reads.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from sarlang.corpus.vqa import QA, GROUNDING_REFERRING, _clipped, _pick, referring_choice
from sarlang.schema import Scene, SceneObject
from sarlang.vocabulary import plural

SEGMENT_ONE = (("segment", "Segment the {c}; answer {hint}."), ("outline", "Outline the {c} and give its mask {hint}."))
SEGMENT_ALL = (("all_masks", "Segment all {cs}; answer {hint}."),)
#: The referring expressions of grounding (same keys), asked for a mask.
SEGMENT_REFERRING = tuple((key, template.replace("Where is", "Segment").replace("? Answer with its box {hint}.", "; answer {hint}."))
                          for key, template in GROUNDING_REFERRING)
#: Most instances one "all" answer holds.
MAX_SEGMENTATION_MASKS = 20


def full_mask(obj: SceneObject, width: int, height: int) -> np.ndarray | None:
    """The object's mask on the whole image (rows ``height``, columns ``width``), None without one.

    A mask of the image's size is taken as it is; a box-sized one is placed at the box's top-left
    corner (rounded down, as sources cut them) and clipped to the image."""
    if obj.mask is None:
        return None
    mask = np.asarray(obj.mask, dtype=bool)
    if mask.shape == (height, width):
        return mask
    out = np.zeros((height, width), dtype=bool)
    x, y = int(np.floor(obj.box[0])), int(np.floor(obj.box[1]))
    r0, c0 = max(0, -y), max(0, -x)
    r1, c1 = min(mask.shape[0], height - y), min(mask.shape[1], width - x)
    if r1 > r0 and c1 > c0:
        out[y + r0 : y + r1, x + c0 : x + c1] = mask[r0:r1, c0:c1]
    return out


def segmentation_questions(scene: Scene, convention: str, rng: random.Random) -> list[QA]:
    """The mask questions of a scene, answered in ``convention`` (see the module docstring)."""
    from sarlang.formats.masks import MASK_HINTS, encode_rle, format_masks

    hint = MASK_HINTS[convention]
    usable: dict[str, list[tuple[SceneObject, tuple, np.ndarray]]] = {}
    refused: set[str] = set()
    for o in scene.objects:
        mask = full_mask(o, scene.width, scene.height)
        box = _clipped(o, scene.width, scene.height)
        if mask is None or o.attributes.get("crowd"):
            refused.add(o.category)
        elif box is not None and mask.any():
            usable.setdefault(o.category, []).append((o, box, mask))
    out: list[QA] = []

    def qa(key: str, template: str, masks: list[np.ndarray], unique: bool, **names: str) -> QA:
        extra: dict[str, Any] = {"masks": [encode_rle(m) for m in masks], "unique": unique, "convention": convention,
                                 "width": scene.width, "height": scene.height}
        return QA("referring_segmentation", f"referring_segmentation.{key}", template.format(hint=hint, **names),
                  format_masks(masks, convention), extra)

    for c in sorted(set(usable) - refused):
        mine = usable[c]
        if len(mine) == 1:
            key, template = _pick(rng, SEGMENT_ONE)
            out.append(qa(key, template, [mine[0][2]], True, c=c))
            continue
        if len(mine) <= MAX_SEGMENTATION_MASKS:
            key, template = _pick(rng, SEGMENT_ALL)
            ordered = sorted(mine, key=lambda m: (m[1][1], m[1][0]))
            out.append(qa(key, template, [m for _, _, m in ordered], False, cs=plural(c)))
        alone = [(o, b) for cat, items in usable.items() if cat != c and len(items) == 1 and cat not in refused for o, b, _ in items]
        picked = referring_choice(rng, SEGMENT_REFERRING, [(o, b) for o, b, _ in mine], alone, scene.width, scene.height)
        if picked is not None:
            key, template, chosen = picked
            out.append(qa(key, template, [mine[chosen][2]], False, c=c, o=alone[0][0].category if alone else ""))
    return out
