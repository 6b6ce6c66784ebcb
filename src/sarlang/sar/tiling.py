"""Cutting scenes into tiles at the native resolution and at coarser ones.

One large scene gives tiles at several ground sampling distances, as SARLANG-1M's 0.1–25 m
range does: level ``k`` averages k x k pixels of linear intensity (multilooking, so the GSD is
k times coarser and speckle is reduced) and is then cut into ``tile_size`` tiles that step by
``tile_size - overlap`` and cover the whole image: where the steps do not end at the border, a
last row or column of tiles is aligned to the border (overlapping its neighbour more). Labels
follow the pixels:

- boxes are scaled by 1/k, shifted into the tile and clipped to it; an object stays in a tile
  when at least ``min_visible`` (default 0.5) of its box area lies inside the tile, and is
  marked ``truncated`` when part of it was cut off; objects smaller than ``min_size`` pixels
  (default 2) at that level are dropped;
- an object the tile border cuts so that less than ``min_visible`` of it is inside is a
  *sliver*: the tile shows part of it but cannot label it. When ``rejects`` is given, such a
  tile is left out and reported there with the reason (its "no" and count answers would be
  wrong); without it the sliver is simply not labelled;
- object masks are cut and downsampled with the box (a coarse pixel is on when any of its
  pixels was);
- land-cover rasters take the class of each block's top-left pixel (nearest neighbour).

Every tile records its level, GSD and window (row, column, rows, columns, in the level's pixels)
in ``Scene.id`` and in each object's ``attributes``.
"""

from __future__ import annotations

import math

import numpy as np

from sarlang.errors import SarlangError
from sarlang.schema import SarImage, Scene, SceneObject


def multilook(data: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block (NaN-aware), dropping incomplete edge blocks."""
    if factor == 1:
        return data
    h, w = (data.shape[0] // factor) * factor, (data.shape[1] // factor) * factor
    blocks = data[:h, :w].astype(np.float64).reshape(h // factor, factor, w // factor, factor)
    with np.errstate(invalid="ignore"):
        return np.nanmean(blocks, axis=(1, 3)).astype(np.float32) if np.isnan(blocks).any() else blocks.mean(axis=(1, 3)).astype(np.float32)


def _downsample_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return mask
    h, w = math.ceil(mask.shape[0] / factor) * factor, math.ceil(mask.shape[1] / factor) * factor
    padded = np.zeros((h, w), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    return padded.reshape(h // factor, factor, w // factor, factor).any(axis=(1, 3))


def _scaled_object(obj: SceneObject, factor: int) -> SceneObject:
    x, y, w, h = obj.box
    box = (x / factor, y / factor, w / factor, h / factor)
    mask = obj.mask
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        # a box-local mask starting at a non-multiple of the factor: pad it onto the coarse grid
        ox, oy = int(x) % factor, int(y) % factor
        grid = np.zeros((mask.shape[0] + oy, mask.shape[1] + ox), dtype=bool)
        grid[oy:, ox:] = mask
        mask = _downsample_mask(grid, factor)
        box = (float(int(x) // factor), float(int(y) // factor), float(mask.shape[1]), float(mask.shape[0]))
    return SceneObject(obj.category, box, mask, dict(obj.attributes))


def tile_scene(
    scene: Scene,
    tile_size: int = 512,
    levels: tuple[int, ...] = (1, 2, 4),
    overlap: int = 0,
    min_visible: float = 0.5,
    min_size: float = 2.0,
    rejects: list[tuple[str, str]] | None = None,
) -> list[Scene]:
    """Tiles of ``scene`` at each multilook level, with their labels (see the module docstring).

    Parameters
    ----------
    scene:
        A scene with its pixels in memory (``Scene.pixels``), in linear units or ``display8``.
    tile_size:
        Tile side in pixels of each level.
    levels:
        Multilook factors: level ``k`` averages ``k`` x ``k`` pixels (GSD ``k`` times coarser).
    overlap:
        Pixels shared by neighbouring tiles (the last row and column align to the border).
    min_visible:
        The share of an object's box that must be inside a tile for the tile to label it.
    min_size:
        Objects smaller than this many pixels at a level are dropped.
    rejects:
        When given, receives ``(tile id, reason)`` for each tile left out because its border cuts
        an object to a sliver (its labels would be incomplete).

    Returns
    -------
    list[Scene]
        The tiles, each in memory with its objects, GSD, window and the scene as its group.

    Raises
    ------
    SarlangError
        No pixels in memory, dB pixels, or impossible sizes.
    """
    if scene.pixels is None:
        raise SarlangError("tiling needs the scene's pixels in memory (Scene.pixels)")
    if tile_size < 8 or not 0 <= overlap < tile_size:
        raise SarlangError(f"tile size {tile_size} must be at least 8 and overlap {overlap} in 0..tile size - 1")
    if not 0 < min_visible <= 1:
        raise SarlangError(f"min_visible must lie in (0, 1], got {min_visible}")
    base = scene.pixels
    if base.units == "db":
        raise SarlangError("multilooking averages linear values; convert dB to intensity first")
    tiles: list[Scene] = []
    for level in levels:
        if level < 1:
            raise SarlangError(f"levels must be positive integers, got {level}")
        data = multilook(np.asarray(base.data, dtype=np.float32), level)
        if base.units == "display8":
            data = np.clip(np.round(data), 0, 255).astype(np.uint8)
        cover = None if scene.landcover is None else np.asarray(scene.landcover)[::level, ::level][: data.shape[0], : data.shape[1]]
        objects = [_scaled_object(o, level) for o in scene.objects]
        gsd = scene.gsd * level if scene.gsd else None
        height, width = data.shape
        step = tile_size - overlap
        for r in tile_starts(height, tile_size, step):
            for c in tile_starts(width, tile_size, step):
                th, tw = min(tile_size, height - r), min(tile_size, width - c)
                tile_id = f"{scene.id or 'scene'}_L{level}_r{r}_c{c}"
                clipped = [(obj, _clip(obj, r, c, th, tw, min_visible)) for obj in objects]
                slivers = [obj for obj, o in clipped if o is None and _overlaps(obj, r, c, th, tw) and max(obj.box[2], obj.box[3]) >= min_size]
                if slivers and rejects is not None:
                    rejects.append((tile_id, f"the tile border cuts {len(slivers)} object(s) ({slivers[0].category}) leaving less than "
                                             f"{min_visible:.0%} inside: its labels would be incomplete"))
                    continue
                kept = [o for _, o in clipped if o is not None and max(o.box[2], o.box[3]) >= min_size]
                window = (r, c, th, tw)
                for o in kept:
                    o.attributes.update(level=level, window=list(window))
                tiles.append(
                    Scene(
                        image="",
                        width=tw,
                        height=th,
                        objects=kept,
                        gsd=gsd,
                        sensor=scene.sensor,
                        source=scene.source,
                        split=scene.split,
                        pixels=SarImage(data[r : r + th, c : c + tw].copy(), base.units, base.polarization, gsd, source=base.source),
                        landcover=None if cover is None else cover[r : r + th, c : c + tw].copy(),
                        landcover_classes=scene.landcover_classes,
                        id=tile_id,
                        group=scene.group or scene.id,
                    )
                )
    return tiles


def tile_starts(length: int, tile_size: int, step: int) -> list[int]:
    """First pixels of the tiles along one axis: every ``step``, plus one aligned to the far border."""
    if length <= tile_size:
        return [0]
    starts = list(range(0, length - tile_size + 1, step))
    if starts[-1] + tile_size < length:
        starts.append(length - tile_size)
    return starts


def _overlaps(obj: SceneObject, r: int, c: int, th: int, tw: int) -> bool:
    x, y, w, h = obj.box
    return min(x + w, c + tw) > max(x, c) and min(y + h, r + th) > max(y, r)


def _clip(obj: SceneObject, r: int, c: int, th: int, tw: int, min_visible: float) -> SceneObject | None:
    x, y, w, h = obj.box
    x0, y0 = max(x, c), max(y, r)
    x1, y1 = min(x + w, c + tw), min(y + h, r + th)
    if x1 <= x0 or y1 <= y0:
        return None
    area = w * h
    if area <= 0 or (x1 - x0) * (y1 - y0) / area < min_visible:
        return None
    mask = obj.mask
    if mask is not None:
        mask = np.asarray(mask)[int(round(y0 - y)) : int(round(y1 - y)), int(round(x0 - x)) : int(round(x1 - x))].copy()
    truncated = (x0, y0, x1, y1) != (x, y, x + w, y + h)
    attributes = dict(obj.attributes)
    if truncated:
        attributes["truncated"] = True
    return SceneObject(obj.category, (x0 - c, y0 - r, x1 - x0, y1 - y0), mask, attributes)


def tile_pair(scene: Scene, tile_size: int, block: int = 2, min_visible: float = 0.5, min_size: float = 2.0,
              rejects: list[tuple[str, str]] | None = None) -> list[Scene]:
    """Windows of a bi-temporal pair: both dates, the change map, the labelled changes and each
    date's objects cut on one grid of ``tile_size`` windows (no overlap; a last row and column
    aligned to the border), at the native resolution.

    A pair's windows are split by *block*: each window's group is the block of ``block`` x
    ``block`` windows its first pixel lies in, so all windows of a block share a split and a
    window never overlaps one of another block (the border-aligned last window shares the block
    of the window it overlaps). A change region cut by a window keeps the part inside (when at
    least 4 pixels); objects follow :func:`tile_scene`'s rules, and a window whose border cuts an
    object of either date to a sliver is left out (reported in ``rejects``).

    Raises:
        SarlangError: a scene that is not a pair with both dates' pixels in memory, or a bad size.
    """
    if scene.pixels is None or scene.later_pixels is None:
        raise SarlangError("tiling a pair needs both dates' pixels in memory (Scene.pixels, Scene.later_pixels)")
    if tile_size < 8 or block < 1:
        raise SarlangError(f"tile size {tile_size} must be at least 8 and the block at least 1 window")
    first, second = np.asarray(scene.pixels.data), np.asarray(scene.later_pixels.data)
    height, width = first.shape[:2]
    change_map = None if scene.change_map is None else np.asarray(scene.change_map, dtype=bool)
    span = tile_size * block
    tiles: list[Scene] = []
    for r in tile_starts(height, tile_size, tile_size):
        for c in tile_starts(width, tile_size, tile_size):
            th, tw = min(tile_size, height - r), min(tile_size, width - c)
            tile_id = f"{scene.id or 'pair'}_r{r}_c{c}"
            dates = []
            for objects in (scene.objects, scene.later_objects):
                clipped = [(obj, _clip(obj, r, c, th, tw, min_visible)) for obj in objects]
                slivers = [obj for obj, o in clipped if o is None and _overlaps(obj, r, c, th, tw) and max(obj.box[2], obj.box[3]) >= min_size]
                dates.append(([o for _, o in clipped if o is not None and max(o.box[2], o.box[3]) >= min_size], slivers))
            slivers = dates[0][1] + dates[1][1]
            if slivers and rejects is not None:
                rejects.append((tile_id, f"the window border cuts {len(slivers)} object(s) ({slivers[0].category}) leaving less than "
                                         f"{min_visible:.0%} inside: its labels would be incomplete"))
                continue
            changes = [part for part in (_crop_change(ch, r, c, th, tw) for ch in scene.changes) if part is not None]
            tiles.append(Scene(
                image="", width=tw, height=th, objects=dates[0][0], gsd=scene.gsd, sensor=scene.sensor, source=scene.source, split=scene.split,
                pixels=scene.pixels.with_data(first[r : r + th, c : c + tw].copy()), id=tile_id,
                group=f"{scene.group or scene.id}:block{r // span}-{c // span}", dates=scene.dates, later_objects=dates[1][0],
                object_dates=scene.object_dates, change_map=None if change_map is None else change_map[r : r + th, c : c + tw].copy(),
                changes=changes, later_pixels=scene.later_pixels.with_data(second[r : r + th, c : c + tw].copy()), pair_notes=dict(scene.pair_notes),
            ))
    return tiles


def _crop_change(change: SceneObject, r: int, c: int, th: int, tw: int) -> SceneObject | None:
    """The part of a labelled change region inside a window (None when under 4 pixels)."""
    x, y, w, h = (int(round(v)) for v in change.box)
    mask = np.ones((h, w), dtype=bool) if change.mask is None else np.asarray(change.mask, dtype=bool)
    y0, y1, x0, x1 = max(y, r), min(y + h, r + th), max(x, c), min(x + w, c + tw)
    if y1 <= y0 or x1 <= x0:
        return None
    part = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    if part.sum() < 4:
        return None
    rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
    part = part[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = (float(x0 - c + cols[0]), float(y0 - r + rows[0]), float(part.shape[1]), float(part.shape[0]))
    return SceneObject(change.category, box, part.copy(), {**change.attributes, "pixels": int(part.sum())})
