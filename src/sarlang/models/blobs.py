"""The bright-target detector: the no-learning baseline for boxes and counts of ships at sea.

On open sea a ship is a group of pixels far brighter than the clutter around it, so the oldest
SAR ship detectors threshold the image and keep the connected groups (the global-threshold
detector that CFAR refines; Crisp, "The state-of-the-art in ship detection in synthetic aperture
radar imagery", DSTO-RR-0272, 2004). This backend does that on the preprocessed 8-bit picture a
model reads: pixels at or above ``threshold`` grey, a 3 x 3 opening (a target of at least three
pixels a side survives whole, the odd bright clutter pixel touching it does not), connected
groups of at least ``min_pixels``. It answers "Give the boxes of all ..." with their
``[x, y, w, h]`` boxes, "How many ...?" with their number, "Is there ...?" with yes or no, and
anything else (captions included) with an empty answer. It knows no categories: every target is
counted for whatever category is asked, so it suits single-category scenes (ships at sea).

Spec: ``blobs:`` or ``blobs:THRESHOLD`` or ``blobs:THRESHOLD,MIN_PIXELS`` (defaults 250 and 20).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sarlang.errors import InputError
from sarlang.models.base import VisionLanguageModel

ARCHITECTURE = "sarlang-blobs"


class BrightBlobs(VisionLanguageModel):
    """Bright connected groups of a picture as boxes and counts (see the module docstring)."""

    def __init__(self, threshold: int = 250, min_pixels: int = 20) -> None:
        if not 0 < threshold <= 255 or min_pixels < 1:
            raise InputError(f"blobs:{threshold},{min_pixels}: the threshold is a grey level 1..255 and the smallest target at least 1 pixel")
        self.threshold = threshold
        self.min_pixels = min_pixels

    def boxes(self, path: str) -> list[tuple[int, int, int, int]]:
        """``[x, y, w, h]`` pixel boxes of the bright groups of the picture at ``path``, top to bottom."""
        from scipy import ndimage

        from sarlang.models.baseline.config import load_grey

        grey = load_grey(path)
        labels, _ = ndimage.label(ndimage.binary_opening(grey >= self.threshold, np.ones((3, 3))))
        out = []
        for k, (rows, cols) in enumerate(ndimage.find_objects(labels), 1):
            if (labels[rows, cols] == k).sum() >= self.min_pixels:
                out.append((cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start))
        return out

    def answer(self, batch: Sequence[tuple[str, str]]) -> list[str | None]:
        """Boxes, counts or yes/no for each (image path, prompt); an empty answer to anything else."""
        found: dict[str, list[tuple[int, int, int, int]]] = {}
        out: list[str | None] = []
        for path, prompt in batch:
            from sarlang.formats.prompts import question_of

            asked = question_of(prompt).lower()
            kind = "boxes" if "box" in asked else "count" if "how many" in asked or "number of" in asked or asked.startswith("count") \
                else "presence" if any(w in asked for w in ("is there", "are there", "does the image contain", "can ")) else None
            if kind is None:
                out.append("")
                continue
            if path not in found:
                found[path] = self.boxes(path)
            boxes = found[path]
            if kind == "boxes":
                out.append(", ".join(f"[{x}, {y}, {w}, {h}]" for x, y, w, h in boxes) or "There are none.")
            elif kind == "count":
                out.append(str(len(boxes)))
            else:
                out.append("yes" if boxes else "no")
        return out

    def save(self, directory: Any) -> None:
        raise InputError("the bright-target detector has nothing to save: use its spec, blobs:THRESHOLD,MIN_PIXELS")

    def info(self) -> dict[str, Any]:
        return {"id": ARCHITECTURE, "threshold": self.threshold, "min_pixels": self.min_pixels}


def claims(spec: str) -> bool:
    """``blobs:`` with optional settings."""
    return spec == "blobs" or spec.startswith("blobs:")


def load(spec: str) -> BrightBlobs:
    """The detector of ``blobs:[THRESHOLD[,MIN_PIXELS]]``.

    Raises:
        InputError: settings that are not whole numbers in range.
    """
    settings = spec.partition(":")[2].strip()
    try:
        values = [int(v) for v in settings.split(",")] if settings else []
    except ValueError:
        raise InputError(f"'{spec}' is not blobs:THRESHOLD,MIN_PIXELS with whole numbers", hint="e.g. blobs:250,20") from None
    if len(values) > 2:
        raise InputError(f"'{spec}' has more than two settings", hint="blobs:THRESHOLD,MIN_PIXELS")
    return BrightBlobs(*values)
