"""Speckle filters under ESA SNAP's names, on linear intensity.

SAR speckle is multiplicative: an observed intensity is the true backscatter times a unit-mean
Gamma variable with L looks (variance 1/L). Every filter here takes linear intensity (an array,
or a :class:`~sarlang.schema.SarImage` in ``intensity`` units; dB input is refused) and the
number of looks ``looks`` (the equivalent number of looks, ENL), estimated from the image by
:func:`estimate_looks` when not given (with documented fallbacks for quantised 8-bit pictures
and images with no measurable block). Non-finite pixels (NaN, inf, no-data) are left out of every window and stay NaN; windows are truncated at the image border. A window of size ``k``
covers offsets ``-(k // 2) .. k - 1 - k // 2`` (centred for odd ``k``).

With ``m`` and ``v`` the window mean and (population) variance, ``Ci^2 = v / m^2`` and
``Cu^2 = 1 / L``:

``Boxcar``       the window mean.
``Median``       the window median.
``Lee``          Lee (1980): ``m + w (x - m)``, ``w = 1 - Cu^2 / Ci^2`` clipped to [0, 1] (SNAP's form).
``Kuan``         Kuan et al. (1985): ``w = (1 - Cu^2 / Ci^2) / (1 + Cu^2)`` clipped to [0, 1].
``Frost``        Frost et al. (1982): weights ``exp(-K Ci^2 d)``, ``d`` the Euclidean distance in
                 pixels from the centre, ``K`` the damping factor (SNAP's default 2).
``Gamma Map``    Lopes, Touzi and Nezry (1990): the mean where ``Ci <= Cu``, the pixel where
                 ``Ci >= sqrt(2) Cu``, otherwise the MAP estimate under a Gamma prior.
``Refined Lee``  Lee (1981): on a 7x7 window, the edge direction from the 3x3 grid of 3x3
                 sub-window means picks one of eight edge-aligned half windows (the half whose
                 outer sub-window is closer to the centre's mean); the MMSE estimate over it,
                 ``z + b (x - z)`` with ``b = var_x / var_z``, ``var_x = (var_z - z^2 s) / (1 + s)``, ``s = 1 / L``.
``Lee Sigma``    Lee, Wen, Ainsworth et al. (2009), "Improved sigma filter for speckle filtering
                 of SAR imagery": pixels of the 3x3 target window at or above the 98th percentile
                 of the image, five or more, mark a point target left as it is; otherwise the
                 a priori mean is the MMSE estimate over the target window, the pixels of the
                 (default 7x7) window inside the sigma range ``[eta1, eta2]`` times that mean are
                 kept, and the MMSE estimate over them uses the speckle variance of the range.
                 ``eta1``, ``eta2`` solve ``P(eta1 <= v <= eta2) = sigma`` and ``E[v | range] = 1``
                 for unit-mean Gamma speckle with L looks (:func:`sigma_range`).

SNAP's defaults are kept: window 3x3, damping factor 2, Lee Sigma with a 7x7 window, 3x3
target window and sigma 0.9.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from sarlang.errors import SarlangError
from sarlang.registry import Entries
from sarlang.schema import SarImage, UnitError
from sarlang.vocabulary import counted

FILTERS: tuple[str, ...] = ("Boxcar", "Median", "Frost", "Gamma Map", "Lee", "Refined Lee", "Lee Sigma", "Kuan")


def _intensity_array(image: SarImage | np.ndarray, operation: str) -> np.ndarray:
    if isinstance(image, SarImage):
        image.require("intensity", operation=operation)
        data = image.data
    else:
        data = image
    array = np.asarray(data)
    if array.ndim != 2:
        raise SarlangError(f"{operation} needs a 2-D image, got shape {array.shape}")
    if array.dtype.kind == "c":
        raise UnitError(f"{operation} needs intensity, got complex values; use sarlang.sar.scaling.complex_to_intensity")
    return np.ascontiguousarray(array, dtype=np.float32)


def _has_missing(data: np.ndarray) -> bool:
    # A NaN or infinity makes the float64 sum non-finite; finite float32 values cannot overflow it.
    return not bool(np.isfinite(np.sum(data, dtype=np.float64)))


_POSITION_INDEPENDENT: contextvars.ContextVar[bool] = contextvars.ContextVar("sarlang_position_independent", default=False)


@contextlib.contextmanager
def position_independent() -> Iterator[None]:
    """Within this block, filters run the checked kernels on every pixel.

    The fast interior kernels sum windows in another order than the checked ones, so which one
    a pixel gets (it depends on whether its piece of the image holds a missing pixel) changes
    its value in the last float32 bit. Block filtering of large scenes runs here, on full-width
    strips, so its output is bit-identical whatever the block size.
    """
    token = _POSITION_INDEPENDENT.set(True)
    try:
        yield
    finally:
        _POSITION_INDEPENDENT.reset(token)


def _checked_everywhere(data: np.ndarray) -> bool:
    return _POSITION_INDEPENDENT.get() or _has_missing(data)


def _wrap(image: SarImage | np.ndarray, out: np.ndarray) -> SarImage | np.ndarray:
    return image.with_data(out) if isinstance(image, SarImage) else out


def _window(size: int | tuple[int, int]) -> tuple[int, int]:
    ky, kx = (size, size) if isinstance(size, int) else size
    if ky < 1 or kx < 1:
        raise SarlangError(f"window size {size} must be at least 1")
    return int(ky), int(kx)


#: How :func:`estimate_looks` found the number of looks, in the order it tries.
LOOKS_RULES: tuple[str, ...] = ("homogeneous blocks", "homogeneous blocks, quantised zeros kept", "assumed 1 look")
#: Fewest blocks the first rule needs before the next is tried.
MIN_LOOKS_BLOCKS = 8
#: Largest share of zero pixels a block may hold under the second rule.
MAX_ZERO_SHARE = 0.25


@dataclass(frozen=True)
class LooksEstimate:
    """An equivalent number of looks, the rule of :data:`LOOKS_RULES` that found it, the number
    of blocks it was measured on (0 when assumed) and, when assumed, why."""

    looks: float
    rule: str
    blocks: int
    reason: str = ""

    @property
    def fell_back(self) -> bool:
        """Whether a rule other than the first gave it (worth telling the user)."""
        return self.rule != LOOKS_RULES[0]

    def describe(self) -> str:
        """One line for a command's output: the looks and how they were found."""
        how = f"{self.rule} ({self.reason})" if self.reason else f"{self.rule}, {counted(self.blocks, 'block')}"
        return f"{self.looks:.3g} looks: {how}"


def estimate_looks(image: SarImage | np.ndarray, block: int = 16, fraction: float = 0.1) -> LooksEstimate:
    """Equivalent number of looks of the most homogeneous blocks of an intensity image, and how it was found.

    The image is cut into ``block`` x ``block`` blocks; blocks are ranked by the coefficient of
    variation of one half of their pixels (a checkerboard) and the ``fraction`` most homogeneous
    are kept; the ENL (mean^2 / variance) is measured on the other half of their pixels and the
    median returned. Ranking and measuring on disjoint pixels keeps the selection from biasing
    the estimate upwards.

    A block is measured only when all its pixels are finite, neither half is constant, and it
    holds no saturated pixel (the image's largest value when more than one pixel has it: the 255
    of an 8-bit picture, a clipped DN), so neither a no-data border nor a clipped bright area
    passes for homogeneous speckle. The rules of :data:`LOOKS_RULES`, tried in order:

    1. ``homogeneous blocks``: blocks whose pixels are all positive (a zero is no-data in float
       data), when there are at least :data:`MIN_LOOKS_BLOCKS` of them;
    2. ``homogeneous blocks, quantised zeros kept``: in quantised data (every value a whole
       number, as the intensity of an 8-bit or integer picture), a zero is a dim pixel rounded
       down, not no-data: real 8-bit SAR (HRSID's dark sea) has a few in nearly every block. Blocks
       with at most :data:`MAX_ZERO_SHARE` zeros count (all-zero borders do not). On simulated
       speckle quantised to 8-bit amplitude with a zero in every block (sea at a mean of 10 DN),
       it gives the float image's estimate to within 2% for 1 to 4 looks and 3.2% low for 8;
       quantisation adds variance, so it reads low on very dark water (13% at 8 looks and 4 DN);
    3. ``assumed 1 look``: no block qualifies (an image smaller than one block, constant or
       all zero): single-look speckle, the strongest smoothing the filters apply, with the reason.
    """
    data = _intensity_array(image, "ENL estimation")
    h, w = (data.shape[0] // block) * block, (data.shape[1] // block) * block
    if h == 0 or w == 0:
        return LooksEstimate(1.0, LOOKS_RULES[2], 0, f"the image ({data.shape[1]} x {data.shape[0]} pixels) is smaller than one {block} x {block} block")
    blocks = data[:h, :w].reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3).reshape(-1, block * block)
    checker = ((np.arange(block)[:, None] + np.arange(block)[None, :]) % 2 == 0).ravel()
    a, b = blocks[:, checker].astype(np.float64), blocks[:, ~checker].astype(np.float64)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(blocks).all(axis=1) & (a.mean(axis=1) > 0) & (b.mean(axis=1) > 0) & (a.var(axis=1) > 0) & (b.var(axis=1) > 0)
    finite = data[np.isfinite(data)]
    if finite.size:
        top = finite.max()
        if np.count_nonzero(finite == top) > 1:
            usable &= ~(blocks == top).any(axis=1)
    zeros = (blocks == 0).mean(axis=1)
    chosen, rule = usable & (zeros == 0), LOOKS_RULES[0]
    if np.count_nonzero(chosen) < MIN_LOOKS_BLOCKS and finite.size and bool(np.all(finite == np.round(finite))):
        relaxed = usable & (zeros <= MAX_ZERO_SHARE)
        if np.count_nonzero(relaxed) > np.count_nonzero(chosen):
            chosen, rule = relaxed, LOOKS_RULES[1]
    if not chosen.any():
        return LooksEstimate(1.0, LOOKS_RULES[2], 0, "no block of finite, positive, unsaturated and varying pixels")
    a, b = a[chosen], b[chosen]
    cv_a = a.std(axis=1) / a.mean(axis=1)
    keep = np.argsort(cv_a, kind="stable")[: max(1, int(round(fraction * len(cv_a))))]
    enl = b[keep].mean(axis=1) ** 2 / np.maximum(b[keep].var(axis=1), 1e-30)
    return LooksEstimate(float(np.median(enl)), rule, int(len(cv_a)))


def estimate_enl(image: SarImage | np.ndarray, block: int = 16, fraction: float = 0.1) -> float:
    """The number of looks of :func:`estimate_looks` (see there for the rules and fallbacks)."""
    return estimate_looks(image, block, fraction).looks


def _looks(data: np.ndarray, looks: float | None) -> float:
    if looks is None:
        return estimate_enl(data)
    if not looks > 0:
        raise SarlangError(f"number of looks must be positive, got {looks}")
    return float(looks)


_NO_RINGS = (np.zeros(1), np.zeros((1, 1), dtype=np.int64))


def _moment(image: SarImage | np.ndarray, size: int | tuple[int, int], mode: int, looks: float | None, param: float, name: str, rings: Any = _NO_RINGS) -> SarImage | np.ndarray:
    from sarlang.sar import kernels

    data = _intensity_array(image, f"the {name} filter")
    ky, kx = _window(size)
    cu2 = 1.0 / _looks(data, looks) if mode in (kernels.MODE_LEE, kernels.MODE_KUAN, kernels.MODE_GAMMA_MAP) else 0.0
    if mode == kernels.MODE_GAMMA_MAP:
        param = 1.0 / cu2
    out = np.empty(data.shape, np.float32)
    moment_kernel(data, ky, kx, mode, cu2, param, rings, out)
    return _wrap(image, out)


def moment_kernel(data: np.ndarray, ky: int, kx: int, mode: int, cu2: float, param: float, rings: Any, out: np.ndarray) -> None:
    """Run a window-statistics filter: the fast interior kernel where no pixel is missing, the checked one elsewhere."""
    from sarlang.sar import kernels

    height, width = data.shape
    args = (data, ky, kx, mode, cu2, param, rings[0], rings[1], out)
    if _checked_everywhere(data) or height < ky or width < kx:
        kernels.moment_filter(*args, 0, height, 0, width)
        return
    kernels.moment_filter_interior(*args[:8], rings[1].ravel(), out)
    oy0, oy1, ox0, ox1 = ky // 2, ky - 1 - ky // 2, kx // 2, kx - 1 - kx // 2
    for r_lo, r_hi, c_lo, c_hi in ((0, oy0, 0, width), (height - oy1, height, 0, width), (oy0, height - oy1, 0, ox0), (oy0, height - oy1, width - ox1, width)):
        if r_hi > r_lo and c_hi > c_lo:
            kernels.moment_filter(*args, r_lo, r_hi, c_lo, c_hi)


def boxcar(image: SarImage | np.ndarray, size: int | tuple[int, int] = 3) -> SarImage | np.ndarray:
    """Mean over the window (multilooking without decimation)."""
    from sarlang.sar import kernels

    return _moment(image, size, kernels.MODE_BOXCAR, 1.0, 0.0, "Boxcar")


def median(image: SarImage | np.ndarray, size: int | tuple[int, int] = 3) -> SarImage | np.ndarray:
    """Median over the window."""
    from sarlang.sar import kernels

    data = _intensity_array(image, "the Median filter")
    return _wrap(image, kernels.median_filter(data, *_window(size)))


def lee(image: SarImage | np.ndarray, size: int | tuple[int, int] = 3, looks: float | None = None) -> SarImage | np.ndarray:
    """Lee (1980) local-statistics filter, in SNAP's form (see the module docstring)."""
    from sarlang.sar import kernels

    return _moment(image, size, kernels.MODE_LEE, looks, 0.0, "Lee")


def kuan(image: SarImage | np.ndarray, size: int | tuple[int, int] = 3, looks: float | None = None) -> SarImage | np.ndarray:
    """Kuan, Sawchuk, Strand and Chavel (1985) filter."""
    from sarlang.sar import kernels

    return _moment(image, size, kernels.MODE_KUAN, looks, 0.0, "Kuan")


def gamma_map(image: SarImage | np.ndarray, size: int | tuple[int, int] = 3, looks: float | None = None) -> SarImage | np.ndarray:
    """Gamma MAP filter of Lopes, Touzi and Nezry (1990)."""
    from sarlang.sar import kernels

    return _moment(image, size, kernels.MODE_GAMMA_MAP, looks, 0.0, "Gamma Map")


@lru_cache(maxsize=32)
def _frost_rings(ky: int, kx: int) -> tuple[np.ndarray, np.ndarray]:
    oy, ox = ky // 2, kx // 2
    dist = np.hypot(*np.meshgrid(np.arange(ky) - oy, np.arange(kx) - ox, indexing="ij"))
    distinct, index = np.unique(np.round(dist, 12), return_inverse=True)
    return distinct.astype(np.float64), index.reshape(ky, kx).astype(np.int64)


def frost(image: SarImage | np.ndarray, size: int | tuple[int, int] = 3, damping: float = 2.0) -> SarImage | np.ndarray:
    """Frost, Stiles, Shanmugan and Holtzman (1982) adaptive exponential filter."""
    from sarlang.sar import kernels

    if damping < 0:
        raise SarlangError(f"damping factor must be non-negative, got {damping}")
    ky, kx = _window(size)
    return _moment(image, (ky, kx), kernels.MODE_FROST, 1.0, float(damping), "Frost", rings=_frost_rings(ky, kx))


@lru_cache(maxsize=1)
def _halves() -> np.ndarray:
    from sarlang.sar.kernels import half_window_offsets

    return half_window_offsets()


def refined_lee(image: SarImage | np.ndarray, looks: float | None = None) -> SarImage | np.ndarray:
    """Refined Lee filter (Lee 1981) with edge-aligned 7x7 windows."""
    from sarlang.sar import kernels

    data = _intensity_array(image, "the Refined Lee filter")
    sigma_v2 = 1.0 / _looks(data, looks)
    box3 = np.empty(data.shape, np.float32)
    moment_kernel(data, 3, 3, kernels.MODE_BOXCAR, 0.0, 0.0, _NO_RINGS, box3)
    out = np.empty(data.shape, np.float32)
    height, width = data.shape
    if _checked_everywhere(data) or height < 7 or width < 7:
        kernels.refined_lee(data, box3, sigma_v2, _halves(), out, 0, height, 0, width)
    else:
        flat_halves = _halves()[:, :, 0] * width + _halves()[:, :, 1]
        kernels.refined_lee_interior(data, box3, sigma_v2, flat_halves, out)
        for r_lo, r_hi, c_lo, c_hi in ((0, 3, 0, width), (height - 3, height, 0, width), (3, height - 3, 0, 3), (3, height - 3, width - 3, width)):
            kernels.refined_lee(data, box3, sigma_v2, _halves(), out, r_lo, r_hi, c_lo, c_hi)
    return _wrap(image, out)


@lru_cache(maxsize=64)
def sigma_range(looks: float, sigma: float) -> tuple[float, float, float]:
    """(eta1, eta2, speckle variance inside the range) for unit-mean Gamma speckle with ``looks`` looks.

    Solves P(eta1 <= v <= eta2) = sigma and E[v | eta1 <= v <= eta2] = 1 (Lee et al. 2009).
    """
    from scipy.optimize import brentq
    from scipy.special import gammainc, gammaincinv

    if not 0 < sigma < 1:
        raise SarlangError(f"sigma must lie in (0, 1), got {sigma}")
    L = float(looks)

    def upper(eta1: float) -> float:
        return float(gammaincinv(L, min(gammainc(L, L * eta1) + sigma, 1 - 1e-15)) / L)

    def mean_gap(eta1: float) -> float:
        eta2 = upper(eta1)
        return float(gammainc(L + 1, L * eta2) - gammainc(L + 1, L * eta1)) - sigma

    eta1_max = float(gammaincinv(L, 1 - sigma) / L) * (1 - 1e-9)
    eta1 = brentq(mean_gap, 1e-12, eta1_max, xtol=1e-12)
    eta2 = upper(eta1)
    second = (L + 1) / L * float(gammainc(L + 2, L * eta2) - gammainc(L + 2, L * eta1)) / sigma
    return eta1, eta2, second - 1.0


def lee_sigma(
    image: SarImage | np.ndarray,
    looks: float | None = None,
    sigma: float = 0.9,
    size: int = 7,
    target_size: int = 3,
    point_count: int = 5,
    percentile98: float | None = None,
) -> SarImage | np.ndarray:
    """Improved Lee sigma filter (Lee et al. 2009); see the module docstring.

    ``percentile98`` overrides the image's 98th percentile (block processing passes the scene's).
    """
    from sarlang.sar import kernels

    data = _intensity_array(image, "the Lee Sigma filter")
    if size % 2 == 0 or target_size % 2 == 0 or target_size > size:
        raise SarlangError(f"Lee Sigma needs odd window sizes with target ({target_size}) <= window ({size})")
    L = _looks(data, looks)
    eta1, eta2, sigma_vp2 = sigma_range(L, sigma)
    if percentile98 is None:
        finite = data[np.isfinite(data)]
        z98 = float(np.percentile(finite, 98)) if finite.size else np.inf
    else:
        z98 = float(percentile98)
    out = kernels.lee_sigma(data, size // 2, target_size // 2, 1.0 / L, eta1, eta2, sigma_vp2, z98, point_count)
    return _wrap(image, out)


def _filter_key(name: str) -> str:
    return name.strip().lower().replace("_", " ").replace("-", " ")


#: The speckle filters by SNAP's names (case, '-' and '_' do not matter); other packages add
#: theirs through the entry-point group ``sarlang.speckle_filters``.
SPECKLE_FILTERS = Entries("speckle filter", "sarlang.speckle_filters", {
    _filter_key(name): f"sarlang.sar.filters:{_filter_key(name).replace(' ', '_')}" for name in FILTERS
}, normalize=_filter_key)


def filter_function(name: str) -> Callable[..., Any]:
    """The filter called ``name`` (SNAP's names; case, '-' and '_' do not matter)."""
    if name not in SPECKLE_FILTERS:
        raise SarlangError(f"unknown speckle filter '{name}'", hint=f"use one of {', '.join(FILTERS)}")
    return SPECKLE_FILTERS.get(name)


def filter_parameters(name: str) -> tuple[str, ...]:
    """The parameters the filter called ``name`` takes (besides the image), e.g. ``("size", "looks")``."""
    return tuple(p for p in inspect.signature(filter_function(name)).parameters if p != "image")


def filter_options(name: str, looks: float | None = None, size: int | None = None) -> dict[str, Any]:
    """A filter's parameters from command-line style options: ``looks`` where it takes looks,
    ``size`` where it has a window (a clear error for a fixed-window filter)."""
    accepted = filter_parameters(name)
    params: dict[str, Any] = {}
    if looks is not None and "looks" in accepted:
        params["looks"] = looks
    if size is not None:
        if "size" not in accepted:
            raise SarlangError(f"the {name} filter has a fixed window", hint="leave out --size")
        params["size"] = size
    return params


def check_window(name: str, params: dict[str, Any], height: int, width: int) -> None:
    """Refuse a window SNAP would refuse (even sizes) or one larger than the ``height`` x ``width`` image.

    The filter functions themselves accept any size (an even window reproduces other tools, as
    findpeaks' 2x2); the named entry points (:func:`speckle_filter`, recipes, ``despeckle``) check.
    """
    func = filter_function(name)
    defaults = {p.name: p.default for p in inspect.signature(func).parameters.values()}
    sizes: list[tuple[str, Any]] = [(k, params.get(k, defaults.get(k))) for k in ("size", "target_size") if k in defaults]
    if func is refined_lee:
        sizes = [("window", 7)]
    for key, size in sizes:
        ky, kx = (size, size) if isinstance(size, int) else tuple(size)
        if not (isinstance(ky, int) and isinstance(kx, int)) or ky < 1 or kx < 1:
            raise SarlangError(f"{name}: {key} {size} must be a positive whole number of pixels")
        if ky % 2 == 0 or kx % 2 == 0:
            raise SarlangError(f"{name}: {key} {size} is even; SNAP's speckle filters take odd windows (3, 5, 7, ...)",
                               hint="a window needs a centre pixel")
        if ky > height or kx > width:
            raise SarlangError(f"{name}: the {ky}x{kx} {key} is larger than the {height}x{width} image")


def speckle_filter(image: SarImage | np.ndarray, name: str, **params: Any) -> SarImage | np.ndarray:
    """Apply the speckle filter called ``name`` (SNAP's names) with its parameters.

    Parameters
    ----------
    image:
        Linear intensity: a :class:`SarImage` in ``intensity`` units or a 2-D float array
        (NaN marks missing pixels).
    name:
        ``Boxcar``, ``Median``, ``Frost``, ``Gamma Map``, ``Lee``, ``Refined Lee``, ``Lee Sigma``,
        ``Kuan``, or a filter another package registered (case, ``-`` and ``_`` do not matter).
    params:
        The filter's own parameters: ``size`` (odd window, pixels), ``looks`` (estimated from
        the image when left out), ``damping`` (Frost), ``sigma`` (Lee Sigma).

    Returns
    -------
    SarImage or numpy.ndarray
        Filtered intensity, of the same kind as ``image``.

    Raises
    ------
    SarlangError
        An unknown filter, a window that is even or larger than the image, a bad parameter.
    UnitError
        Pixels that are not linear intensity.

    References (the formulas are in the module docstring): Lee (1980, 1981), Frost et al. (1982),
    Kuan et al. (1985), Lopes, Touzi and Nezry (1990), Lee, Wen, Ainsworth et al. (2009).
    """
    func = filter_function(name)
    shape = np.shape(image.data if isinstance(image, SarImage) else image)
    if len(shape) >= 2:
        check_window(name, params, int(shape[0]), int(shape[1]))
    try:
        return func(image, **params)
    except TypeError as exc:
        raise SarlangError(f"bad parameters for the {name} filter: {exc}") from None
