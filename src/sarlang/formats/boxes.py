"""Box conventions of vision-language models: writing boxes into answers and reading them back.

Every box here is ``(x1, y1, x2, y2)`` in pixels of the image (x to the right, y down, corners
inclusive of the box's extent). Models write boxes in one of these conventions:

``sarlang``   ``[x, y, w, h]`` in pixels (SARLANG-1M's region-referring questions); several boxes
              as ``[x, y, w, h], [x, y, w, h]``.
``qwen2.5``   Qwen2.5-VL's JSON: ``[{"bbox_2d": [x1, y1, x2, y2], "label": "ship"}]`` in pixels,
              often inside a Markdown code fence; a ``score`` (or ``confidence``) is kept.
``norm``      ``[x1, y1, x2, y2]`` as fractions of the width and height (0–1).
``geochat``   GeoChat's ``{<x1><y1><x2><y2>}`` on a 0–100 grid (an angle after ``|`` is ignored).
``qwen2``     Qwen2-VL's ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` on a 0–1000 grid, the label
              in ``<|object_ref_start|>…<|object_ref_end|>`` before it.

Reading is lenient: the conventions whose syntax cannot be mistaken (Qwen2.5's ``bbox_2d`` JSON,
Qwen2's box tokens, GeoChat's braces) are recognised whatever the question asked for, and bare
``[a, b, c, d]`` brackets are read in the convention the question asked for;
:class:`ParsedBoxes` records which convention read the answer. An answer nothing reads gets the
reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sarlang.errors import InputError

#: The conventions, by name (see the module docstring).
CONVENTIONS: tuple[str, ...] = ("sarlang", "qwen2.5", "norm", "geochat", "qwen2")
#: How each convention is named in a question, so the answer's convention is stated.
CONVENTION_HINTS = {
    "sarlang": "as [x, y, w, h] in pixels",
    "qwen2.5": 'as JSON [{"bbox_2d": [x1, y1, x2, y2], "label": ...}] in pixels',
    "norm": "as [x1, y1, x2, y2] in fractions of the width and height",
    "geochat": "as {<x1><y1><x2><y2>} on a 0-100 grid",
    "qwen2": "as <|box_start|>(x1,y1),(x2,y2)<|box_end|> on a 0-1000 grid",
}

Box = tuple[float, float, float, float]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_FOUR = re.compile(r"\[\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*\]")
_GEOCHAT = re.compile(r"\{\s*<\s*(" + _NUMBER + r")\s*>\s*<\s*(" + _NUMBER + r")\s*>\s*<\s*(" + _NUMBER + r")\s*>\s*<\s*(" + _NUMBER + r")\s*>\s*(?:\|[^}]*)?\}")
_QWEN2 = re.compile(r"(?:<\|object_ref_start\|>(.*?)<\|object_ref_end\|>\s*)?<\|box_start\|>\s*\(\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*\)\s*,\s*\(\s*("
                    + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*\)\s*<\|box_end\|>", re.S)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


@dataclass
class ParsedBoxes:
    """What an answer held: boxes in pixels (x1, y1, x2, y2), their labels and scores (None when
    not given), the convention that read it (None when nothing did) and, then, why."""

    boxes: list[Box] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    parsed_as: str | None = None
    reason: str | None = None


def check_convention(name: str) -> str:
    """``name`` if it is a convention.

    Raises:
        InputError: an unknown convention.
    """
    if name not in CONVENTIONS:
        raise InputError(f"unknown box convention '{name}'", hint=f"use one of {', '.join(CONVENTIONS)}")
    return name


def _ordered(x1: float, y1: float, x2: float, y2: float) -> Box:
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def to_pixels(values: Sequence[float], convention: str, width: float, height: float) -> Box:
    """Four numbers of ``convention`` as a pixel box (x1, y1, x2, y2)."""
    a, b, c, d = (float(v) for v in values)
    if convention == "sarlang":
        return _ordered(a, b, a + c, b + d)
    if convention == "qwen2.5":
        return _ordered(a, b, c, d)
    scale = {"norm": 1.0, "geochat": 100.0, "qwen2": 1000.0}[convention]
    return _ordered(a / scale * width, b / scale * height, c / scale * width, d / scale * height)


def from_pixels(box: Box, convention: str, width: float, height: float) -> list[float]:
    """A pixel box (x1, y1, x2, y2) as the four numbers ``convention`` writes."""
    x1, y1, x2, y2 = box
    if convention == "sarlang":
        return [x1, y1, x2 - x1, y2 - y1]
    if convention == "qwen2.5":
        return [x1, y1, x2, y2]
    scale = {"norm": 1.0, "geochat": 100.0, "qwen2": 1000.0}[convention]
    return [x1 / width * scale, y1 / height * scale, x2 / width * scale, y2 / height * scale]


def format_boxes(boxes: Sequence[Box], convention: str, width: float, height: float, labels: Sequence[str] | None = None) -> str:
    """Boxes in pixels written as ``convention`` writes them (the answer of a grounding record)."""
    check_convention(convention)
    labels = list(labels) if labels is not None else [None] * len(boxes)
    parts = []
    for box, label in zip(boxes, labels):
        v = from_pixels(box, convention, width, height)
        if convention == "sarlang":
            parts.append("[" + ", ".join(f"{x:.1f}" for x in v) + "]")
        elif convention == "norm":
            parts.append("[" + ", ".join(f"{x:.3f}" for x in v) + "]")
        elif convention == "geochat":
            parts.append("{" + "".join(f"<{round(x)}>" for x in v) + "}")
        elif convention == "qwen2":
            ref = f"<|object_ref_start|>{label}<|object_ref_end|>" if label else ""
            parts.append(f"{ref}<|box_start|>({round(v[0])},{round(v[1])}),({round(v[2])},{round(v[3])})<|box_end|>")
    if convention == "qwen2.5":
        return json.dumps([{"bbox_2d": [round(x) for x in from_pixels(b, convention, width, height)], **({"label": lab} if lab else {})}
                           for b, lab in zip(boxes, labels)])
    return ", ".join(parts)


def _json_boxes(text: str) -> list[tuple[list[float], str | None, float | None]] | None:
    """``bbox_2d`` (or ``bbox``/``box``) entries of the JSON in ``text`` (a code fence first), else None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        start = min([i for i in (candidate.find("["), candidate.find("{")) if i >= 0], default=-1)
        if start < 0:
            continue
        try:
            data, _ = json.JSONDecoder().raw_decode(candidate[start:])
        except json.JSONDecodeError:
            continue
        entries = data if isinstance(data, list) else [data]
        found = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            values = next((entry[k] for k in ("bbox_2d", "bbox", "box") if k in entry), None)
            if isinstance(values, list) and len(values) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                score = entry.get("score", entry.get("confidence"))
                label = entry.get("label")
                found.append((values, str(label) if label is not None else None, float(score) if isinstance(score, (int, float)) else None))
        if found:
            return found
    return None


def _extent_ok(values: Sequence[Any], convention: str) -> bool:
    """Whether four numbers of ``convention`` make a box as written: a positive width and height
    for ``sarlang``'s ``[x, y, w, h]`` (its ``x, y`` is the top left corner, so ``[10, 10, -5,
    -5]`` is no box, not the box above and left of it); two corners that differ in both
    coordinates for the corner conventions (two opposite corners make one box, in either order)."""
    try:
        a, b, c, d = (float(v) for v in values)
    except (TypeError, ValueError):
        return False
    return (c > 0 and d > 0) if convention == "sarlang" else (c != a and d != b)


def _read(text: str, convention: str, width: float, height: float, asked: bool = True) -> ParsedBoxes | None:
    """The boxes of ``text`` in ``convention``; Qwen2.5's bare ``[x1, y1, x2, y2]`` lists (no
    ``bbox_2d`` key) only when the question asked for that convention (``asked``)."""
    out = ParsedBoxes(parsed_as=convention)
    if convention == "qwen2.5":
        entries = _json_boxes(text)
        if entries is None:
            if not asked:
                return None
            entries = [(list(m.groups()), None, None) for m in _FOUR.finditer(text)] or None
        if entries is None:
            return None
        for values, label, score in entries:
            if not _extent_ok(values, convention):
                return ParsedBoxes(parsed_as=convention, reason=f"a box of no area, or of negative width or height, as written: {list(values)}")
            out.boxes.append(to_pixels(values, convention, width, height))
            out.labels.append(label)
            out.scores.append(score)
        return out
    if convention == "geochat":
        matches = [(m.groups(), None) for m in _GEOCHAT.finditer(text)]
    elif convention == "qwen2":
        matches = [(m.groups()[1:], m.group(1)) for m in _QWEN2.finditer(text)]
    else:
        matches = [(m.groups(), None) for m in _FOUR.finditer(text)]
    if not matches:
        return None
    for values, label in matches:
        if not _extent_ok(values, convention):
            return ParsedBoxes(parsed_as=convention, reason=f"a box of no area, or of negative width or height, as written: {[float(v) for v in values]}")
        out.boxes.append(to_pixels(values, convention, width, height))
        out.labels.append(label.strip() if label else None)
        out.scores.append(None)
    return out


def parse_boxes(text: str, convention: str, width: float, height: float) -> ParsedBoxes:
    """The boxes an answer holds, read as ``convention`` first, then as the unmistakable ones
    (see the module docstring); pixel boxes of an image ``width`` x ``height`` pixels."""
    import unicodedata

    check_convention(convention)
    if not text or not text.strip():
        return ParsedBoxes(reason="empty answer")
    # full-width digits, brackets and commas (［12，32，29，13］, as CJK models write) as ASCII
    text = unicodedata.normalize("NFKC", text)
    # a syntax that cannot be mistaken wins over bare brackets: "bbox_2d": [..] holds brackets too
    unmistakable = ["qwen2.5", "qwen2", "geochat"]
    order = [convention, *unmistakable] if convention in unmistakable else [*unmistakable, convention]
    for name in dict.fromkeys(order):
        found = _read(text, name, width, height, asked=name == convention)
        if found is not None and found.reason:
            return found
        if found is not None and found.boxes:
            bad = [b for b in found.boxes if not all(map(_finite, b)) or b[2] <= b[0] or b[3] <= b[1]]
            if bad:
                return ParsedBoxes(parsed_as=name, reason=f"a box of no area or not a number: {bad[0]}")
            return found
    return ParsedBoxes(reason=f"no box in the {convention} convention (nor in another) in the answer")


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


def in_convention(record: Any, convention: str) -> Any:
    """A visual-grounding record asked and answered in another box convention (its question's
    stated convention and its answer rewritten from the boxes its provenance keeps); any other
    record, or one already in ``convention``, as it is.

    Raises:
        InputError: an unknown convention, or a grounding record without its boxes.
    """
    from dataclasses import replace

    check_convention(convention)
    p = record.provenance
    if record.application != "visual_grounding" or p.get("convention") == convention:
        return record
    try:
        width, height, old = float(p["width"]), float(p["height"]), str(p["convention"])
        boxes = [(float(x), float(y), float(x) + float(w), float(y) + float(h)) for x, y, w, h in p["boxes"]]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"grounding record '{record.id}' does not keep its boxes, image size and convention",
                         hint="rebuild with sarlang build --grounding CONVENTION") from None
    question = record.question.replace(CONVENTION_HINTS.get(old, "\0"), CONVENTION_HINTS[convention])
    return replace(record, question=question, answer=format_boxes(boxes, convention, width, height),
                   provenance={**p, "convention": convention})
