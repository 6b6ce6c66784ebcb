"""Mask answers (referring segmentation): storing masks, writing them into answers, reading them back.

A mask is a boolean array (rows = image height, columns = image width; True = the object's
pixels). Records keep each instance's mask as COCO run-length encoding (RLE: ``{"size": [h, w],
"counts": "..."}``, compressed counts, through pycocotools), never as pixel lists. Models write
masks in one of these conventions:

``polygon``  one polygon per instance part, ``[[x1, y1], [x2, y2], ...]`` in pixels of the image
             (to the half pixel)
             (x to the right, y down, the pixel (col, row) covering [col, col+1) x [row, row+1),
             COCO's convention), several as ``[[...]]; [[...]]`` (how text-only VLMs answer
             with polygons, as in GeoGround's and VRSBench-style answers).
``rle``      COCO RLE JSON, one object per instance, several as a JSON list.

Reading is lenient, and :class:`ParsedMasks` records what read the answer (``parsed_as``):

- ``png``: a mask picture written beside the prediction file (``<stem>_masks/<id>.png``; each
  distinct non-zero grey level one instance);
- ``rle``: COCO RLE JSON, compressed (string) or uncompressed (list) counts, of the image's size;
- ``polygon``: ``[[x, y], ...]``, ``[(x, y), ...]``, a flat ``[x1, y1, x2, y2, x3, y3, ...]``
  (six or more numbers), WKT ``POLYGON((x y, ...))``, ``{<x><y>...}``, or JSON with a
  ``polygon``, ``points`` or ``segmentation`` key; rasterised by pycocotools as COCO does;
- ``box``: boxes (:func:`sarlang.formats.boxes.parse_boxes`, bare brackets as ``[x, y, w, h]``)
  scored as box masks, said so.

An answer nothing reads gets the reason (and scores IoU 0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError

#: The conventions, by name (see the module docstring).
MASK_CONVENTIONS: tuple[str, ...] = ("polygon", "rle")
#: How each convention is named in a question, so the answer's convention is stated.
MASK_HINTS = {
    "polygon": "as polygons [[x1, y1], [x2, y2], ...] in pixels",
    "rle": 'as COCO RLE JSON {"size": [h, w], "counts": ...}',
}
#: Douglas-Peucker tolerance of written polygons, in pixels.
POLYGON_TOLERANCE = 0.75
#: Most vertices one written polygon keeps (longer outlines are simplified further).
MAX_VERTICES = 48

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = r"[\[\(]\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*[\]\)]"
_PAIR_RE = re.compile(_PAIR)
_POLYGON = re.compile(r"\[\s*(?:" + _PAIR + r"\s*,?\s*){3,}\]")
_FLAT = re.compile(r"\[\s*" + _NUMBER + r"(?:\s*,\s*" + _NUMBER + r"){5,}\s*\]")
_WKT = re.compile(r"POLYGON\s*\(\s*\((.*?)\)", re.I | re.S)
_ANGLED = re.compile(r"\{((?:\s*<\s*" + _NUMBER + r"\s*>){6,})\s*\}")
_NUM = re.compile(_NUMBER)


def _coco() -> Any:
    from sarlang.files import require

    return require("pycocotools.mask", "masks", "mask answers (pycocotools)")


def check_mask_convention(name: str) -> str:
    """``name`` if it is a mask convention.

    Raises:
        InputError: an unknown convention.
    """
    if name not in MASK_CONVENTIONS:
        raise InputError(f"unknown mask convention '{name}'", hint=f"use one of {', '.join(MASK_CONVENTIONS)}")
    return name


# --- RLE -----------------------------------------------------------------------------------------

def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """A boolean mask (rows, columns) as COCO RLE with its counts as a string (JSON-ready)."""
    rle = _coco().encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: Any, height: int | None = None, width: int | None = None) -> np.ndarray:
    """The boolean mask of a COCO RLE (compressed string or uncompressed list counts).

    Raises:
        ValueError: not an RLE, counts that do not fit its size, or a size other than
            ``height`` x ``width`` when given.
    """
    coco = _coco()
    if not isinstance(rle, dict) or "counts" not in rle or "size" not in rle:
        raise ValueError("an RLE is an object with 'size' and 'counts'")
    size = rle["size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ValueError(f"RLE size {size!r} is not [height, width] in pixels")
    h, w = int(size[0]), int(size[1])
    if height is not None and (h, w) != (int(height), int(width or 0)):
        raise ValueError(f"RLE of size {h}x{w} (height x width), the image is {height}x{width}")
    counts = rle["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts) or sum(counts) != h * w:
            raise ValueError(f"uncompressed RLE counts must be whole numbers summing to {h * w} (height x width)")
        compressed = coco.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    elif isinstance(counts, str):
        if not counts or any(ord(ch) < 48 or ord(ch) > 111 for ch in counts):
            raise ValueError("compressed RLE counts hold characters COCO's encoding never writes")
        compressed = {"size": [h, w], "counts": counts.encode("ascii")}
    else:
        raise ValueError("RLE counts must be a string or a list of whole numbers")
    try:
        area = int(coco.area(compressed))
        mask = coco.decode(compressed)
    except Exception as exc:  # pycocotools raises bare Exceptions on corrupt counts
        raise ValueError(f"RLE counts do not decode: {exc}") from None
    if mask.shape != (h, w) or int(mask.sum()) != area:
        raise ValueError("RLE counts do not fit its size")
    return mask.astype(bool)


# --- polygons ------------------------------------------------------------------------------------

def polygons_to_mask(polygons: Sequence[Sequence[tuple[float, float]]], height: int, width: int) -> np.ndarray:
    """The union of polygons (pixel vertices (x, y), COCO's convention) rasterised as pycocotools does."""
    coco = _coco()
    flat = [[float(v) for point in polygon for v in point] for polygon in polygons if len(polygon) >= 3]
    if not flat:
        return np.zeros((height, width), dtype=bool)
    rles = coco.frPyObjects(flat, height, width)
    return coco.decode(coco.merge(rles)).astype(bool)


def mask_polygons(mask: np.ndarray, tolerance: float = POLYGON_TOLERANCE) -> list[list[tuple[float, float]]]:
    """The outline of each 8-connected part of ``mask`` as a polygon of pixel vertices (x, y),
    holes filled, simplified by Douglas-Peucker within ``tolerance`` pixels (scikit-image's
    ``find_contours`` at level 0.5 and ``approximate_polygon``), largest part first."""
    from scipy import ndimage

    from sarlang.files import require

    measure = require("skimage.measure", "masks", "polygon outlines of masks (scikit-image)")
    labels, _ = ndimage.label(np.asarray(mask, dtype=bool), structure=np.ones((3, 3)))
    out: list[tuple[int, list[tuple[float, float]]]] = []
    for index, slc in enumerate(ndimage.find_objects(labels), start=1):
        if slc is None:
            continue
        part = ndimage.binary_fill_holes(labels[slc] == index)
        # traced at twice the resolution, the outline cuts a pixel's corner by a quarter pixel,
        # not a half, so simplifying keeps a square's corners and the corner pixels stay inside
        padded = np.pad(np.kron(part, np.ones((2, 2))), 1)
        contours = measure.find_contours(padded, 0.5)
        if not contours:
            continue
        contour = max(contours, key=len)
        step = tolerance * 2
        simplified = measure.approximate_polygon(contour, step)
        while len(simplified) - 1 > MAX_VERTICES:
            step *= 1.5
            simplified = measure.approximate_polygon(contour, step)
        if len(simplified) - 1 < 4:  # a line one or two pixels wide simplifies to its two ends: keep its outline
            simplified = contour
        # a contour (row, col) of the padded, doubled part lies half way between two of its pixel
        # centres: at the edge (col / 2, row / 2) of the part's pixels, COCO's pixel (c, r) covering [c, c+1)
        y0, x0 = slc[0].start, slc[1].start
        points = [(float(c) / 2 + x0, float(r) / 2 + y0) for r, c in simplified[:-1]]
        if len(points) >= 3:
            out.append((int(part.sum()), points))
    out.sort(key=lambda p: -p[0])
    return [p for _, p in out]


def _number_text(v: float) -> str:
    # outlines traced at twice the resolution have vertices on a half-pixel grid: kept exact, as
    # whole pixels would cut a two-pixel-wide ship's mask by half
    half = round(v * 2) / 2
    return str(int(half)) if half == int(half) else f"{half:.1f}"


def format_polygon(polygon: Sequence[tuple[float, float]]) -> str:
    """``[[x1, y1], [x2, y2], ...]`` with vertices to the half pixel."""
    return "[" + ", ".join(f"[{_number_text(x)}, {_number_text(y)}]" for x, y in polygon) + "]"


def format_masks(masks: Sequence[np.ndarray], convention: str) -> str:
    """Masks (the whole image's size each) written as ``convention`` writes them (the answer of a
    referring-segmentation record)."""
    check_mask_convention(convention)
    if convention == "rle":
        rles = [encode_rle(m) for m in masks]
        return json.dumps(rles[0] if len(rles) == 1 else rles)
    polygons = [format_polygon(p) for m in masks for p in mask_polygons(m)]
    return "; ".join(polygons) if polygons else "[]"


# --- reading answers -----------------------------------------------------------------------------

@dataclass
class ParsedMasks:
    """What an answer held: instance masks (bool, image-sized), what read it (None when nothing
    did) and, then, why."""

    masks: list[np.ndarray] = field(default_factory=list)
    parsed_as: str | None = None
    reason: str | None = None

    @property
    def union(self) -> np.ndarray | None:
        """Every instance's pixels together, None without masks."""
        if not self.masks:
            return None
        return np.logical_or.reduce(self.masks)


def read_mask_png(path: str | Path, height: int, width: int) -> ParsedMasks:
    """A mask picture: each distinct non-zero grey level one instance (a binary picture: one)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            grey = np.asarray(im.convert("L"))
    except OSError as exc:
        return ParsedMasks(parsed_as="png", reason=f"unreadable mask picture: {exc}")
    if grey.shape != (height, width):
        return ParsedMasks(parsed_as="png", reason=f"mask picture is {grey.shape[1]}x{grey.shape[0]}, the image {width}x{height}")
    levels = [v for v in np.unique(grey) if v]
    return ParsedMasks([grey == v for v in levels], "png")


def _json_values(text: str) -> list[Any]:
    """Every JSON value that starts at a ``{`` or ``[`` of ``text`` and parses (outermost first)."""
    decoder = json.JSONDecoder()
    out, i = [], 0
    while i < len(text):
        if text[i] in "[{":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            out.append(value)
            i = end
        else:
            i += 1
    return out


def _rles(values: list[Any]) -> list[dict[str, Any]] | None:
    found = []
    for value in values:
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, dict):
                rle = entry.get("segmentation", entry) if isinstance(entry.get("segmentation"), dict) else entry
                if "counts" in rle:
                    found.append(rle)
    return found or None


def _json_polygons(values: list[Any]) -> list[list[tuple[float, float]]] | None:
    """Polygons under a ``polygon``, ``points`` or ``segmentation`` key (pairs or flat lists)."""
    out: list[list[tuple[float, float]]] = []

    def as_polygon(v: Any) -> list[tuple[float, float]] | None:
        if isinstance(v, list) and v and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in v):
            return [(float(p[0]), float(p[1])) for p in v]
        if isinstance(v, list) and len(v) >= 6 and len(v) % 2 == 0 and all(isinstance(p, (int, float)) for p in v):
            return [(float(v[i]), float(v[i + 1])) for i in range(0, len(v), 2)]
        return None

    for value in values:
        for entry in value if isinstance(value, list) else [value]:
            if not isinstance(entry, dict):
                continue
            for key in ("polygon", "points", "segmentation"):
                v = entry.get(key)
                if v is None:
                    continue
                single = as_polygon(v)
                parts = [single] if single else [as_polygon(p) for p in v] if isinstance(v, list) else []
                out += [p for p in parts if p]
    return out or None


def _text_polygons(text: str) -> list[list[tuple[float, float]]] | None:
    found = [[(float(a), float(b)) for a, b in _PAIR_RE.findall(m.group(0))] for m in _POLYGON.finditer(text)]
    if not found:
        for m in _WKT.finditer(text):
            pairs = [p.split() for p in m.group(1).split(",")]
            found.append([(float(p[0]), float(p[1])) for p in pairs if len(p) == 2])
    if not found:
        for m in _ANGLED.finditer(text):
            v = [float(x) for x in _NUM.findall(m.group(1))]
            if len(v) % 2 == 0:
                found.append([(v[i], v[i + 1]) for i in range(0, len(v), 2)])
    if not found:
        for m in _FLAT.finditer(text):
            v = [float(x) for x in _NUM.findall(m.group(0))]
            if len(v) % 2 == 0:
                found.append([(v[i], v[i + 1]) for i in range(0, len(v), 2)])
    return found or None


def parse_masks(text: str, width: int, height: int, png: str | Path | None = None) -> ParsedMasks:
    """The masks an answer holds (see the module docstring for what is read, in which order);
    ``png`` is the mask picture written beside the prediction for this record, when there is one."""
    import unicodedata

    from sarlang.formats.boxes import parse_boxes

    if png is not None and Path(png).is_file():
        return read_mask_png(png, height, width)
    if not text or not text.strip():
        return ParsedMasks(reason="empty answer")
    text = unicodedata.normalize("NFKC", text)
    values = _json_values(text)
    rles = _rles(values)
    if rles:
        try:
            return ParsedMasks([decode_rle(r, height, width) for r in rles], "rle")
        except ValueError as exc:
            return ParsedMasks(parsed_as="rle", reason=str(exc))
    polygons = _json_polygons(values) or _text_polygons(text)
    if polygons:
        bad = [p for p in polygons if len(p) < 3 or not all(np.isfinite(v) for point in p for v in point)]
        if bad:
            return ParsedMasks(parsed_as="polygon", reason=f"a polygon of fewer than 3 vertices or with a number that is not finite: {bad[0][:4]}")
        masks = [polygons_to_mask([p], height, width) for p in polygons]
        if not any(m.any() for m in masks):
            return ParsedMasks(masks, "polygon", "every polygon lies outside the image or has no area")
        return ParsedMasks([m for m in masks if m.any()], "polygon")
    boxes = parse_boxes(text, "sarlang", width, height)
    if boxes.boxes:
        masks = []
        for x1, y1, x2, y2 in boxes.boxes:
            m = np.zeros((height, width), dtype=bool)
            m[max(0, int(round(y1))): max(0, int(round(y2))), max(0, int(round(x1))): max(0, int(round(x2)))] = True
            masks.append(m)
        return ParsedMasks(masks, f"box:{boxes.parsed_as}")
    return ParsedMasks(reason="no mask (RLE, polygon, mask picture or box) in the answer")


def in_mask_convention(record: Any, convention: str) -> Any:
    """A referring-segmentation record asked and answered in another mask convention (from the
    masks its provenance keeps); any other record, or one already in ``convention``, as it is.

    Raises:
        InputError: an unknown convention, or a segmentation record without its masks.
    """
    from dataclasses import replace

    check_mask_convention(convention)
    p = record.provenance
    if record.application != "referring_segmentation" or p.get("convention") == convention:
        return record
    try:
        masks = [decode_rle(r, int(p["height"]), int(p["width"])) for r in p["masks"]]
        old = str(p["convention"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"segmentation record '{record.id}' does not keep its masks, image size and convention",
                         hint="rebuild with sarlang build --segmentation CONVENTION") from None
    question = record.question.replace(MASK_HINTS.get(old, "\0"), MASK_HINTS[convention])
    return replace(record, question=question, answer=format_masks(masks, convention), provenance={**p, "convention": convention})


def record_masks(record: Any) -> tuple[list[np.ndarray], int, int, bool]:
    """(true instance masks, image width, height, unique) of a referring-segmentation record:
    from its provenance (a build), else from its answer read back (an export keeps no
    provenance; RLE answers carry their size, polygons need it: then an error).

    Raises:
        InputError: the record holds neither.
    """
    p = record.provenance
    try:
        width, height = int(p["width"]), int(p["height"])
        masks = [decode_rle(r, height, width) for r in p["masks"]]
        return masks, width, height, bool(p.get("unique", len(masks) == 1))
    except (KeyError, TypeError, ValueError):
        pass
    rles = _rles(_json_values(record.answer or ""))
    if rles:
        try:
            masks = [decode_rle(r) for r in rles]
            h, w = masks[0].shape
            if all(m.shape == (h, w) for m in masks):
                return masks, w, h, len(masks) == 1
        except ValueError:
            pass
    raise InputError(f"record '{record.id}' does not hold its masks and image size",
                     hint="score against the build (--records BUILD) that sarlang build --segmentation CONVENTION wrote")
