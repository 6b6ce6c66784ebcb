"""Question–answer pairs for SARLANG-1M's seven applications, from a scene's labels.

Every question comes from a template with a stable question-type id (``<application>.<template>``);
several paraphrases per application are drawn per scene with a generator seeded by the scene
id, so the same scene always gets the same questions. The rules:

Object identification
    "Is there a {category} in the image?" (and paraphrases): ``yes`` for each category present;
    ``no`` for absent categories, asked with the probability that balances yes and no for that
    category over the corpus (:class:`CorpusContext`), so guessing by category does not beat 50%.
Object classification
    The predominant category by instance count; no question when two categories tie.
Instance counting
    Exact counts of each present category's labelled instances (truncated ones included, as
    they are labelled; a crowd annotation counts once).
Region referring
    "What is the object present in the area [x, y, w, h]?" with COCO-order pixel boxes printed
    with one decimal, as SARLANG-1M prints them; up to ``max_regions`` objects per scene.
Object positioning
    Each instance centre falls in a 3x3 grid; the middle cell is ``center``, any other cell is
    ``top``/``bottom`` or ``left``/``right``, whichever way the centre lies farther from the
    image centre (SARLANG's five-word vocabulary); the answer is the word holding most of the
    category's instances (no question on a tie). ``nine_regions`` answers with the cell instead
    (``top left`` ... ``bottom right``).
Others
    Land cover (the class covering most pixels of the land-cover raster); shape from the mask
    (``circular`` when 4 pi area / perimeter^2 >= 0.7 and the aspect ratio <= 1.5, ``elongated``
    when the aspect ratio >= 2.5, else ``rectangular``; without a mask only ``elongated`` boxes are
    asked about); direction of elongated objects from the mask's principal axis (``horizontal``
    within 22.5 degrees, ``vertical``, or ``diagonal``); arrangement of four or more instances of a
    category (``linear`` when the second principal spread is under 5% of the first, ``clustered``
    when the Clark–Evans ratio is under 0.6, else ``scattered``); and reasoning: which of two
    present categories has more instances (no question on a tie).

``class_prefix`` prepends SARLANG-1M's "The classes are: ..." (the source's categories, or the
position vocabulary for positioning) as its README recommends when mixing subsets.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sarlang.formats.prompts import GROUNDING_ALL_PROMPT
from sarlang.schema import Scene, SceneObject
from sarlang.vocabulary import article, plural, NINE_CELLS, POSITION_WORDS, position_of  # noqa: F401 (re-exported)



@dataclass(frozen=True, slots=True)
class QA:
    application: str
    question_type: str
    question: str
    answer: str
    #: what a record keeps beside its answer (grounding: the true boxes, whether the target is unique)
    extra: dict | None = None


@dataclass
class CorpusContext:
    """What the questions of one scene need to know about the whole corpus."""

    categories: tuple[str, ...]
    presence: dict[str, float] = field(default_factory=dict)  # fraction of scenes holding each category
    nine_regions: bool = False
    class_prefix: bool = False
    max_regions: int = 3
    grounding: str = ""  # box convention of visual-grounding answers; empty: no grounding questions
    segmentation: str = ""  # mask convention of referring-segmentation answers; empty: no mask questions

    def negative_probability(self, category: str) -> float:
        f = self.presence.get(category, 0.0)
        return 1.0 if f >= 0.5 else (f / (1.0 - f) if f > 0 else 0.0)


def fmt_box(box: tuple[float, float, float, float]) -> str:
    return "[" + ", ".join(f"{v:.1f}" for v in box) + "]"


IDENTIFICATION = (
    ("is_there", "Is there {a} {c} in the image?"),
    ("any", "Are there any {cs} in this SAR image?"),
    ("contain", "Does the image contain {a} {c}?"),
    ("visible", "Can {a} {c} be seen in the image?"),
)
CLASSIFICATION = (
    ("predominant", "What is the predominant category in the image?"),
    ("most_common", "Which category of object appears most often in the image?"),
    ("main_type", "What type of object is most common in this SAR image?"),
)
COUNTING = (
    ("how_many", "How many {cs} are there in the image?"),
    ("number_of", "What is the number of {cs} in the image?"),
    ("count", "Count the {cs} in this SAR image."),
)
REGION = (
    ("area", "What is the object present in the area {box}?"),
    ("region", "Which category does the object in the region {box} belong to?"),
)
POSITION_ONE = (("where", "Where is the {c} located in the image?"), ("which_part", "In which part of the image is the {c}?"))
POSITION_MANY = (("where", "Where are most of the {cs} located in the image?"), ("which_part", "In which part of the image are most {cs}?"))
LANDCOVER = (("landcover", "What is the predominant land cover in the image?"), ("landcover_most", "Which land-cover class covers most of the image?"))
SHAPE = (("shape", "What is the shape of the {c} in the area {box}?"),)
DIRECTION = (("direction", "In which direction is the {c} in the area {box} oriented?"),)
PATTERN = (("pattern", "How are the {cs} arranged in the image?"),)
REASONING = (("more_than", "Are there more {as_} than {bs} in the image?"), ("which_more", "Which are more numerous in the image, {as_} or {bs}?"))


def _pick(rng: random.Random, templates: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    return templates[rng.randrange(len(templates))]


def _shape(obj: SceneObject) -> str | None:
    w, h = obj.box[2], obj.box[3]
    aspect = max(w, h) / max(min(w, h), 1e-9)
    if obj.mask is None:
        return "elongated" if aspect >= 3.0 else None
    mask = np.asarray(obj.mask, dtype=bool)
    area = mask.sum()
    if area < 9:
        return None
    padded = np.pad(mask, 1)
    perimeter = np.count_nonzero(padded[1:-1, 1:-1] & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]))
    circularity = 4 * math.pi * area / max(perimeter, 1) ** 2
    axes = _principal_axes(mask)
    aspect = math.sqrt(axes[0] / max(axes[1], 1e-9)) if axes else aspect
    if circularity >= 0.7 and aspect <= 1.5:
        return "circular"
    if aspect >= 2.5:
        return "elongated"
    return "rectangular"


def _principal_axes(mask: np.ndarray) -> tuple[float, float, float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return None
    cov = np.cov(np.stack([xs, ys]).astype(float))
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, 1]
    angle = math.degrees(math.atan2(major[1], major[0])) % 180.0
    return float(values[1]), float(values[0]), angle


def _direction(obj: SceneObject) -> str | None:
    if obj.mask is None:
        w, h = obj.box[2], obj.box[3]
        if max(w, h) < 3 * min(w, h):
            return None
        return "horizontal" if w > h else "vertical"
    axes = _principal_axes(np.asarray(obj.mask, dtype=bool))
    if axes is None or axes[0] < 6.25 * max(axes[1], 1e-9):  # aspect >= 2.5
        return None
    angle = axes[2]
    if angle < 22.5 or angle >= 157.5:
        return "horizontal"
    if 67.5 <= angle < 112.5:
        return "vertical"
    return "diagonal"


def _pattern(points: np.ndarray, width: int, height: int) -> str:
    cov = np.cov(points.T)
    values = np.linalg.eigvalsh(cov)
    if values[1] > 0 and values[0] / values[1] < 0.05 * 0.05:
        return "linear"
    diff = points[:, None, :] - points[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    observed = dist.min(axis=1).mean()
    expected = 0.5 / math.sqrt(len(points) / max(width * height, 1))
    return "clustered" if observed / expected < 0.6 else "scattered"


def _prefix(context: CorpusContext, text: str, positions: bool = False) -> str:
    if not context.class_prefix:
        return text
    classes = (NINE_CELLS if context.nine_regions else POSITION_WORDS) if positions else context.categories
    flat = [c for row in classes for c in row] if positions and context.nine_regions else list(classes)
    return f"The classes are: {', '.join(flat)}. {text}"


def scene_questions(scene: Scene, context: CorpusContext, rng: random.Random) -> list[QA]:
    """All question–answer pairs of one scene (see the module docstring)."""
    out: list[QA] = []
    counts = Counter(o.category for o in scene.objects)
    present = sorted(counts)

    for c in present:
        key, template = _pick(rng, IDENTIFICATION)
        out.append(QA("object_identification", f"object_identification.{key}", _prefix(context, template.format(a=article(c), c=c, cs=plural(c))), "yes"))
    for c in context.categories:
        if c not in counts and rng.random() < context.negative_probability(c):
            key, template = _pick(rng, IDENTIFICATION)
            out.append(QA("object_identification", f"object_identification.{key}", _prefix(context, template.format(a=article(c), c=c, cs=plural(c))), "no"))

    if counts:
        ranked = counts.most_common()
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            key, template = _pick(rng, CLASSIFICATION)
            out.append(QA("object_classification", f"object_classification.{key}", _prefix(context, template), ranked[0][0]))

    for c in present:
        key, template = _pick(rng, COUNTING)
        out.append(QA("instance_counting", f"instance_counting.{key}", _prefix(context, template.format(cs=plural(c))), str(counts[c])))

    if scene.objects:
        chosen = rng.sample(range(len(scene.objects)), min(context.max_regions, len(scene.objects)))
        for i in sorted(chosen):
            obj = scene.objects[i]
            key, template = _pick(rng, REGION)
            out.append(QA("region_referring", f"region_referring.{key}", _prefix(context, template.format(box=fmt_box(obj.box))), obj.category))

    for c in present:
        words = Counter(position_of(*o.center, scene.width, scene.height, context.nine_regions) for o in scene.objects if o.category == c).most_common()
        if len(words) > 1 and words[0][1] == words[1][1]:
            continue
        key, template = _pick(rng, POSITION_ONE if counts[c] == 1 else POSITION_MANY)
        out.append(QA("object_positioning", f"object_positioning.{key}", _prefix(context, template.format(c=c, cs=plural(c)), positions=True), words[0][0]))

    out += _others(scene, context, rng, counts)
    if context.grounding:  # last, so the other questions of a scene stay what they were
        out += grounding_questions(scene, context.grounding, rng)
    if context.segmentation:  # after grounding, for the same reason
        from sarlang.corpus.segmentation import segmentation_questions

        out += segmentation_questions(scene, context.segmentation, rng)
    return out


#: Grounding templates; ``{hint}`` states the box convention of the answer.
GROUNDING_ONE = (("where_box", "Where is the {c}? Answer with its box {hint}."), ("locate", "Locate the {c} in the image and give its box {hint}."))
GROUNDING_ALL = (("all_boxes", GROUNDING_ALL_PROMPT),)
GROUNDING_REFERRING = (
    ("largest", "Where is the largest {c}? Answer with its box {hint}."),
    ("smallest", "Where is the smallest {c}? Answer with its box {hint}."),
    ("nearest_top_left", "Where is the {c} nearest the top left corner? Answer with its box {hint}."),
    ("leftmost", "Where is the leftmost {c}? Answer with its box {hint}."),
    ("rightmost", "Where is the rightmost {c}? Answer with its box {hint}."),
    ("nearest_other", "Where is the {c} nearest the {o}? Answer with its box {hint}."),
)
#: Most boxes one "all boxes" answer lists (more make answers longer than models write).
MAX_GROUNDING_BOXES = 20


def _clipped(obj: SceneObject, width: int, height: int) -> tuple[float, float, float, float] | None:
    """The object's box (x1, y1, x2, y2 pixels) inside the image, None when nothing of it is."""
    x, y, w, h = obj.box
    x1, y1, x2, y2 = max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h)
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def _single_out(key: str, objects: list[tuple[SceneObject, tuple]], others: list[tuple[SceneObject, tuple]], width: int, height: int) -> int | None:
    """Which of ``objects`` (several of one category) the referring expression ``key`` picks,
    None when no object stands out clearly (by a tenth of the area, or 2% of the image's size)."""
    def area(b: tuple) -> float:
        return (b[2] - b[0]) * (b[3] - b[1])

    def centre(b: tuple) -> tuple[float, float]:
        return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)

    size = math.hypot(width, height)
    if key in ("largest", "smallest"):
        values = [area(b) for _, b in objects]
        sign = -1 if key == "largest" else 1
        order = sorted(range(len(values)), key=lambda i: sign * values[i])
        first, second = values[order[0]], values[order[1]]
        return order[0] if max(first, second) >= 1.1 * min(first, second) else None
    if key in ("nearest_top_left", "leftmost", "rightmost", "nearest_other"):
        if key == "nearest_other":
            if len(others) != 1:
                return None
            ox, oy = centre(others[0][1])
            values = [math.hypot(centre(b)[0] - ox, centre(b)[1] - oy) for _, b in objects]
        elif key == "nearest_top_left":
            values = [math.hypot(*centre(b)) for _, b in objects]
        else:
            values = [centre(b)[0] * (1 if key == "leftmost" else -1) for _, b in objects]
        order = sorted(range(len(values)), key=lambda i: values[i])
        return order[0] if values[order[1]] - values[order[0]] >= 0.02 * size else None
    return None


def grounding_questions(scene: Scene, convention: str, rng: random.Random) -> list[QA]:
    """Visual-grounding questions of a scene, answered with boxes in ``convention``: "Where is
    the {c}?" for a category with one instance (a target unique in its image); for a category
    with several, "Give the boxes of all {cs}" (up to :data:`MAX_GROUNDING_BOXES`) and a referring
    expression that singles one out (the largest, the leftmost, the one nearest another object,
    ...; a target among others of its category). Boxes are clipped to the image; the record keeps
    them (``[x, y, w, h]`` pixels), the image size, the convention and uniqueness."""
    from sarlang.formats.boxes import CONVENTION_HINTS, format_boxes

    hint = CONVENTION_HINTS[convention]
    inside = [(o, b) for o in scene.objects if (b := _clipped(o, scene.width, scene.height)) is not None]
    out: list[QA] = []

    def qa(key: str, template: str, boxes: list[tuple], unique: bool, **names: str) -> QA:
        extra = {"boxes": [[round(b[0], 1), round(b[1], 1), round(b[2] - b[0], 1), round(b[3] - b[1], 1)] for b in boxes], "unique": unique,
                 "convention": convention, "width": scene.width, "height": scene.height}
        return QA("visual_grounding", f"visual_grounding.{key}", template.format(hint=hint, **names),
                  format_boxes(boxes, convention, scene.width, scene.height), extra)

    for c in sorted({o.category for o, _ in inside}):
        mine = [(o, b) for o, b in inside if o.category == c]
        if len(mine) == 1:
            key, template = _pick(rng, GROUNDING_ONE)
            out.append(qa(key, template, [mine[0][1]], True, c=c))
            continue
        if len(mine) <= MAX_GROUNDING_BOXES:
            key, template = _pick(rng, GROUNDING_ALL)
            out.append(qa(key, template, [b for _, b in sorted(mine, key=lambda m: (m[1][1], m[1][0]))], False, cs=plural(c)))
        alone = [(o, b) for o, b in inside if o.category != c and sum(1 for p, _ in inside if p.category == o.category) == 1]
        picked = referring_choice(rng, GROUNDING_REFERRING, mine, alone, scene.width, scene.height)
        if picked is not None:
            key, template, chosen = picked
            out.append(qa(key, template, [mine[chosen][1]], False, c=c, o=alone[0][0].category if alone else ""))
    return out


def referring_choice(rng: random.Random, templates: tuple[tuple[str, str], ...], objects: list[tuple[SceneObject, tuple]],
                     others: list[tuple[SceneObject, tuple]], width: int, height: int) -> tuple[str, str, int] | None:
    """(key, template, index into ``objects``) of the first referring expression, in an order
    drawn from ``rng``, that singles one of ``objects`` out (:func:`_single_out`); None when none does."""
    keys = list(range(len(templates)))
    rng.shuffle(keys)
    for k in keys:
        key, template = templates[k]
        chosen = _single_out(key, objects, others, width, height)
        if chosen is not None:
            return key, template, chosen
    return None


def _others(scene: Scene, context: CorpusContext, rng: random.Random, counts: Counter) -> list[QA]:
    out: list[QA] = []
    if scene.landcover is not None and len(scene.landcover_classes):
        hist = np.bincount(np.asarray(scene.landcover).ravel(), minlength=len(scene.landcover_classes))
        top = np.argsort(hist)[::-1]
        if hist[top[0]] > 0 and (len(top) == 1 or hist[top[0]] > hist[top[1]]):
            key, template = _pick(rng, LANDCOVER)
            out.append(QA("others", f"others.{key}", template, scene.landcover_classes[int(top[0])]))
    candidates = list(range(len(scene.objects)))
    rng.shuffle(candidates)
    # one shape and one direction question per scene, each about the first object that has an answer
    unasked = [(SHAPE, _shape), (DIRECTION, _direction)]
    for i in candidates:
        obj = scene.objects[i]
        for templates, describe in list(unasked):
            answer = describe(obj)
            if answer:
                key, template = _pick(rng, templates)
                out.append(QA("others", f"others.{key}", template.format(c=obj.category, box=fmt_box(obj.box)), answer))
                unasked.remove((templates, describe))
    for c in sorted(counts):
        if counts[c] >= 4:
            points = np.array([o.center for o in scene.objects if o.category == c], dtype=float)
            key, template = _pick(rng, PATTERN)
            out.append(QA("others", f"others.{key}", template.format(cs=plural(c)), _pattern(points, scene.width, scene.height)))
    present = sorted(counts)
    if len(present) >= 2:
        a, b = rng.sample(present, 2)
        if counts[a] != counts[b]:
            key, template = _pick(rng, REASONING)
            if key == "more_than":
                answer = "yes" if counts[a] > counts[b] else "no"
            else:
                answer = plural(a) if counts[a] > counts[b] else plural(b)
            out.append(QA("others", f"others.{key}", template.format(as_=plural(a), bs=plural(b)), answer))
    return out
