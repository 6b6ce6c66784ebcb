"""The log-ratio change detector: the non-learned baseline of SAR change detection, as a model.

For a bi-temporal pair it draws a change map with the log-ratio operator and an automatic
threshold (:mod:`sarlang.sar.change`: Otsu or k-means, never under 3 dB) and answers a pair's
questions and captions from that map alone, as the SAR change-detection papers' baseline would:

- has anything changed: yes when at least :data:`~sarlang.vocabulary.CHANGE_SHARE` of the area changed;
- how much changed, where most of it is: the map's share (binned) and centre of mass;
- what changed, and what happened in a box: from the *sign and strength* of the log-ratio over
  the changed pixels, the one thing a ratio tells: a strong decrease (under -4 dB mean) is a
  "flooded area", a weaker one a "harvested field"; an increase in small separate spots is
  "ships", a strong increase over a large area (over 4 dB, 15% of the image) "receded flood
  water", any other increase a "new building";
- how many {objects} appeared or left: the separate small spots of increase (appeared) or of
  decrease (left);
- captions: "No significant change ..." or what the map shows, with its share and place.

It sees no categories beyond these and no single image (a one-image prompt gets no answer, with
the reason). Pictures are read as the recipes read 8-bit pictures (amplitude), rasters as
intensity (:func:`sarlang.sar.io.read_sar`).

Spec: ``logratio:`` or ``logratio:THRESHOLD`` (``otsu``, ``kmeans``) or
``logratio:THRESHOLD,WINDOW`` (the averaging window, pixels; default ``otsu,3``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from sarlang.errors import InputError, SarlangError
from sarlang.models.base import VisionLanguageModel
from sarlang.vocabulary import CAUSE_PHRASES, CHANGE_SHARE, NO_CHANGE, extent_bin, position_of

ARCHITECTURE = "sarlang-logratio"
#: A changed spot at most this share of the image is an object that came or went (a ship), not an area.
SPOT_SHARE = 0.02
_BOX = re.compile(r"\[\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\]")


def _intensity(path: str) -> np.ndarray:
    from sarlang.sar.io import read_sar
    from sarlang.sar.scaling import to_intensity

    image = read_sar(path)
    if image.units == "display8":
        image = image.with_data(np.asarray(image.data, dtype=np.float32), "amplitude")
    return np.asarray(to_intensity(image).data, dtype=np.float64)


class LogRatio(VisionLanguageModel):
    """Change maps and change answers of a pair from the log-ratio operator (see the module docstring)."""

    images_per_prompt = 2

    def __init__(self, threshold: str = "otsu", window: int = 3) -> None:
        from sarlang.sar.change import THRESHOLDS

        if threshold not in THRESHOLDS or window < 1:
            raise InputError(f"logratio:{threshold},{window}: the threshold is one of {', '.join(THRESHOLDS)} and the window at least 1 pixel")
        self.threshold, self.window = threshold, window
        self.failures: list[str] = []
        self._maps: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    def _map(self, images: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        from sarlang.sar.change import change_map

        if images not in self._maps:
            if len(self._maps) > 64:
                self._maps.clear()
            changed, ratio, _ = change_map(_intensity(images[0]), _intensity(images[1]), self.threshold, self.window)
            self._maps[images] = (changed, ratio)
        return self._maps[images]

    def change_map(self, images: tuple[str, ...]) -> np.ndarray:
        """The changed pixels of a pair (bool, the pair's size)."""
        return self._map(tuple(images))[0]

    def answer(self, batch: Sequence[tuple[Any, str]]) -> list[str | None]:
        """The answer to each (pair of paths, prompt); None, with the reason, for a single image."""
        from sarlang.formats.prompts import question_of, unwrap_question
        from sarlang.formats.sarlang1m import infer_application

        out: list[str | None] = []
        for images, prompt in batch:
            if isinstance(images, str) or len(images) != 2:
                self.failures.append("logratio: answers only about a pair of images (a change question)")
                out.append(None)
                continue
            try:
                changed, ratio = self._map(tuple(images))
            except SarlangError as exc:
                self.failures.append(f"logratio: {exc.message}")
                out.append(None)
                continue
            question = unwrap_question(question_of(prompt))
            application, _ = infer_application(question)
            out.append(self._reply(application, question, changed, ratio))
        return out

    def _reply(self, application: str, question: str, changed: np.ndarray, ratio: np.ndarray) -> str:
        share = float(changed.mean())
        height, width = changed.shape
        if application == "change_detection":
            return "yes" if share >= CHANGE_SHARE else "no"
        if application == "change_extent":
            return extent_bin(share)
        if application == "change_positioning":
            rows, cols = np.nonzero(changed)
            return position_of(float(cols.mean()) + 0.5, float(rows.mean()) + 0.5, width, height, False) if rows.size else "center"
        if application == "change_classification":
            return cause_of(changed, ratio) if share >= CHANGE_SHARE else "nothing"
        if application == "change_region_referring":
            box = _BOX.search(question)
            if box is None:
                return "no change"
            x, y, w, h = (int(round(float(v))) for v in box.groups())
            inside = changed[max(0, y) : y + max(h, 1), max(0, x) : x + max(w, 1)]
            if inside.size == 0 or inside.mean() < 0.5:
                return "no change"
            return cause_of(inside, ratio[max(0, y) : y + max(h, 1), max(0, x) : x + max(w, 1)])
        if application == "change_counting":
            went = "left" in question.lower() or "disappeared" in question.lower()
            return str(spots(changed, ratio, decrease=went))
        if application == "image_description":
            if share < CHANGE_SHARE:
                return NO_CHANGE
            cause = cause_of(changed, ratio)
            rows, cols = np.nonzero(changed)
            where = position_of(float(cols.mean()) + 0.5, float(rows.mean()) + 0.5, width, height, False)
            place = "in the center" if where == "center" else f"in the {where} part"
            what = CAUSE_PHRASES.get(cause, cause)
            detail = "detail" in question.lower()
            return (f"Between the two dates, {what} {place}" + (f"; in all {share:.0%} of the area changed ({extent_bin(share)})" if detail else "")
                    + ".")
        return ""

    def save(self, directory: Any) -> None:
        raise InputError("the log-ratio detector has nothing to save: use its spec, logratio:THRESHOLD,WINDOW")

    def info(self) -> dict[str, Any]:
        return {"id": ARCHITECTURE, "threshold": self.threshold, "window": self.window}


def spots(changed: np.ndarray, ratio: np.ndarray, decrease: bool) -> int:
    """The separate small changed spots (at most :data:`SPOT_SHARE` of the image) of increase, or of decrease."""
    sign = np.nan_to_num(ratio, nan=0.0) < 0 if decrease else np.nan_to_num(ratio, nan=0.0) > 0
    labels, n = ndimage.label(changed & sign, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return 0
    sizes = ndimage.sum(np.ones_like(labels), labels, range(1, n + 1))
    return int(np.sum(sizes <= SPOT_SHARE * changed.size))


def cause_of(changed: np.ndarray, ratio: np.ndarray) -> str:
    """What the log-ratio's sign and strength over the changed pixels say changed (see the module docstring)."""
    values = np.nan_to_num(ratio[changed], nan=0.0)
    if values.size == 0:
        return "nothing"
    mean = float(values.mean())
    if mean < -4.0:
        return "flooded area"
    if mean < 0.0:
        return "harvested field"
    labels, n = ndimage.label(changed & (np.nan_to_num(ratio, nan=0.0) > 0), structure=np.ones((3, 3), dtype=bool))
    sizes = ndimage.sum(np.ones_like(labels), labels, range(1, n + 1)) if n else np.zeros(0)
    if n > 1 and float(sizes.max()) <= SPOT_SHARE * changed.size:
        return "ships"
    return "receded flood water" if mean > 4.0 and changed.mean() >= 0.15 else "new building"


def claims(spec: str) -> bool:
    """``logratio:`` with optional settings."""
    return spec == "logratio" or spec.startswith("logratio:")


def load(spec: str) -> LogRatio:
    """The detector of ``logratio:[THRESHOLD[,WINDOW]]``.

    Raises:
        InputError: an unknown threshold or a window that is not a whole number.
    """
    settings = [v.strip() for v in spec.partition(":")[2].split(",") if v.strip()]
    if len(settings) > 2:
        raise InputError(f"'{spec}' has more than two settings", hint="logratio:THRESHOLD,WINDOW, e.g. logratio:otsu,3")
    try:
        window = int(settings[1]) if len(settings) > 1 else 3
    except ValueError:
        raise InputError(f"'{spec}': the window must be a whole number of pixels", hint="e.g. logratio:otsu,3") from None
    return LogRatio(settings[0] if settings else "otsu", window)
