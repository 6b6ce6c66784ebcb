"""GeoJSON of a large scene's results: one feature per object and one per tile.

The raster's CRS is recorded in the FeatureCollection's ``crs`` member (the 2008 GeoJSON
convention GDAL and QGIS read; RFC 7946 dropped it and assumes WGS84 longitude/latitude, which
``wgs84`` output gives by reprojecting every coordinate with rasterio). A raster without
georeferencing is written in pixel coordinates (x right, y down), and the collection says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The CRS member of a collection in pixel coordinates (not a CRS: said in ``coordinates``).
PIXELS = "pixels"


def polygon(ring: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """A GeoJSON polygon of one closed ring."""
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def reproject_rings(features: list[dict[str, Any]], crs: Any) -> None:
    """Every polygon of ``features`` from ``crs`` to WGS84 longitude/latitude, in place."""
    from rasterio.warp import transform as warp

    for feature in features:
        rings = feature["geometry"]["coordinates"]
        for ring in rings:
            xs, ys = warp(crs, "EPSG:4326", [p[0] for p in ring], [p[1] for p in ring])
            ring[:] = [[round(x, 8), round(y, 8)] for x, y in zip(xs, ys)]


def feature_collection(features: list[dict[str, Any]], crs: Any, wgs84: bool, properties: dict[str, Any]) -> dict[str, Any]:
    """The collection: ``crs`` recorded (or WGS84 after reprojection, or pixel coordinates)."""
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features, "properties": properties}
    if crs is None:
        collection["properties"] = {**properties, "coordinates": "pixels of the raster (x right, y down): it has no georeferencing"}
        return collection
    if wgs84:
        reproject_rings(features, crs)
        collection["properties"] = {**properties, "coordinates": "WGS84 longitude, latitude (RFC 7946)", "source_crs": str(crs)}
        return collection
    name = crs.to_string() if hasattr(crs, "to_string") else str(crs)
    collection["crs"] = {"type": "name", "properties": {"name": name}}
    collection["properties"] = {**properties, "coordinates": f"map coordinates of {name}"}
    return collection


def write_geojson(path: str | Path, collection: dict[str, Any]) -> None:
    """Write the collection atomically."""
    from sarlang.files import atomic_write_text

    atomic_write_text(path, json.dumps(collection, ensure_ascii=False))
