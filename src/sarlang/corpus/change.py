"""The records of a bi-temporal pair: change captions and change questions, from its labels only.

What changed comes from the pair's labels, never from its pixels: the reference change map (its
share of the area and where its mass lies), the labelled changes (each with its cause, "flooded
area", "new building"), and the objects of each date, matched between the dates one to one by
category and box overlap (IoU at least :data:`MATCH_IOU`): a later object with no earlier match
*appeared*, an earlier one with no later match *left*. A pair *changed* when at least
:data:`CHANGE_SHARE` of its area changed or an object came or went; otherwise it is a
no-change pair ("No significant change between the two images.").

Questions (application, what is asked, when):

``change_detection``        "Has anything changed between the two images?" yes/no: always
``change_classification``   "What changed between the two images?" the cause: when one kind of
                            change happened (one cause, or objects of one category came or went)
``change_counting``         "How many {cs} appeared (left) between the two images?": per category
                            of objects labelled at both dates
``change_extent``           "How much of the area changed ...": none, small (under 5%), moderate
                            (5-15%), large (15-30%) or very large (over 30%): when the map is known
``change_positioning``      "Where is most of the change?": the 3x3 cell of the changed pixels'
                            centre of mass, as object positioning words it: when changed
``change_region_referring`` "What happened in the region [x, y, w, h]?": the cause covering most of
                            a box at least 60% changed, or "no change" for a box under 2% changed

Captions in SARLANG-1M's two granularities: a concise sentence of what changed, and a detailed
one with each change's share of the area and place, the objects that came or went, and the
dates when the source names them.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np

from sarlang.corpus.vqa import QA, fmt_box
from sarlang.schema import Scene, SceneObject
from sarlang.vocabulary import CAUSE_PHRASES, CHANGE_SHARE, EXTENT_QUESTION, NO_CHANGE, extent_bin, plural, position_of

#: Box overlap at which an object of one date is the same object at the other.
MATCH_IOU = 0.3

CONCISE_CHANGE_PROMPT = "Describe the changes between the two images in one sentence."
DETAILED_CHANGE_PROMPT = "Describe the changes between the two images in detail."


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def object_changes(scene: Scene) -> tuple[list[SceneObject], list[SceneObject]]:
    """(objects that appeared, objects that left) between the dates; both empty unless both dates are labelled."""
    if not all(scene.object_dates):
        return [], []
    earlier, later = list(scene.objects), list(scene.later_objects)
    pairs = sorted(((_iou(a.box, b.box), i, j) for i, a in enumerate(earlier) for j, b in enumerate(later) if a.category == b.category),
                   reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < MATCH_IOU:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return [b for j, b in enumerate(later) if j not in used_b], [a for i, a in enumerate(earlier) if i not in used_a]


def changed_share(scene: Scene) -> float | None:
    """The share of the area the change map marks changed (None when the pair has no map)."""
    if scene.change_map is None:
        return None
    return float(np.asarray(scene.change_map, dtype=bool).mean())


def is_changed(scene: Scene) -> bool:
    share = changed_share(scene)
    appeared, left = object_changes(scene)
    return bool(appeared or left) or (share is not None and share >= CHANGE_SHARE) or (share is None and bool(scene.changes))


def area_changes(scene: Scene) -> list[SceneObject]:
    """The labelled changes that are not objects coming or going: a region of the map at least
    half inside the boxes of the objects that came or went is those objects' change (a map marks
    a ship that left as changed pixels), not a change of its own."""
    appeared, left = object_changes(scene)
    if not appeared and not left:
        return list(scene.changes)
    boxes = np.zeros((scene.height, scene.width), dtype=bool)
    for obj in appeared + left:
        x, y, w, h = (int(round(v)) for v in obj.box)
        boxes[max(0, y) : y + h, max(0, x) : x + w] = True
    out = []
    for change in scene.changes:
        x, y, w, h = (int(round(v)) for v in change.box)
        part = np.ones((h, w), bool) if change.mask is None else np.asarray(change.mask, bool)[:h, :w]
        inside = boxes[y : y + part.shape[0], x : x + part.shape[1]][part]
        if not (inside.size and inside.mean() >= 0.5):
            out.append(change)
    return out


def causes(scene: Scene) -> list[str]:
    """Every kind of change of a pair, biggest first: the causes of its labelled changes (by
    area), then the categories of objects that came or went."""
    area: Counter = Counter()
    for change in area_changes(scene):
        area[change.category] += int(change.attributes.get("pixels") or (np.asarray(change.mask).sum() if change.mask is not None else 1))
    appeared, left = object_changes(scene)
    kinds = [c for c, _ in area.most_common()]
    return kinds + [plural(c) for c in dict.fromkeys(o.category for o in appeared + left) if plural(c) not in kinds]


def _mask_of(scene: Scene) -> np.ndarray:
    if scene.change_map is not None:
        return np.asarray(scene.change_map, dtype=bool)
    mask = np.zeros((scene.height, scene.width), dtype=bool)
    for change in scene.changes:
        x, y, w, h = (int(round(v)) for v in change.box)
        mask[y : y + h, x : x + w] |= np.ones((h, w), bool) if change.mask is None else np.asarray(change.mask, bool)[:h, :w]
    return mask


def _where_changed(scene: Scene, nine: bool) -> str | None:
    mask = _mask_of(scene)
    if not mask.any():
        return None
    rows, cols = np.nonzero(mask)
    return position_of(float(cols.mean()) + 0.5, float(rows.mean()) + 0.5, scene.width, scene.height, nine)


def _cause_map(scene: Scene) -> tuple[np.ndarray, list[str]]:
    """Per pixel, the index (from 1) of its labelled change's cause; 0 where no labelled change. A
    region that is objects coming or going (:func:`area_changes`) is named after them ("ships")."""
    own = {id(c) for c in area_changes(scene)}
    appeared, left = object_changes(scene)
    moved = Counter(plural(o.category) for o in appeared + left).most_common(1)
    named = [(c, c.category if id(c) in own or not moved else moved[0][0]) for c in scene.changes]
    names = list(dict.fromkeys(name for _, name in named))
    index = np.zeros((scene.height, scene.width), dtype=np.int16)
    for change, name in named:
        x, y, w, h = (int(round(v)) for v in change.box)
        part = np.ones((h, w), bool) if change.mask is None else np.asarray(change.mask, bool)[:h, :w]
        index[y : y + h, x : x + w][part] = names.index(name) + 1
    return index, names


def _regions(scene: Scene, rng: random.Random, count: int = 2) -> list[QA]:
    """Boxes of a quarter of the image's side: one mostly changed (answer: its cause), one unchanged."""
    if scene.change_map is None and not scene.changes:
        return []
    mask = _mask_of(scene)
    index, names = _cause_map(scene)
    side_w, side_h = max(4, scene.width // 4), max(4, scene.height // 4)
    candidates = [(x, y) for y in range(0, scene.height - side_h + 1, max(1, side_h // 2)) for x in range(0, scene.width - side_w + 1, max(1, side_w // 2))]
    rng.shuffle(candidates)
    found: dict[str, QA] = {}
    for x, y in candidates:
        share = float(mask[y : y + side_h, x : x + side_w].mean())
        box = fmt_box((float(x), float(y), float(side_w), float(side_h)))
        question = rng.choice(("What happened in the region {box} between the two images?", "What changed in the area {box}?")).format(box=box)
        if share >= 0.6 and "changed" not in found:
            inside = index[y : y + side_h, x : x + side_w]
            counts = Counter(int(v) for v in inside[mask[y : y + side_h, x : x + side_w]].ravel() if v)
            if not counts:
                continue  # changed pixels with no labelled cause: nothing to name
            top, n = counts.most_common(1)[0]
            if n < 0.6 * side_w * side_h * share:
                continue  # two causes share the box: no single answer
            found["changed"] = QA("change_region_referring", "change_region_referring.region", question, names[top - 1])
        elif share <= 0.02 and "unchanged" not in found:
            found["unchanged"] = QA("change_region_referring", "change_region_referring.region", question, "no change")
        if len(found) >= count:
            break
    return list(found.values())


def _object_phrase(n: int, category: str) -> str:
    from sarlang.corpus.captions import count_phrase

    return count_phrase(n, category)


def _change_phrase(cause: str, share: float | None, where: str | None, detailed: bool) -> str:
    place = "" if not where else (" in the center" if where == "center" else f" in the {where} part")
    size = f", over {share:.0%} of the image" if detailed and share is not None and share >= 0.01 else ""
    return f"{CAUSE_PHRASES.get(cause, cause)}{place}{size}"


def _positions(scene: Scene, objects: list[SceneObject], nine: bool) -> str:
    words = Counter(position_of(*o.center, scene.width, scene.height, nine) for o in objects).most_common(1)
    if not words:
        return ""
    word = words[0][0]
    return " in the center" if word == "center" else f" in the {word} part"


def pair_captions(scene: Scene, rng: random.Random, nine: bool = False) -> tuple[str, str]:
    """(concise, detailed) change captions of a pair (see the module docstring)."""
    if not is_changed(scene):
        detailed = NO_CHANGE[:-1]
        if scene.dates and scene.dates[0] != "date 1":
            detailed += f" from {scene.dates[0]} to {scene.dates[1]}"
        if scene.pair_notes:  # a simulated pair: what differs is known to be nuisance
            return NO_CHANGE, detailed + ": the differences are speckle, a slight misregistration and a calibration offset, not change."
        return NO_CHANGE, detailed + "."
    appeared, left = object_changes(scene)
    regions: dict[str, list[SceneObject]] = {}
    for change in area_changes(scene):
        regions.setdefault(change.category, []).append(change)
    share = changed_share(scene)
    parts_short, parts_long = [], []
    total = scene.width * scene.height
    for cause, group in sorted(regions.items(), key=lambda kv: -sum(int(c.attributes.get("pixels", 0)) for c in kv[1])):
        pixels = sum(int(c.attributes.get("pixels", 0)) for c in group)
        where = position_of(*_centre(group), scene.width, scene.height, nine)
        parts_short.append(_change_phrase(cause, None, None, False))
        parts_long.append(_change_phrase(cause, pixels / total if total else None, where, True))
    for category in sorted({o.category for o in appeared + left}):
        came = [o for o in appeared if o.category == category]
        went = [o for o in left if o.category == category]
        bits_short, bits_long = [], []
        if came:
            verb = "arrived" if category == "ship" else "appeared"
            bits_short.append(f"{_object_phrase(len(came), category)} {verb}")
            bits_long.append(f"{_object_phrase(len(came), category)} {verb}{_positions(scene, came, nine)}")
        if went:
            bits_short.append(f"{_object_phrase(len(went), category)} left")
            bits_long.append(f"{_object_phrase(len(went), category)} left{_positions(scene, went, nine)}")
        parts_short.append(" and ".join(bits_short))
        parts_long.append(" and ".join(bits_long))
    if not parts_short:  # a map without labelled causes (changes named by the map only)
        parts_short, parts_long = ["part of the area changed"], [f"part of the area changed{_place(_where_changed(scene, nine))}"]
    from sarlang.corpus.captions import _join

    when = "Between the two dates" if not scene.dates or scene.dates[0] == "date 1" else f"Between {scene.dates[0]} and {scene.dates[1]}"
    opener = rng.choice((when, "From the first image to the second"))
    concise = f"{opener}, {_join(parts_short)}."
    detailed = f"{when}, {_join(parts_long)}"
    if share is not None:
        detailed += f"; in all {share:.0%} of the area changed ({extent_bin(share)})"
    return concise, detailed + "."


def _place(where: str | None) -> str:
    return "" if not where else (" in the center" if where == "center" else f" in the {where} part")


def _centre(group: list[SceneObject]) -> tuple[float, float]:
    weights = [max(1, int(c.attributes.get("pixels", 1))) for c in group]
    xs = [c.center[0] for c in group]
    ys = [c.center[1] for c in group]
    return float(np.average(xs, weights=weights)), float(np.average(ys, weights=weights))


def pair_questions(scene: Scene, rng: random.Random, nine: bool = False) -> list[QA]:
    """The change questions of a pair (see the module docstring), answers from its labels."""
    out: list[QA] = []
    changed = is_changed(scene)
    out.append(QA("change_detection", "change_detection.any",
                  rng.choice(("Has anything changed between the two images?", "Is there any change between the two dates?")), "yes" if changed else "no"))
    kinds = causes(scene)
    if changed and len(kinds) == 1:
        out.append(QA("change_classification", "change_classification.what",
                      rng.choice(("What changed between the two images?", "What kind of change happened between the two dates?")), kinds[0]))
    if all(scene.object_dates):
        appeared, left = object_changes(scene)
        moved = sorted({o.category for o in appeared + left})
        still = sorted({o.category for o in [*scene.objects, *scene.later_objects]} - set(moved))
        # the categories that came or went, and one that did not (a 0 to count), so most answers are not 0
        asked = moved + ([rng.choice(still)] if still and (not moved or rng.random() < 0.5) else [])
        for category in asked:
            came = sum(1 for o in appeared if o.category == category)
            went = sum(1 for o in left if o.category == category)
            out.append(QA("change_counting", "change_counting.appeared", f"How many {plural(category)} appeared between the two images?", str(came)))
            out.append(QA("change_counting", "change_counting.left", f"How many {plural(category)} left between the two images?", str(went)))
    share = changed_share(scene)
    if share is not None:
        out.append(QA("change_extent", "change_extent.share", EXTENT_QUESTION, extent_bin(share)))
    where = _where_changed(scene, nine) if changed else None
    if where is not None:
        out.append(QA("change_positioning", "change_positioning.where",
                      rng.choice(("Where is most of the change between the two images?", "In which part of the image did most of the change happen?")),
                      where))
    out += _regions(scene, rng)
    return out


def pair_disagreement(scene: Scene) -> str | None:
    """Why a pair's labels disagree with each other, or None: an object that came or went where
    the change map shows no change at all (the map and the object labels tell two stories)."""
    if scene.change_map is None:
        return None
    mask = np.asarray(scene.change_map, dtype=bool)
    appeared, left = object_changes(scene)
    for obj in appeared + left:
        x, y, w, h = (int(round(v)) for v in obj.box)
        if w > 0 and h > 0 and not mask[y : y + h, x : x + w].any():
            when = "appeared" if obj in appeared else "left"
            return f"a {obj.category} {when} at {fmt_box(obj.box)} where the change map shows no change"
    return None


def pair_provenance(scene: Scene, out_dir: Any = None) -> dict[str, Any]:
    """What a pair's records keep beside their answers: its dates, changed share, causes, its
    change map picture (relative to the build) and, simulated, what made it."""
    import os

    share = changed_share(scene)
    out: dict[str, Any] = {"dates": list(scene.dates), "changed": is_changed(scene), "causes": causes(scene)}
    if scene.change_map_image:
        out["change_map"] = os.path.relpath(scene.change_map_image, out_dir) if out_dir is not None else scene.change_map_image
    if share is not None:
        out["changed_share"] = round(share, 5)
    if scene.pair_notes:
        out["pair"] = scene.pair_notes
    return out
