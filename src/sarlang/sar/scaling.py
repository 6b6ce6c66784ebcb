"""Explicit conversions between SAR units, and scalings to 8 bits.

``intensity = amplitude ** 2``, ``dB = 10 log10(intensity)``; complex SLC samples give
``intensity = |z| ** 2``. Conversions take and return :class:`~sarlang.schema.SarImage` and
refuse pixels in the wrong units. Values that have no logarithm (zero or negative intensity)
become NaN (no-data) unless a floor is given.
"""

from __future__ import annotations

import numpy as np

from sarlang.errors import SarlangError
from sarlang.schema import SarImage


def _float(data: np.ndarray) -> np.ndarray:
    return np.asarray(data, dtype=np.float32)


def complex_to_intensity(data: np.ndarray) -> np.ndarray:
    """|z|^2 of complex samples, as float32."""
    z = np.asarray(data)
    return (z.real.astype(np.float64) ** 2 + z.imag.astype(np.float64) ** 2).astype(np.float32)


def amplitude_to_intensity(image: SarImage) -> SarImage:
    image.require("amplitude", operation="amplitude_to_intensity")
    a = _float(image.data)
    return image.with_data(a * a, "intensity")


def intensity_to_amplitude(image: SarImage) -> SarImage:
    image.require("intensity", operation="intensity_to_amplitude")
    i = _float(image.data)
    with np.errstate(invalid="ignore"):
        return image.with_data(np.sqrt(np.where(i >= 0, i, np.nan)).astype(np.float32), "amplitude")


def intensity_to_db(image: SarImage, floor: float | None = None) -> SarImage:
    """10 log10(intensity); non-positive values become NaN, or are raised to ``floor`` (an intensity) first."""
    image.require("intensity", operation="intensity_to_db")
    i = _float(image.data).astype(np.float64)
    if floor is not None:
        if not floor > 0:
            raise SarlangError(f"the intensity floor must be positive, got {floor}")
        i = np.maximum(i, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(i > 0, 10.0 * np.log10(np.where(i > 0, i, 1.0)), np.nan)
    return image.with_data(db.astype(np.float32), "db")


def db_to_intensity(image: SarImage) -> SarImage:
    image.require("db", operation="db_to_intensity")
    return image.with_data((10.0 ** (_float(image.data).astype(np.float64) / 10.0)).astype(np.float32), "intensity")


def to_intensity(image: SarImage) -> SarImage:
    """Linear intensity from amplitude, intensity or dB (``display8`` has no radiometry: refused)."""
    if image.units == "intensity":
        return image.with_data(_float(image.data))
    if image.units == "amplitude":
        return amplitude_to_intensity(image)
    if image.units == "db":
        return db_to_intensity(image)
    image.require("amplitude", "intensity", "db", operation="to_intensity")
    raise AssertionError  # unreachable: require raised


def finite_percentiles(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Percentiles of the finite values (a clear error when there are none)."""
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        raise SarlangError("the image has no finite pixel to scale")
    lo, hi = np.percentile(finite, [low, high])
    return float(lo), float(hi)


def linear_stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map [low, high] linearly onto 0..255 (clipped; NaN becomes 0) as uint8.

    A constant image (``high <= low``) maps to mid-grey where finite.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if not high > low:
        return np.where(finite, 128, 0).astype(np.uint8)
    scaled = (v - low) * (255.0 / (high - low))
    return np.where(finite, np.clip(np.round(scaled), 0, 255), 0).astype(np.uint8)


def to_channels(grey: np.ndarray, channels: int) -> np.ndarray:
    """Grey (rows, columns) as 1 channel, or replicated into 3 (rows, columns, 3) for RGB models."""
    if channels == 1:
        return grey
    if channels == 3:
        return np.repeat(grey[:, :, None], 3, axis=2)
    raise SarlangError(f"channels must be 1 or 3, got {channels}")
