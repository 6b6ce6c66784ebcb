"""Labelled synthetic SAR scenes: the embedded default data and an unlimited source of test scenes.

A scene is built in linear intensity, in this order:

1. **Land cover.** A smooth random field (Gaussian-filtered noise, correlation length about a
   fifth of the scene) is cut into water, bare soil, vegetation and urban by its quantiles;
   straight roads (about 12 m wide) cross the land, and on some scenes a paved apron (an
   airfield) is laid on land.
2. **Backscatter.** Each class gets its mean sigma0 (:data:`CLASS_DB`) and a texture:
   unit-mean Gamma with a class-specific shape (smooth water and roads, heterogeneous urban),
   smoothed a little so it has spatial structure.
3. **Objects**, sized in metres and drawn in pixels at the scene's GSD: ships on water
   (bright elongated hulls with range and azimuth sidelobes), aircraft (cross shapes) on the
   apron, cars on roads and aprons, storage tanks (bright rings) on bare soil, bridges where a
   road crosses water, and harbours (piers reaching into the water) at shorelines. Objects
   smaller than 2 pixels at the GSD are not drawn or labelled.
4. **Speckle.** Multiplication by unit-mean Gamma noise with ``looks`` looks, the model of
   multi-look intensity (Goodman 1976; Ulaby and Dobson 1989).

The same seed gives the same scene, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from sarlang.errors import SarlangError
from sarlang.schema import SarImage, Scene, SceneObject

LANDCOVER_CLASSES: tuple[str, ...] = ("water", "bare soil", "vegetation", "urban", "road", "pavement")

#: Mean backscatter (sigma0, dB) of each land-cover class, typical C-band VV values.
CLASS_DB: dict[str, float] = {"water": -22.0, "bare soil": -14.0, "vegetation": -9.0, "urban": -3.0, "road": -19.0, "pavement": -17.0}

#: Shape of the unit-mean Gamma texture of each class (larger = more homogeneous).
CLASS_TEXTURE: dict[str, float] = {"water": 60.0, "bare soil": 12.0, "vegetation": 6.0, "urban": 1.5, "road": 40.0, "pavement": 40.0}

OBJECT_DB: dict[str, float] = {"ship": 8.0, "aircraft": 5.0, "car": 2.0, "storage tank": 6.0, "bridge": 4.0, "harbor": 2.0}


@dataclass(frozen=True)
class SimulationConfig:
    """What a simulated scene looks like; sizes in pixels, ``gsd`` in metres per pixel."""

    height: int = 512
    width: int = 512
    gsd: float = 2.0
    looks: float = 1.0
    water_fraction: float = 0.35
    max_ships: int = 8
    max_tanks: int = 6
    max_cars: int = 12
    airfield_probability: float = 0.4
    harbor_probability: float = 0.5


def _db(value: float) -> float:
    return 10.0 ** (value / 10.0)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    # Filter a small grid and upsample: the same statistics as filtering a full-size grid, far cheaper.
    factor = max(1, int(scale // 8))
    small = (max(4, shape[0] // factor + 2), max(4, shape[1] // factor + 2))
    field = ndimage.gaussian_filter(rng.standard_normal(small), sigma=max(scale / factor, 1.0), mode="wrap")
    field = ndimage.zoom(field, (shape[0] / small[0] * 1.0001, shape[1] / small[1] * 1.0001), order=1)[: shape[0], : shape[1]]
    return (field - field.mean()) / (field.std() + 1e-12)


def _line_mask(shape: tuple[int, int], point: tuple[float, float], angle: float, half_width: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    distance = np.abs((cols - point[1]) * math.sin(angle) - (rows - point[0]) * math.cos(angle))
    return distance <= half_width


def _oriented_rect(shape: tuple[int, int], centre: tuple[float, float], length: float, width: float, angle: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    dr, dc = rows - centre[0], cols - centre[1]
    along = dc * math.cos(angle) + dr * math.sin(angle)
    across = -dc * math.sin(angle) + dr * math.cos(angle)
    return (np.abs(along) <= length / 2) & (np.abs(across) <= width / 2)


def _box_of(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))


def _local_mask(mask: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    return mask[y : y + h, x : x + w].copy()


class _Builder:
    def __init__(self, rng: np.random.Generator, config: SimulationConfig) -> None:
        self.rng = rng
        self.c = config
        self.shape = (config.height, config.width)
        self.objects: list[SceneObject] = []
        self.bright = np.zeros(self.shape)  # added intensity of objects (linear)

    def px(self, metres: float) -> float:
        return metres / self.c.gsd

    def place(self, category: str, mask: np.ndarray, gain_db: float, attributes: dict | None = None) -> None:
        box = _box_of(mask)
        if box is None or max(box[2], box[3]) < 2:
            return
        self.bright[mask] += _db(gain_db) * self.rng.uniform(0.6, 1.6)
        self.objects.append(SceneObject(category, box, _local_mask(mask, box), dict(attributes or {})))

    def free(self, mask: np.ndarray) -> bool:
        """No overlap with an object placed before (so boxes stay meaningful)."""
        return not (self.bright[mask] > 0).any()


def scene_backscatter(seed: int, config: SimulationConfig | None = None) -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray, list[SceneObject]]:
    """Steps 1 to 3 of the module docstring, before speckle: (the scene's random generator, its
    noise-free intensity with objects, the land-cover backscatter alone, the land-cover raster,
    the objects). :func:`simulate_scene` draws the speckle from the same generator next;
    :mod:`sarlang.sar.simulate_change` changes the backscatter for a later date.

    Raises:
        SarlangError: a scene too small for its contents, or a gsd or looks that is not positive.
    """
    c = config or SimulationConfig()
    if c.height < 16 or c.width < 16:
        raise SarlangError(f"a simulated scene needs at least 16x16 pixels, got {c.height}x{c.width}")
    if not c.gsd > 0 or not c.looks > 0:
        raise SarlangError("gsd and looks must be positive")
    rng = np.random.default_rng(seed)
    shape = (c.height, c.width)
    b = _Builder(rng, c)

    # 1. land cover
    field = _smooth_field(rng, shape, scale=min(shape) / 5)
    water_level = np.quantile(field, c.water_fraction) if c.water_fraction > 0 else -np.inf
    land_levels = np.quantile(field, [c.water_fraction + (1 - c.water_fraction) * q for q in (0.3, 0.75)])
    cover = np.full(shape, LANDCOVER_CLASSES.index("vegetation"), dtype=np.uint8)
    cover[field < land_levels[0]] = LANDCOVER_CLASSES.index("bare soil")
    cover[field >= land_levels[1]] = LANDCOVER_CLASSES.index("urban")
    cover[field < water_level] = LANDCOVER_CLASSES.index("water")
    water = cover == LANDCOVER_CLASSES.index("water")
    land = ~water
    roads = np.zeros(shape, dtype=bool)
    for _ in range(rng.integers(1, 3)):
        line = _line_mask(shape, (rng.uniform(0, c.height), rng.uniform(0, c.width)), rng.uniform(0, math.pi), max(b.px(6.0), 0.5))
        roads |= line
    cover[roads & land] = LANDCOVER_CLASSES.index("road")
    apron = np.zeros(shape, dtype=bool)
    if rng.random() < c.airfield_probability:
        h, w = int(c.height * rng.uniform(0.15, 0.3)), int(c.width * rng.uniform(0.2, 0.4))
        candidates = np.argwhere(ndimage.binary_erosion(land, iterations=max(1, min(h, w) // 4)))
        if len(candidates):
            r0, c0 = candidates[rng.integers(len(candidates))]
            r0, c0 = int(np.clip(r0 - h // 2, 0, c.height - h)), int(np.clip(c0 - w // 2, 0, c.width - w))
            apron[r0 : r0 + h, c0 : c0 + w] = True
            apron &= land
            cover[apron] = LANDCOVER_CLASSES.index("pavement")

    # 2. backscatter with texture
    sigma0 = np.zeros(shape)
    for index, name in enumerate(LANDCOVER_CLASSES):
        where = cover == index
        if not where.any():
            continue
        texture = rng.gamma(CLASS_TEXTURE[name], 1.0 / CLASS_TEXTURE[name], size=shape)
        texture = ndimage.uniform_filter(texture, size=2)
        sigma0[where] = _db(CLASS_DB[name]) * texture[where] / texture[where].mean()

    # 3. objects
    _add_harbors(b, water, land, rng)
    _add_bridges(b, water, roads, rng)
    _add_ships(b, water, rng)
    _add_aircraft(b, apron, rng)
    _add_cars(b, (cover == LANDCOVER_CLASSES.index("road")) | apron, rng)
    _add_tanks(b, cover == LANDCOVER_CLASSES.index("bare soil"), rng)
    intensity = sigma0 + b.bright
    return rng, intensity, sigma0, cover, b.objects


def simulate_scene(seed: int, config: SimulationConfig | None = None, scene_id: str | None = None) -> Scene:
    """One labelled synthetic SAR scene (see the module docstring).

    Parameters
    ----------
    seed:
        The scene's seed: the same seed and config give the same scene.
    config:
        Size in pixels, ground sampling distance in metres, looks (:class:`SimulationConfig`).
    scene_id:
        The scene's id (default from the seed).

    Returns
    -------
    Scene
        The scene with its pixels in linear intensity, its objects (boxes in pixels, masks) and
        its land-cover raster.

    Raises
    ------
    SarlangError
        A scene too small for its contents.
    """
    c = config or SimulationConfig()
    rng, intensity, _, cover, objects = scene_backscatter(seed, c)
    shape = (c.height, c.width)

    # 4. speckle
    speckle = rng.gamma(c.looks, 1.0 / c.looks, size=shape)
    pixels = (intensity * speckle).astype(np.float32)
    sid = scene_id or f"sim-{seed:06d}"
    return Scene(
        image="",
        width=c.width,
        height=c.height,
        objects=objects,
        gsd=c.gsd,
        sensor="the sarlang simulator (C-band, VV)",
        source="simulate",
        pixels=SarImage(pixels, "intensity", polarization="VV", gsd=c.gsd, source=f"simulate:{seed}"),
        landcover=cover,
        landcover_classes=LANDCOVER_CLASSES,
        id=sid,
    )


def _sample_point(rng: np.random.Generator, where: np.ndarray) -> tuple[float, float] | None:
    points = np.argwhere(where)
    if not len(points):
        return None
    r, col = points[rng.integers(len(points))]
    return float(r), float(col)


def _add_ships(b: _Builder, water: np.ndarray, rng: np.random.Generator) -> None:
    open_water = ndimage.binary_erosion(water, iterations=max(1, int(b.px(60))))
    for _ in range(rng.integers(0, b.c.max_ships + 1)):
        length = rng.uniform(30, 200)
        if b.px(length) < 2:
            continue
        point = _sample_point(rng, open_water)
        if point is None:
            return
        angle = rng.uniform(0, math.pi)
        hull = _oriented_rect(b.shape, point, b.px(length), max(b.px(length / 6), 1.0), angle)
        if not hull.any() or not b.free(hull):
            continue
        b.place("ship", hull, OBJECT_DB["ship"], {"length_m": round(length, 1), "heading_deg": round(math.degrees(angle), 1)})
        # sidelobes of the brightest scatterer, along range (columns) and azimuth (rows), not labelled
        r, col = int(point[0]), int(point[1])
        reach = int(max(b.px(length), 4))
        for offset in range(1, reach):
            fade = _db(OBJECT_DB["ship"] - 13.0 - 20.0 * math.log10(1 + offset))
            for rr, cc in ((r, col + offset), (r, col - offset), (r + offset, col), (r - offset, col)):
                if 0 <= rr < b.shape[0] and 0 <= cc < b.shape[1]:
                    b.bright[rr, cc] += fade


def _add_aircraft(b: _Builder, apron: np.ndarray, rng: np.random.Generator) -> None:
    if not apron.any():
        return
    inner = ndimage.binary_erosion(apron, iterations=max(1, int(b.px(30))))
    for _ in range(rng.integers(1, 7)):
        span = rng.uniform(25, 60)
        if b.px(span) < 3:
            return
        point = _sample_point(rng, inner)
        if point is None:
            return
        angle = rng.uniform(0, math.pi)
        body = _oriented_rect(b.shape, point, b.px(span), max(b.px(4), 1.0), angle)
        wings = _oriented_rect(b.shape, point, b.px(span * 0.9), max(b.px(4), 1.0), angle + math.pi / 2)
        plane = body | wings
        if b.free(plane):
            b.place("aircraft", plane, OBJECT_DB["aircraft"])


def _add_cars(b: _Builder, paved: np.ndarray, rng: np.random.Generator) -> None:
    if b.px(4.5) < 2 or not paved.any():
        return
    for _ in range(rng.integers(0, b.c.max_cars + 1)):
        point = _sample_point(rng, paved)
        if point is None:
            return
        car = _oriented_rect(b.shape, point, b.px(4.5), max(b.px(1.8), 1.0), rng.uniform(0, math.pi))
        if b.free(car):
            b.place("car", car, OBJECT_DB["car"])


def _add_tanks(b: _Builder, soil: np.ndarray, rng: np.random.Generator) -> None:
    inner = ndimage.binary_erosion(soil, iterations=max(1, int(b.px(40))))
    rows, cols = np.ogrid[: b.shape[0], : b.shape[1]]
    for _ in range(rng.integers(0, b.c.max_tanks + 1)):
        radius = b.px(rng.uniform(10, 40))
        if radius < 2:
            return
        point = _sample_point(rng, inner)
        if point is None:
            return
        distance = np.hypot(rows - point[0], cols - point[1])
        ring = (distance <= radius) & (distance >= radius - max(1.0, radius / 4))
        disk = distance <= radius
        if b.free(disk):
            b.place("storage tank", ring, OBJECT_DB["storage tank"], {"radius_m": round(radius * b.c.gsd, 1)})


MAX_BRIDGE_M = 800.0


def _add_bridges(b: _Builder, water: np.ndarray, roads: np.ndarray, rng: np.random.Generator) -> None:
    """A road crossing water becomes a bridge where the crossing is at most 800 m long (else the road stops at the shore)."""
    labels, n = ndimage.label(roads & water)
    for index in range(1, n + 1):
        part = labels == index
        box = _box_of(part)
        if box is None or math.hypot(box[2], box[3]) * b.c.gsd > MAX_BRIDGE_M:
            continue
        if part.sum() >= 4 and b.free(part):
            b.place("bridge", part, OBJECT_DB["bridge"])


def _add_harbors(b: _Builder, water: np.ndarray, land: np.ndarray, rng: np.random.Generator) -> None:
    if rng.random() >= b.c.harbor_probability:
        return
    shore = water & ndimage.binary_dilation(land, iterations=1)
    point = _sample_point(rng, shore)
    if point is None:
        return
    piers = np.zeros(b.shape, dtype=bool)
    # piers point from the shore into the water: along the direction of the nearest open water
    distance = ndimage.distance_transform_edt(water)
    gr, gc = np.gradient(distance)
    r, col = int(point[0]), int(point[1])
    angle = math.atan2(gr[r, col], gc[r, col]) if (gr[r, col] or gc[r, col]) else rng.uniform(0, math.pi)
    across = angle + math.pi / 2
    length = b.px(rng.uniform(80, 200))
    for k in range(-int(rng.integers(1, 4)), int(rng.integers(1, 4)) + 1):
        offset = k * b.px(40)
        centre = (point[0] + offset * math.sin(across) + length / 2 * math.sin(angle), point[1] + offset * math.cos(across) + length / 2 * math.cos(angle))
        piers |= _oriented_rect(b.shape, centre, length, max(b.px(8), 1.0), angle)
    piers &= water
    if piers.sum() >= 4 and b.free(piers):
        b.place("harbor", piers, OBJECT_DB["harbor"])


def simulate_large_scene(path: str | Path, size: int = 8000, objects: int = 200, seed: int = 0, gsd: float = 10.0, looks: int = 4,
                         crs: str = "EPSG:32631", origin: tuple[float, float] = (500000.0, 4000000.0), border_step: int = 448,
                         category: str = "ship") -> list[SceneObject]:
    """Write a georeferenced GeoTIFF of a large scene whose objects are known, row block by row
    block (never the whole raster in memory), and return its objects (boxes in pixels).

    Sea clutter of ``looks``-look gamma speckle around -20 dB, with bright rectangular objects
    (0 dB, 6 to 24 pixels a side, apart from each other by at least 8 pixels); a third of them
    straddle a multiple of ``border_step`` pixels (where tiles of ``sarlang scene`` with the
    default tile and overlap meet), so tile borders cut them. Intensity, float32, north-up at
    ``gsd`` metres per pixel from ``origin`` (the top-left corner) in ``crs``.
    """
    from sarlang.files import require

    rasterio = require("rasterio", "geotiff", "GeoTIFF output (rasterio)")
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    placed: list[tuple[int, int, int, int]] = []
    tries = 0
    while len(placed) < objects and tries < objects * 200:
        tries += 1
        w, h = (int(v) for v in rng.integers(6, 25, 2))
        if len(placed) < objects // 3 and size > border_step + 50:  # across a tile border
            line = border_step * int(rng.integers(1, max(2, size // border_step)))
            x, y = (line - int(rng.integers(1, w)), int(rng.integers(0, size - h))) if rng.random() < 0.5 else \
                   (int(rng.integers(0, size - w)), line - int(rng.integers(1, h)))
        else:
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
        if x < 0 or y < 0 or x + w > size or y + h > size:
            continue
        if any(x < px + pw + 8 and px < x + w + 8 and y < py + ph + 8 and py < y + h + 8 for px, py, pw, ph in placed):
            continue
        placed.append((x, y, w, h))
    placed.sort(key=lambda b: (b[1], b[0]))
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32", "crs": crs,
               "transform": from_origin(origin[0], origin[1], gsd, gsd), "tiled": True, "blockxsize": 256, "blockysize": 256}
    block = 512
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, size, block):
            rows = min(block, size - top)
            data = (0.01 * rng.gamma(looks, 1.0 / looks, size=(rows, size))).astype(np.float32)
            for x, y, w, h in placed:
                if y < top + rows and y + h > top:
                    r0, r1 = max(y, top) - top, min(y + h, top + rows) - top
                    data[r0:r1, x : x + w] = rng.gamma(looks, 1.0 / looks, size=(r1 - r0, w)).astype(np.float32)
            dst.write(data, 1, window=Window(0, top, size, rows))
        dst.update_tags(1, units="intensity")
    return [SceneObject(category, (float(x), float(y), float(w), float(h)), None, {}) for x, y, w, h in placed]
