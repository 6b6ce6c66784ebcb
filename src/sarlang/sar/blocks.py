"""Speckle-filtering scenes larger than memory, in overlapping blocks.

The scene is read block by block with a halo of the filter's reach around each block, filtered,
and the block's core written to a tiled float32 GeoTIFF. Parameters that depend on the whole
image (the number of looks, Lee Sigma's 98th percentile) are estimated once from a sample of
blocks first, so every block is filtered with the same values and the result equals filtering
the whole image at once. Memory stays at a few blocks: about 100 MB for 2048-pixel blocks,
whatever the scene size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import SarlangError
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
    """(row, column, rows, columns) of the blocks covering the image."""
    return [(r, c, min(block, height - r), min(block, width - c)) for r in range(0, height, block) for c in range(0, width, block)]


def filter_raster(
    source: str | Path,
    target: str | Path,
    name: str,
    block: int = 2048,
    polarization: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Filter a raster's intensity into a float32 GeoTIFF at ``target``, block by block.

    Returns the parameters used (looks and, for Lee Sigma, the 98th percentile, estimated once).
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
    halo = filter_halo(name, params)
    windows = block_windows(height, width, block)
    used = dict(params)
    accepts = func.__code__.co_varnames[: func.__code__.co_argcount]
    if "looks" in accepts and used.get("looks") is None:
        sample = _sample(src_path, windows, polarization, to_intensity, read_sar)
        used["looks"] = filters.estimate_enl(sample)
    percentile98 = None
    if func is filters.lee_sigma:
        sample = _sample(src_path, windows, polarization, to_intensity, read_sar)
        finite = sample[np.isfinite(sample)]
        percentile98 = float(np.percentile(finite, 98)) if finite.size else np.inf
    out_profile = {
        "driver": "GTiff", "height": height, "width": width, "count": 1, "dtype": "float32", "nodata": np.nan,
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "BIGTIFF": "IF_SAFER",
        "crs": profile["crs"], "transform": profile["transform"] or Affine.identity(),
    }
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    try:
        with rasterio.open(tmp, "w", **out_profile) as dst:
            for done, (r, c, h, w) in enumerate(windows, start=1):
                r0, c0 = max(0, r - halo), max(0, c - halo)
                r1, c1 = min(height, r + h + halo), min(width, c + w + halo)
                tile = to_intensity(read_sar(src_path, polarization=polarization, window=(r0, c0, r1 - r0, c1 - c0)))
                kwargs = dict(used)
                if percentile98 is not None:
                    kwargs["_z98"] = percentile98
                result = _call(func, tile.data, kwargs)
                core = result[r - r0 : r - r0 + h, c - c0 : c - c0 + w]
                dst.write(np.ascontiguousarray(core, dtype=np.float32), 1, window=Window(c, r, w, h))
                if on_progress:
                    on_progress(done, len(windows))
            dst.update_tags(1, units="intensity", speckle_filter=name)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if percentile98 is not None:
        used["percentile98"] = percentile98
    return used


def _sample(path: Path, windows: list[tuple[int, int, int, int]], polarization: str | None, to_intensity: Any, read_sar: Any, count: int = 16) -> np.ndarray:
    """Up to ``count`` blocks spread over the scene (at most 512x512 pixels each), stacked."""
    large = [w for w in windows if min(w[2], w[3]) >= 64] or windows
    picks = [large[i] for i in np.linspace(0, len(large) - 1, min(count, len(large))).astype(int)]
    parts = []
    for r, c, h, w in picks:
        part = to_intensity(read_sar(path, polarization=polarization, window=(r, c, min(h, 512), min(w, 512)))).data
        parts.append(part[: (part.shape[0] // 16) * 16, : (part.shape[1] // 16) * 16])
    widest = min(p.shape[1] for p in parts)
    if widest == 0:
        raise SarlangError(f"'{path}' is too small (under 16 pixels) to estimate the number of looks from", hint="pass looks= explicitly")
    return np.concatenate([p[:, :widest] for p in parts], axis=0)


def _call(func: Any, data: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    z98 = kwargs.pop("_z98", None)
    if z98 is not None:
        return filters.lee_sigma(data, percentile98=z98, **kwargs)
    return func(data, **kwargs)
