"""Labelled synthetic bi-temporal SAR pairs: two dates of one simulated place, with known changes.

The earlier date is :func:`sarlang.sar.simulate.simulate_scene`'s scene of the same seed, pixel
for pixel. The later date starts from the same noise-free backscatter and, on a share
``change_probability`` of the pairs, gets one or more of the changes SAR analysts look for:

``flood``     land next to the water turns into water (a dark, smooth area: the "flooded area");
``recede``    water next to the land turns into land (bright where it was dark: "receded flood water",
              the change of the real Ottawa pair, May to August 1997);
``ships``     some ships leave and others arrive on open water (the objects of each date say which);
``building``  a new building on bare soil or vegetation (bright double-bounce: "new building");
``harvest``   a vegetated field becomes bare soil (about 5 dB darker: "harvested field").

Every pair, changed or not, also gets what must *not* count as change: fresh speckle (an
independent realisation at the later date), a misregistration of 0.3 to ``max_shift`` pixels in a
random direction, and a calibration offset of up to ``max_offset_db`` dB. A pair whose later date
differs only by these is a no-change pair (its change map is empty). The change map holds the
changed areas and the hulls of the ships that came or went; each area is a labelled change
(:class:`~sarlang.schema.SceneObject` with its cause as category and its mask).

The same seed gives the same pair, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from sarlang.errors import SarlangError
from sarlang.schema import SarImage, Scene, SceneObject
from sarlang.sar.simulate import (CLASS_DB, CLASS_TEXTURE, LANDCOVER_CLASSES, OBJECT_DB, SimulationConfig, _box_of, _db, _local_mask,
                                  _oriented_rect, _sample_point, _smooth_field, scene_backscatter)

#: The changes a later date can get, and what each is called in labels, captions and answers.
CHANGE_KINDS: tuple[str, ...] = ("flood", "recede", "ships", "building", "harvest")
CAUSES: dict[str, str] = {"flood": "flooded area", "recede": "receded flood water", "building": "new building", "harvest": "harvested field"}


@dataclass(frozen=True)
class PairConfig:
    """What a simulated pair looks like: the scene (:class:`SimulationConfig`), how often and how
    much it changes, and the nuisances of every pair (pixels, dB)."""

    scene: SimulationConfig = field(default_factory=SimulationConfig)
    change_probability: float = 0.5
    max_changes: int = 2
    kinds: tuple[str, ...] = CHANGE_KINDS
    max_shift: float = 2.0
    max_offset_db: float = 1.5


def _objects_mask(objects: list[SceneObject], shape: tuple[int, int], grow: int = 2) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for o in objects:
        x, y, w, h = (int(v) for v in o.box)
        part = o.mask if o.mask is not None else np.ones((h, w), dtype=bool)
        mask[y : y + part.shape[0], x : x + part.shape[1]] |= part
    return ndimage.binary_dilation(mask, iterations=grow) if grow else mask


def _texture(rng: np.random.Generator, name: str, shape: tuple[int, int]) -> np.ndarray:
    t = ndimage.uniform_filter(rng.gamma(CLASS_TEXTURE[name], 1.0 / CLASS_TEXTURE[name], size=shape), size=2)
    return t / t.mean()


def _region(kind: str, rng: np.random.Generator, cover: np.ndarray, taken: np.ndarray, gsd: float) -> np.ndarray | None:
    """Where a change of ``kind`` happens (None when the scene has no room for it)."""
    shape = cover.shape
    area = shape[0] * shape[1]
    water = cover == LANDCOVER_CLASSES.index("water")
    if kind in ("flood", "recede"):
        if not water.any() or water.all():
            return None
        field_ = _smooth_field(rng, shape, scale=min(shape) / 6)
        if kind == "flood":  # land within reach of the water
            reach = ndimage.distance_transform_edt(~water)
            ground = np.isin(cover, [LANDCOVER_CLASSES.index(c) for c in ("bare soil", "vegetation")])
        else:  # water within reach of the land
            reach = ndimage.distance_transform_edt(water)
            ground = water
        region = ground & (reach <= min(shape) * rng.uniform(0.08, 0.2)) & (field_ > rng.uniform(-0.5, 0.3)) & ~taken
        region = ndimage.binary_opening(region, iterations=1)
    else:
        allowed = {"building": ("bare soil", "vegetation"), "harvest": ("vegetation",)}[kind]
        ground = np.isin(cover, [LANDCOVER_CLASSES.index(c) for c in allowed]) & ~taken
        point = _sample_point(rng, ndimage.binary_erosion(ground, iterations=3))
        if point is None:
            return None
        # a building of 20-60 m, but never under the share of the area that counts as change
        side = max(rng.uniform(20, 60) / gsd, math.sqrt(0.008 * area)) if kind == "building" else rng.uniform(0.12, 0.3) * min(shape)
        rect = _oriented_rect(shape, point, max(side, 4.0), max(side * rng.uniform(0.5, 1.0), 4.0), rng.uniform(0, math.pi))
        region = rect & ground
    if region.sum() < max(16, 0.006 * area):  # above the share that counts as change (corpus.change.CHANGE_SHARE)
        return None
    labels, n = ndimage.label(region)
    if n > 1:  # the largest piece: one change, one place
        sizes = ndimage.sum(region, labels, range(1, n + 1))
        region = labels == (int(np.argmax(sizes)) + 1)
    return region


def simulate_pair(seed: int, config: PairConfig | None = None, pair_id: str | None = None) -> Scene:
    """One labelled bi-temporal pair (see the module docstring): a :class:`Scene` with both
    dates' intensity (``pixels``, ``later_pixels``), both dates' objects, the change map, the
    labelled changes, and in ``pair_notes`` what was done (the changes applied, the shift in
    pixels (rows, columns), the calibration offset in dB).

    Raises:
        SarlangError: settings that cannot make a pair (an unknown change kind, a negative shift).
    """
    pc = config or PairConfig()
    unknown = [k for k in pc.kinds if k not in CHANGE_KINDS]
    if unknown or not 0 <= pc.change_probability <= 1 or pc.max_shift < 0 or pc.max_changes < 1:
        raise SarlangError(f"a pair cannot be simulated with kinds {list(pc.kinds)}, change probability {pc.change_probability}, "
                           f"shift {pc.max_shift} and {pc.max_changes} changes", hint=f"kinds among {', '.join(CHANGE_KINDS)}")
    c = pc.scene
    rng1, intensity1, _, cover, objects = scene_backscatter(seed, c)
    shape = (c.height, c.width)
    pixels1 = (intensity1 * rng1.gamma(c.looks, 1.0 / c.looks, size=shape)).astype(np.float32)  # as simulate_scene draws it
    rng = np.random.default_rng([seed, 2])
    intensity2 = intensity1.copy()
    later = [SceneObject(o.category, o.box, o.mask, dict(o.attributes)) for o in objects]
    change_map = np.zeros(shape, dtype=bool)
    changes: list[SceneObject] = []
    applied: list[str] = []
    taken = _objects_mask(objects, shape)
    if rng.random() < pc.change_probability:
        count = int(rng.integers(1, min(pc.max_changes, len(pc.kinds)) + 1))
        for kind in rng.permutation(np.array(pc.kinds))[:count]:
            kind = str(kind)
            if kind == "ships":
                moved = _ships_come_and_go(rng, c, cover, objects, later, intensity2, taken)
                if moved is not None:
                    change_map |= moved
                    applied.append(kind)
                continue
            region = _region(kind, rng, cover, taken | change_map, c.gsd)
            if region is None:
                continue
            target = {"flood": "water", "recede": "vegetation", "building": "urban", "harvest": "bare soil"}[kind]
            gain = _db(CLASS_DB[target] + (6.0 if kind == "building" else 0.0))
            intensity2[region] = gain * _texture(rng, target, shape)[region]
            change_map |= region
            box = _box_of(region)
            changes.append(SceneObject(CAUSES[kind], box, _local_mask(region, box), {"pixels": int(region.sum()), "kind": kind}))
            applied.append(kind)
    # nuisances every pair has: misregistration, calibration offset, fresh speckle
    magnitude = rng.uniform(0.3, pc.max_shift) if pc.max_shift >= 0.3 else pc.max_shift
    angle = rng.uniform(0, 2 * math.pi)
    shift = (magnitude * math.sin(angle), magnitude * math.cos(angle))
    intensity2 = ndimage.shift(intensity2, shift, order=1, mode="nearest")
    offset_db = float(rng.uniform(-pc.max_offset_db, pc.max_offset_db))
    intensity2 *= _db(offset_db)
    pixels2 = (intensity2 * rng.gamma(c.looks, 1.0 / c.looks, size=shape)).astype(np.float32)
    pid = pair_id or f"simpair-{seed:06d}"
    details = {"changes": applied, "shift_px": [round(v, 3) for v in shift], "calibration_offset_db": round(offset_db, 3)}
    return Scene(
        image="", width=c.width, height=c.height, objects=objects, gsd=c.gsd, sensor="the sarlang simulator (C-band, VV)",
        source="simulate_change", pixels=SarImage(pixels1, "intensity", polarization="VV", gsd=c.gsd, source=f"simulate_change:{seed}:1"),
        landcover=cover, landcover_classes=LANDCOVER_CLASSES, id=pid, dates=("date 1", "date 2"), later_objects=later,
        object_dates=(True, True), change_map=change_map, changes=changes,
        later_pixels=SarImage(pixels2, "intensity", polarization="VV", gsd=c.gsd, source=f"simulate_change:{seed}:2"), pair_notes=details,
    )


def _ships_come_and_go(rng: np.random.Generator, c: SimulationConfig, cover: np.ndarray, objects: list[SceneObject], later: list[SceneObject],
                       intensity2: np.ndarray, taken: np.ndarray) -> np.ndarray | None:
    """Some ships leave (their hulls become water), others arrive on open water; the hulls that
    changed, or None when no ship could come or go."""
    shape = cover.shape
    water = cover == LANDCOVER_CLASSES.index("water")
    open_water = ndimage.binary_erosion(water, iterations=max(1, int(60 / c.gsd)))
    changed = np.zeros(shape, dtype=bool)
    ships = [o for o in later if o.category == "ship"]
    for ship in [s for s in ships if rng.random() < 0.5]:
        hull = _objects_mask([ship], shape, grow=0)
        around = ndimage.binary_dilation(hull, iterations=2)
        intensity2[around] = _db(CLASS_DB["water"]) * _texture(rng, "water", shape)[around]
        later.remove(ship)
        changed |= hull
    occupied = taken.copy()
    for _ in range(int(rng.integers(0, 4))):
        length = rng.uniform(40, 200)
        point = _sample_point(rng, open_water & ~occupied)
        if point is None or length / c.gsd < 3:
            break
        hull = _oriented_rect(shape, point, length / c.gsd, max(length / 6 / c.gsd, 1.0), rng.uniform(0, math.pi))
        if not hull.any() or (hull & occupied).any():
            continue
        intensity2[hull] += _db(OBJECT_DB["ship"]) * rng.uniform(0.6, 1.6)
        box = _box_of(hull)
        later.append(SceneObject("ship", box, _local_mask(hull, box), {"length_m": round(length, 1), "arrived": True}))
        occupied |= ndimage.binary_dilation(hull, iterations=3)
        changed |= hull
    return changed if changed.any() else None
