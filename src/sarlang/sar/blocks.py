"""Speckle-filtering scenes larger than memory, in overlapping blocks.

The scene is read block by block with a halo of the filter's reach around each block, filtered,
and the block's core written to a tiled float32 GeoTIFF. Parameters that depend on the whole
image (the number of looks, Lee Sigma's 98th percentile) are estimated once first, from a
sample of windows spread over the whole scene on a grid that depends only on the scene's size
(never on the block size, and skipping no-data pixels), so every block is filtered with the same
values, the result does not depend on ``block``, and it equals filtering the whole image at once. Memory stays at a few blocks: about 100 MB for 2048-pixel blocks,
whatever the scene size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import SarlangError
from sarlang.files import atomic_path
from sarlang.sar import filters

# How far each filter reaches beyond the output pixel (pixels).
_FIXED_HALO = {"refined lee": 3}


def filter_halo(name: str, params: dict[str, Any]) -> int:
    key = filters.filter_function(name).__name__.replace("_", " ")
    if key in _FIXED_HALO:
        return _FIXED_HALO[key]
    size = params.get("size", 7 if key == "lee sigma" else 3)
    k = max(size) if isinstance(size, (tuple, list)) else int(size)
    return k // 2 + 1


def block_windows(height: int, width: int, block: int) -> list[tuple[int, int, int, int]]:
    """(row, column, rows, columns) of full-width strips of about ``block`` x ``block`` pixels each.

    Strips span the whole width so every row's window sums start at its first column, whatever
    the block size (see :func:`sarlang.sar.filters.position_independent`).
    """
    rows = max(1, (block * block) // max(width, 1))
    return [(r, 0, min(rows, height - r), width) for r in range(0, height, rows)]


def _radiometry(image: Any, display8_as: str) -> Any:
    """An 8-bit picture's values as ``display8_as`` (the recipes' reading of such pictures); any other image as it is."""
    if image.units == "display8":
        return image.with_data(np.asarray(image.data, dtype=np.float32), display8_as)
    return image


def filter_raster(
    source: str | Path,
    target: str | Path,
    name: str,
    block: int = 2048,
    polarization: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    display8_as: str = "amplitude",
    notes: list[str] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Speckle-filter a raster of any size into a float32 GeoTIFF, block by block.

    Parameters
    ----------
    source:
        The SAR raster: amplitude, intensity, dB or complex, or an 8-bit picture (HRSID's and
        MSTAR's JPEGs, PNGs) whose values are read as ``display8_as``.
    target:
        The output GeoTIFF of filtered intensity, written atomically (georeferencing kept).
    name:
        The filter (see :func:`sarlang.sar.filters.speckle_filter`).
    block:
        About ``block`` x ``block`` pixels are filtered at a time (full-width strips); memory
        grows with its square, the output does not depend on it.
    polarization:
        The band to filter by name.
    on_progress:
        ``on_progress(done, total)`` per strip.
    display8_as:
        What an 8-bit picture's values are: ``amplitude`` (the default, as the recipes read them:
        the 8-bit products SAR datasets ship are amplitude-like), ``intensity`` or ``db``.
    notes:
        When given, what was decided on the way is appended for the user: how the looks were
        estimated (:func:`sarlang.sar.filters.estimate_looks`'s rule), how an 8-bit picture was read.
    params:
        The filter's parameters; ``looks`` is estimated from the whole scene when left out.

    Returns
    -------
    dict
        The parameters used, estimated ones included (``looks``; ``percentile98`` for Lee Sigma).

    Raises
    ------
    SarlangError
        An unknown filter, a bad window, a display picture, a scene too small to estimate looks.
    """
    from affine import Affine

    from sarlang.sar.io import _rasterio, raster_header, read_sar
    from sarlang.sar.scaling import to_intensity

    rasterio = _rasterio()
    from rasterio.windows import Window

    src_path = Path(source)
    height, width, crs, transform = raster_header(src_path)
    profile = {"crs": crs, "transform": transform}
    func = filters.filter_function(name)
    filters.check_window(name, params, height, width)
    if display8_as not in ("amplitude", "intensity", "db"):
        raise SarlangError(f"8-bit pictures are read as amplitude, intensity or db, not '{display8_as}'")
    corner = read_sar(src_path, polarization=polarization, window=(0, 0, min(height, 8), min(width, 8)))
    picture = corner.units == "display8"

    def intensity_of(image: Any) -> Any:
        return to_intensity(_radiometry(image, display8_as))

    halo = filter_halo(name, params)
    windows = block_windows(height, width, block)
    used = dict(params)
    accepts = filters.filter_parameters(name)
    sample = None
    if ("looks" in accepts and used.get("looks") is None) or func is filters.lee_sigma:
        sample = _sample(src_path, height, width, polarization, intensity_of, read_sar)
    if "looks" in accepts and used.get("looks") is None:
        found = filters.estimate_looks(sample)
        used["looks"] = found.looks
        if notes is not None:
            notes.append(f"looks estimated on the scene's sample windows: {found.describe()}")
    percentile98 = None
    if func is filters.lee_sigma:
        finite = sample[np.isfinite(sample)]
        percentile98 = float(np.percentile(finite, 98)) if finite.size else np.inf
    out_profile = {
        "driver": "GTiff", "height": height, "width": width, "count": 1, "dtype": "float32", "nodata": np.nan,
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "BIGTIFF": "IF_SAFER",
        "crs": profile["crs"], "transform": profile["transform"] or Affine.identity(),
    }
    with atomic_path(target) as tmp, rasterio.open(tmp, "w", **out_profile) as dst, filters.position_independent():
        for done, (r, c, h, w) in enumerate(windows, start=1):
            r0, c0 = max(0, r - halo), max(0, c - halo)
            r1, c1 = min(height, r + h + halo), min(width, c + w + halo)
            tile = intensity_of(read_sar(src_path, polarization=polarization, window=(r0, c0, r1 - r0, c1 - c0)))
            kwargs = dict(used)
            if percentile98 is not None:
                kwargs["_z98"] = percentile98
            result = _call(func, tile.data, kwargs)
            core = result[r - r0 : r - r0 + h, c - c0 : c - c0 + w]
            dst.write(np.ascontiguousarray(core, dtype=np.float32), 1, window=Window(c, r, w, h))
            if on_progress:
                on_progress(done, len(windows))
        dst.update_tags(1, units="intensity", speckle_filter=name)
    if percentile98 is not None:
        used["percentile98"] = percentile98
    if picture and notes is not None:
        notes.append(f"an 8-bit picture: its values read as {display8_as} (--display8-as)")
    return used


def sample_windows(height: int, width: int, grid: int = 4, size: int = 512) -> list[tuple[int, int, int, int]]:
    """(row, column, rows, columns) of ``grid`` x ``grid`` windows spread evenly over a scene.

    Each window is at most ``size`` pixels square; the grid depends only on the scene's size.
    """
    h, w = min(size, height), min(size, width)
    rows = sorted({int(v) for v in np.linspace(0, height - h, grid)})
    cols = sorted({int(v) for v in np.linspace(0, width - w, grid)})
    return [(r, c, h, w) for r in rows for c in cols]


def _sample(path: Path, height: int, width: int, polarization: str | None, to_intensity: Any, read_sar: Any) -> np.ndarray:
    """Windows spread over the whole scene (:func:`sample_windows`), cut to 16-pixel multiples and stacked.

    No-data pixels stay NaN: the ENL estimate skips blocks holding any, the percentile skips them.
    """
    parts = []
    for r, c, h, w in sample_windows(height, width):
        part = to_intensity(read_sar(path, polarization=polarization, window=(r, c, h, w))).data
        parts.append(part[: (part.shape[0] // 16) * 16, : (part.shape[1] // 16) * 16])
    widest = min(p.shape[1] for p in parts)
    if widest == 0 or min(p.shape[0] for p in parts) == 0:  # under 16 pixels: the estimator says it assumed its looks
        return to_intensity(read_sar(path, polarization=polarization)).data
    return np.concatenate([p[:, :widest] for p in parts], axis=0)


def _call(func: Any, data: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    z98 = kwargs.pop("_z98", None)
    if z98 is not None:
        return filters.lee_sigma(data, percentile98=z98, **kwargs)
    return func(data, **kwargs)
