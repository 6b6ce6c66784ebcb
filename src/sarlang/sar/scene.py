"""Large scenes by windows: a whole Sentinel-1 or TerraSAR-X raster, never read at once.

A scene is cut into ``tile`` x ``tile`` windows stepping by ``tile - overlap`` (a last row and
column aligned to the border, as :func:`~sarlang.sar.tiling.tile_starts` does). Each window is
read on its own (rasterio windows) and preprocessed with one recipe made *scene-wide* first
(:func:`scene_recipe`): the number of looks and the stretch limits are measured once on a sample
of windows spread over the whole scene, so neighbouring tiles get the same grey for the same
backscatter (per-tile percentiles would stretch a tile of open water as far as a tile of port).

Pixel boxes found in a tile go back to the scene's pixels (+ the window's offset) and to map
coordinates through the raster's affine transform; boxes of one category found twice in
overlapping tiles are merged by non-maximum suppression in map coordinates
(:func:`suppress_duplicates`), preferring the tile where the object lies farther from the border.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError
from sarlang.sar.recipes import Recipe, apply_recipe, check_window_fits, in_scale
from sarlang.sar.tiling import tile_starts

#: Sample windows per side of the scene for its statistics (at most this squared windows).
SAMPLE_GRID = 8
#: Side of a sample window, pixels.
SAMPLE_SIDE = 256


@dataclass(frozen=True)
class Window:
    """A tile of the scene: its index, first row and column, and size, in the scene's pixels."""

    index: int
    row: int
    col: int
    height: int
    width: int

    @property
    def name(self) -> str:
        return f"r{self.row}_c{self.col}"


def scene_windows(height: int, width: int, tile: int, overlap: int) -> list[Window]:
    """The tiles covering a ``height`` x ``width`` scene (row by row).

    Raises:
        InputError: a tile under 32 pixels, or an overlap not in 0 .. tile - 1.
    """
    if tile < 32 or not 0 <= overlap < tile:
        raise InputError(f"tile {tile} with overlap {overlap} is not usable", hint="a tile of at least 32 pixels and an overlap from 0 to tile - 1, e.g. --tile 512 --overlap 64")
    step = tile - overlap
    out = []
    for r in tile_starts(height, tile, step):
        for c in tile_starts(width, tile, step):
            out.append(Window(len(out), r, c, min(tile, height - r), min(tile, width - c)))
    return out


def read_window(path: str | Path, window: Window, units: str | None = None, band: int | None = None, polarization: str | None = None) -> Any:
    """One window of the raster (a :class:`~sarlang.schema.SarImage`)."""
    from sarlang.sar.io import read_sar

    return read_sar(path, polarization=polarization, band=band, window=(window.row, window.col, window.height, window.width), units=units)


def _sample_windows(height: int, width: int, grid: int = SAMPLE_GRID, side: int = SAMPLE_SIDE) -> Iterator[Window]:
    side = min(side, height, width)
    rows = np.linspace(0, height - side, min(grid, max(1, height // side))).astype(int)
    cols = np.linspace(0, width - side, min(grid, max(1, width // side))).astype(int)
    k = 0
    for r in sorted(set(rows.tolist())):
        for c in sorted(set(cols.tolist())):
            yield Window(k, r, c, side, side)
            k += 1


def scene_recipe(path: str | Path, recipe: Recipe, height: int, width: int, units: str | None = None,
                 band: int | None = None, polarization: str | None = None) -> tuple[Recipe, dict[str, Any]]:
    """``recipe`` with the scene's own looks and stretch limits fixed, measured on up to
    :data:`SAMPLE_GRID` squared windows of :data:`SAMPLE_SIDE` pixels spread over the scene: the
    looks as the median of the windows' estimates, the limits as the recipe's percentiles of all
    sampled pixels after its filter, in its scale. A recipe that stretches by a fixed window or
    not at all keeps its stretch. Returns the fixed recipe and what was measured."""
    from sarlang.sar.filters import LOOKS_RULES, estimate_looks, filter_parameters, speckle_filter
    from sarlang.sar.scaling import to_intensity

    looks, rules, values = [], [], []
    wants_looks = recipe.speckle_filter is not None and "looks" in filter_parameters(recipe.speckle_filter) and recipe.filter_params.get("looks") is None
    samples = list(_sample_windows(height, width))
    for w in samples:
        image = read_window(path, w, units, band, polarization)
        if image.units == "display8":
            image = image.with_data(np.asarray(image.data, dtype=np.float32), recipe.display8_as)
        intensity = to_intensity(image)
        finite = np.isfinite(intensity.data) & (intensity.data > 0)
        if finite.mean() < 0.5:
            continue  # mostly no-data (a scene's border)
        if wants_looks:
            found = estimate_looks(intensity.data)
            rules.append(found.rule)
            if found.rule != LOOKS_RULES[2]:
                looks.append(found.looks)
        values.append(intensity)
    if not values:
        raise InputError(f"'{path}' has no window with valid pixels to measure the scene on")
    params = dict(recipe.filter_params)
    measured: dict[str, Any] = {"sample_windows": len(values)}
    if wants_looks:
        params["looks"] = float(np.median(looks)) if looks else 1.0
        measured["looks"] = params["looks"]
        # how each window's estimate was found; a scene where none could be measured is single-look
        measured["looks_rules"] = {rule: rules.count(rule) for rule in LOOKS_RULES if rule in rules}
    fixed = replace(recipe, filter_params=params)
    if recipe.stretch == "window":
        check_window_fits(np.concatenate([in_scale(v, recipe.scale).ravel() for v in values]), recipe)
    if recipe.stretch != "percentile":
        return fixed, measured
    scaled = []
    for intensity in values:
        if recipe.speckle_filter is not None:
            intensity = speckle_filter(intensity, recipe.speckle_filter, **params)
        data = in_scale(intensity, recipe.scale)
        scaled.append(data[np.isfinite(data)].ravel())
    pixels = np.concatenate(scaled)
    low, high = (float(v) for v in np.percentile(pixels, [recipe.low, recipe.high]))
    if not high > low:
        high = low + 1e-6
    measured.update({"stretch_limits": [low, high], "stretch_units": recipe.scale})
    return replace(fixed, stretch="window", low=low, high=high), measured


def tile_picture(path: str | Path, window: Window, recipe: Recipe, units: str | None = None, band: int | None = None,
                 polarization: str | None = None) -> np.ndarray:
    """The 8-bit picture of one tile, preprocessed with the scene-wide recipe."""
    # a fixed window was checked on the scene's sample (scene_recipe); one tile may be all bright
    picture, _ = apply_recipe(read_window(path, window, units, band, polarization), recipe, check_window=False)
    return picture


def to_map(transform: Any, col: float, row: float) -> tuple[float, float]:
    """Map coordinates (x, y) of a pixel position (column, row; 0 is the top-left corner of the
    first pixel) through an affine transform; the pixel position itself without one."""
    if transform is None:
        return float(col), float(row)
    x, y = transform * (col, row)
    return float(x), float(y)


def box_polygon(transform: Any, box: Sequence[float]) -> list[tuple[float, float]]:
    """The closed ring (map coordinates) of a scene pixel box (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    corners = [to_map(transform, x1, y1), to_map(transform, x2, y1), to_map(transform, x2, y2), to_map(transform, x1, y2)]
    return corners + [corners[0]]


@dataclass
class Detection:
    """An object found in a tile: its category, box in scene pixels (x1, y1, x2, y2), score,
    tile, and how far (pixels) its box lies from the tile's nearest inner border (0: cut by it)."""

    category: str
    box: tuple[float, float, float, float]
    score: float
    tile: str
    margin: float


def border_margin(box: Sequence[float], window: Window, height: int, width: int) -> float:
    """Pixels between a scene box and the nearest border of its tile that is not the scene's own border."""
    gaps = []
    if window.col > 0:
        gaps.append(box[0] - window.col)
    if window.row > 0:
        gaps.append(box[1] - window.row)
    if window.col + window.width < width:
        gaps.append(window.col + window.width - box[2])
    if window.row + window.height < height:
        gaps.append(window.row + window.height - box[3])
    return max(0.0, min(gaps)) if gaps else math.inf


def box_overlap(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(shared area, area of ``a``, area of ``b``) of two pixel boxes (x1, y1, x2, y2), in square pixels."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    shared = w * h if w > 0 and h > 0 else 0.0
    return shared, (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])


def suppress_duplicates(found: Sequence[Detection], iou_threshold: float = 0.5, containment: float = 0.7) -> list[Detection]:
    """One detection per object of each category: ranked by score, then by distance from a tile
    border (a whole view of an object beats the cut one of the next tile), each is dropped when
    it overlaps a kept one of its category by ``iou_threshold`` IoU or lies ``containment`` of
    its area inside it. Boxes are in scene pixels, which map to map coordinates by one affine
    transform, so overlaps are the same in both."""
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: (-d.score, -min(d.margin, 1e9))):
        duplicate = False
        for k in kept:
            if k.category != d.category:
                continue
            inter, a, b = box_overlap(d.box, k.box)
            if inter <= 0:
                continue
            if inter / (a + b - inter) >= iou_threshold or inter / min(a, b) >= containment:
                duplicate = True
                break
        if not duplicate:
            kept.append(d)
    return kept
