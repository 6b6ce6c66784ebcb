"""Change detection between two co-registered SAR dates: the log-ratio operator and automatic thresholds.

The log-ratio operator (Dekker 1998; Bazi, Bruzzone and Melgani 2005) compares two intensity
images by ``LR = 10 log10(I2 / I1)`` in dB, after averaging each date over a ``window`` x
``window`` box (speckle is multiplicative, so the ratio and not the difference is its natural
comparison, and the logarithm makes increases and decreases symmetric). With ``calibrate`` the
median of LR over the image is subtracted first (a calibration offset between the dates moves
every pixel alike and is not change); it is off by default, because on a window that is mostly
changed the median *is* the change (on the Ottawa pair's 32-pixel windows it halved Kappa), and
the offsets of calibrated products stay under the 3 dB floor below. A pixel is changed when
``|LR|`` exceeds a threshold chosen automatically on the histogram of ``|LR|``:

``otsu``    Otsu's threshold (Otsu 1979): the one maximising the between-class variance;
``kmeans``  two-class k-means on ``|LR|`` (Lloyd's iterations from the extremes), as the k-means
            step of Celik's PCA-k-means (2009) does on its feature vectors;

but never below ``min_db`` (default 3 dB): a pair with no change still has two classes for
either method to split, and speckle of a few looks rarely moves a window's mean by 3 dB. Changed
regions smaller than ``min_pixels`` are dropped (an opening of the map by its components).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sarlang.errors import SarlangError

#: The automatic thresholds of :func:`change_map`.
THRESHOLDS: tuple[str, ...] = ("otsu", "kmeans")


def log_ratio(earlier: np.ndarray, later: np.ndarray, window: int = 3, calibrate: bool = False) -> np.ndarray:
    """``10 log10`` of the ratio of the two dates' window means (dB), with its median removed when
    ``calibrate``; NaN where either mean is not positive (no-data).

    Raises:
        SarlangError: dates of different shapes, or a window under 1.
    """
    a, b = np.asarray(earlier, dtype=np.float64), np.asarray(later, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise SarlangError(f"the two dates must be 2-D images of one shape, got {a.shape} and {b.shape}")
    if window < 1:
        raise SarlangError(f"the log-ratio window must be at least 1 pixel, got {window}")
    ma, mb = (ndimage.uniform_filter(x, size=window, mode="reflect") for x in (a, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((ma > 0) & (mb > 0), 10.0 * np.log10(mb / ma), np.nan)
    if not calibrate:
        return ratio
    finite = ratio[np.isfinite(ratio)]
    return ratio - (float(np.median(finite)) if finite.size else 0.0)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of finite values (the one maximising the between-class variance)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0 or v.min() == v.max():
        return float(v.max()) if v.size else 0.0
    hist, edges = np.histogram(v, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * centres)
    total, grand = weight[-1], mean[-1]
    w1 = weight[:-1]
    w2 = total - w1
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (grand * w1 - mean[:-1] * total) ** 2 / (w1 * w2)
    between[~np.isfinite(between)] = -1
    return float(edges[int(np.argmax(between)) + 1])


def kmeans_threshold(values: np.ndarray, iterations: int = 50) -> float:
    """The midpoint between the two centres of a two-class k-means of finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0
    low, high = float(v.min()), float(v.max())
    for _ in range(iterations):
        cut = (low + high) / 2
        lower, upper = v[v <= cut], v[v > cut]
        new = (float(lower.mean()) if lower.size else low, float(upper.mean()) if upper.size else high)
        if new == (low, high):
            break
        low, high = new
    return (low + high) / 2


def change_map(earlier: np.ndarray, later: np.ndarray, threshold: str = "otsu", window: int = 3, min_db: float = 3.0,
               min_pixels: int = 4, calibrate: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """(changed pixels, the log-ratio in dB, the threshold used) of two intensity dates (see the module docstring).

    Raises:
        SarlangError: an unknown threshold, or dates that do not match.
    """
    if threshold not in THRESHOLDS:
        raise SarlangError(f"unknown change threshold '{threshold}'", hint=f"use one of {', '.join(THRESHOLDS)}")
    ratio = log_ratio(earlier, later, window, calibrate)
    magnitude = np.abs(ratio)
    cut = max(min_db, otsu_threshold(magnitude) if threshold == "otsu" else kmeans_threshold(magnitude))
    changed = np.nan_to_num(magnitude, nan=0.0) > cut
    if min_pixels > 1 and changed.any():
        labels, n = ndimage.label(changed, structure=np.ones((3, 3), dtype=bool))
        sizes = ndimage.sum(changed, labels, range(1, n + 1))
        changed = np.isin(labels, 1 + np.flatnonzero(sizes >= min_pixels))
    return changed, ratio, float(cut)
