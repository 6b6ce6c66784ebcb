"""Land-cover class rasters with a class table (OpenEarthMap-SAR style).

``path`` holds ``images/X.*`` (SAR pictures), ``labels/X.png|tif`` (one class index per pixel,
same size) and ``classes.json`` (``{"0": "background", "1": "bareland", ...}``) or
``classes.txt`` (one name per line, line n = index n). A scene per image with its land-cover
raster and no objects; an image without a label raster, or one of another size, is a reject.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene



def read_class_table(root: Path) -> tuple[str, ...]:
    if (root / "classes.json").exists():
        try:
            table = json.loads((root / "classes.json").read_text(encoding="utf-8"))
            size = max(int(k) for k in table) + 1
            if not isinstance(table, dict) or size < 1:
                raise ValueError("not a mapping of class indices")
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise InputError(f"'{root / 'classes.json'}' is not a class table: {exc}",
                             hint='a JSON object of class index -> name, e.g. {"0": "water", "1": "urban"}') from None
        return tuple(str(table.get(str(i), f"class {i}")) for i in range(size))
    if (root / "classes.txt").exists():
        return tuple(line.strip() for line in (root / "classes.txt").read_text(encoding="utf-8").splitlines() if line.strip())
    raise InputError(f"'{root}' has no classes.json or classes.txt", hint="list the class name of each index")


def read_landcover(path: str | Path, gsd: float | None = None, sensor: str = "") -> Iterator[Scene | Reject]:
    """The scenes of a land-cover folder (see the module docstring), each with its class raster and no objects.

    Args:
        path: The folder holding ``images/``, ``labels/`` and the class table.
        gsd: Ground sampling distance in metres per pixel, given to every scene (the format does not carry it).
        sensor: The sensor's name, given to every scene (e.g. ``MSTAR``, ``Sentinel-1``).

    Yields:
        A :class:`Scene` per image with a label raster of its size, a :class:`Reject` per other image.

    Raises:
        InputError: ``images/`` or ``labels/`` is missing, or the class table cannot be read.
    """
    from PIL import Image

    root = Path(path)
    if not (root / "images").is_dir() or not (root / "labels").is_dir():
        raise InputError(f"'{root}' needs images/ and labels/ folders")
    classes = read_class_table(root)
    for image in sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = next((root / "labels" / f"{image.stem}{s}" for s in (".png", ".tif", ".tiff") if (root / "labels" / f"{image.stem}{s}").exists()), None)
        if label is None:
            yield Reject(str(image), 0, "no label raster for this image", id=image.stem)
            continue
        try:
            with Image.open(image) as im:
                width, height = im.size
            with Image.open(label) as lb:
                cover = np.asarray(lb)
        except OSError as exc:
            yield Reject(str(image), 0, f"unreadable image or labels: {exc}", id=image.stem)
            continue
        if cover.ndim != 2 or cover.shape != (height, width):
            yield Reject(str(image), 0, f"label raster {cover.shape} does not match the image ({height}, {width})", id=image.stem)
            continue
        if cover.max() >= len(classes):
            yield Reject(str(image), 0, f"label index {int(cover.max())} is not in the class table ({len(classes)} classes)", id=image.stem)
            continue
        yield Scene(image=str(image), width=width, height=height, gsd=gsd, sensor=sensor, source="landcover",
                    landcover=cover, landcover_classes=classes, id=image.stem)


#: The entry point of this source (see sarlang.sources).
read = read_landcover
