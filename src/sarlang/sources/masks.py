"""Instance or binary masks (as HRSID's): one mask picture per image.

Two layouts are recognised in a folder:

- ``images/X.jpg`` + ``masks/X.png``: binary masks, object pixels non-black (HRSID's are
  green on black). Instances are the 8-connected components of the mask, so ships that touch
  merge into one instance (the statistics count them as one, as any tool reading these masks
  would).
- ``X.png`` + ``X_instance_id_RGB.png``: one colour per instance on black (the official HRSID
  release). Each distinct colour is one instance.

Every instance becomes an object of ``category`` (default ``ship``) with its box and mask. An
image without its mask, or a mask of another size, is a reject; an empty mask gives a scene
without objects (a valid negative).

How to cite HRSID: Wei, Zeng, Qu, Wang, Su and Shi, "HRSID: A High-Resolution SAR Images Dataset
for Ship Detection and Instance Segmentation", IEEE Access 8, 2020, doi:10.1109/ACCESS.2020.3005861.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy import ndimage

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene, SceneObject

INSTANCE_SUFFIX = "_instance_id_RGB"


def _objects_from_labels(labels: np.ndarray, count: int, category: str, min_pixels: int) -> list[SceneObject]:
    objects = []
    for index, slc in enumerate(ndimage.find_objects(labels), start=1):
        if slc is None:
            continue
        mask = labels[slc] == index
        if mask.sum() < min_pixels:
            continue
        y, x = slc[0].start, slc[1].start
        objects.append(SceneObject(category, (float(x), float(y), float(mask.shape[1]), float(mask.shape[0])), mask, {"pixels": int(mask.sum())}))
    return objects


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def read_masks(path: str | Path, category: str = "ship", gsd: float | None = None, sensor: str = "", min_pixels: int = 4) -> Iterator[Scene | Reject]:
    """The scenes of a mask folder (see the module docstring): one object per mask instance.

    Args:
        path: The folder, in one of the two layouts of the module docstring.
        category: The category of every instance (masks carry no class).
        gsd: Ground sampling distance in metres per pixel, given to every scene (the format does not carry it).
        sensor: The sensor's name, given to every scene (e.g. ``MSTAR``, ``Sentinel-1``).
        min_pixels: Instances of fewer pixels are noise and left out.

    Yields:
        A :class:`Scene` per image (boxes in pixels, masks kept), a :class:`Reject` per image without a usable mask.

    Raises:
        InputError: the path is not a folder, or holds neither layout.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"masks source '{root}' is not a folder")
    pairs: list[tuple[Path, Path | None, str]] = []
    if (root / "images").is_dir():
        for image in sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            mask = next((root / "masks" / f"{image.stem}{s}" for s in (".png", ".tif", ".bmp") if (root / "masks" / f"{image.stem}{s}").exists()), None)
            pairs.append((image, mask, "binary"))
    else:
        for image in sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and "_instance_" not in p.stem):
            mask = root / f"{image.stem}{INSTANCE_SUFFIX}.png"
            pairs.append((image, mask if mask.exists() else None, "instance"))
    if not pairs:
        raise InputError(f"no images found in '{root}'", hint="expected images/ + masks/, or X.png with X_instance_id_RGB.png")
    from PIL import Image

    for image, mask_path, kind in pairs:
        source = str(image)
        if mask_path is None:
            yield Reject(source, 0, "no mask for this image", id=image.stem)
            continue
        try:
            with Image.open(image) as im:
                width, height = im.size
            rgb = _read_rgb(mask_path)
        except OSError as exc:
            yield Reject(source, 0, f"unreadable image or mask: {exc}", id=image.stem)
            continue
        if rgb.shape[:2] != (height, width):
            yield Reject(source, 0, f"mask is {rgb.shape[1]}x{rgb.shape[0]}, image {width}x{height}", id=image.stem)
            continue
        if kind == "binary":
            labels, count = ndimage.label(rgb.max(axis=2) > 127, structure=np.ones((3, 3)))
        else:
            codes = rgb[:, :, 0].astype(np.int64) << 16 | rgb[:, :, 1].astype(np.int64) << 8 | rgb[:, :, 2]
            values, inverse = np.unique(codes, return_inverse=True)
            labels = inverse.reshape(codes.shape)
            if values[0] != 0:  # no black background: every label shifts by one
                labels = labels + 1
            count = int(labels.max())
        objects = _objects_from_labels(labels, count, category, min_pixels)
        yield Scene(image=str(image), width=width, height=height, objects=objects, gsd=gsd, sensor=sensor, source="masks", id=image.stem)


#: The entry point of this source (see sarlang.sources).
read = read_masks
