"""The rules every source applies to a labelled box, and to a scene with a bad label.

A box is given by its pixel corners. Coordinates that are not finite numbers (NaN, infinity,
text) make the object invalid: clipping them would turn a broken label into a full-width box.
A box reaching past the image edge is clipped to the image and marked ``clipped`` (real MSTAR
scenes have ``ymax`` 600 on 594-pixel images); a box with no area inside the image is invalid.

A scene with any invalid object is rejected whole (:func:`scene_reject_reason`): its labels are
incomplete, so it would yield "no", "none of the labelled categories" and count answers that
are wrong about the image.
"""

from __future__ import annotations

import math
from typing import Any


class InvalidObject(ValueError):
    """An object whose label cannot be used (the message says why)."""


def number(value: Any, name: str) -> float:
    """``value`` as a finite float, or :class:`InvalidObject` naming the coordinate."""
    if isinstance(value, bool):
        raise InvalidObject(f"{name} is not a number ({value!r})")
    try:
        result = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise InvalidObject(f"{name} is not a number ({str(value)[:40]!r})") from None
    if not math.isfinite(result):
        raise InvalidObject(f"{name} is not finite ({result})")
    return result


def clipped_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> tuple[tuple[float, float, float, float], bool]:
    """``([x, y, w, h], clipped)`` of the corner box clipped to a ``width`` x ``height`` image."""
    cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
    if cx1 <= cx0 or cy1 <= cy0:
        raise InvalidObject(f"box ({x0:g}, {y0:g})-({x1:g}, {y1:g}) has no area inside the {width}x{height} image")
    return (cx0, cy0, cx1 - cx0, cy1 - cy0), (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1)


def scene_reject_reason(problems: list[str]) -> str:
    """The reject reason of a scene with invalid objects (each problem names its object)."""
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return f"scene rejected whole, its labels are incomplete: {shown}"


def image_size(width: Any, height: Any) -> tuple[int, int]:
    """A declared image size as positive integers, or :class:`InvalidObject`."""
    w, h = number(width, "width"), number(height, "height")
    if w < 1 or h < 1 or w != int(w) or h != int(h):
        raise InvalidObject(f"image size {w:g}x{h:g} is not positive whole pixels")
    return int(w), int(h)
