"""COCO detection JSON (SARDet-100K's layout: ``Annotations/{train,val,test}.json`` + ``JPEGImages/``).

``path`` is that folder, or one COCO JSON file. The split is the JSON file's name when it is one
of train / val / test, and is kept. Boxes are COCO ``[x, y, w, h]`` in pixels; a box reaching
past the image is clipped. An annotation that is unusable — a box with no area inside the image
or with a coordinate that is not a finite number, an unknown ``category_id``, a category id the
file gives two names, an annotation id used twice — makes its whole image a reject (see
:mod:`sarlang.sources._boxes`). So do an image file listed under several image ids (all of them
are rejected: two label sets for one picture contradict each other), a repeated image id (the
first is kept), a missing image file (looked for in ``JPEGImages/<split>/`` and
``JPEGImages/``), and a JSON file that does not parse. Crowd annotations (``iscrowd``) are kept
and marked.

An annotation's ``segmentation`` (polygons in pixels, or RLE of the image's size, through
pycocotools as COCO reads them) becomes the object's mask, cut to its box; a segmentation that
does not parse, or whose pixels lie mostly outside the box (under half of them inside), makes
its image a reject too: a mask and a box of two different objects would give one of them wrong
answers.

How to cite SARDet-100K: Li, Li, Li, Hou, Liu, Cheng and Yang, "SARDet-100K: Towards Open-Source
Benchmark and ToolKit for Large-Scale SAR Object Detection", NeurIPS 2024, arXiv:2403.06534.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene, SceneObject
from sarlang.sources._boxes import InvalidObject, clipped_box, image_size, number, scene_reject_reason

SPLITS = ("train", "val", "test")


def _annotation_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    folder = root / "Annotations" if (root / "Annotations").is_dir() else root
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError(f"no COCO JSON in '{folder}'", hint="a COCO source is a JSON file or a folder with Annotations/*.json")
    return files


def read_coco(path: str | Path, gsd: float | None = None, sensor: str = "", check_images: bool = True) -> Iterator[Scene | Reject]:
    """The scenes of a COCO detection folder or file (see the module docstring).

    Args:
        path: The dataset folder (``Annotations/`` + ``JPEGImages/``) or one COCO JSON file.
        gsd: Ground sampling distance in metres per pixel, given to every scene (the format does not carry it).
        sensor: The sensor's name, given to every scene (e.g. ``MSTAR``, ``Sentinel-1``).
        check_images: Reject an annotation whose image file is missing.

    Yields:
        A :class:`Scene` per usable image (boxes in pixels, ``[x, y, w, h]``), a :class:`Reject` per unusable one.

    Raises:
        InputError: the path does not exist or holds no COCO JSON.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"COCO source '{root}' does not exist")
    base = root.parent.parent if root.is_file() and root.parent.name == "Annotations" else (root.parent if root.is_file() else root)
    root_text = str(base / "JPEGImages")
    seen_images: set[Any] = set()
    for ann_file in _annotation_files(root):
        source = str(ann_file)
        split = ann_file.stem.lower() if ann_file.stem.lower() in SPLITS else ""
        try:
            data = json.loads(ann_file.read_text(encoding="utf-8"))
            images, annotations, categories = data["images"], data.get("annotations", []), data["categories"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            yield Reject(source, 0, f"not a COCO detection file: {type(exc).__name__}: {exc}")
            continue
        names, ambiguous = _category_names(categories)
        by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        image_ids = {img.get("id") for img in images if isinstance(img, dict)}
        annotation_ids = Counter(ann.get("id") for ann in annotations if isinstance(ann, dict) and ann.get("id") is not None)
        for index, ann in enumerate(annotations):
            if not isinstance(ann, dict) or ann.get("image_id") not in image_ids:
                yield Reject(source, 0, f"annotation {index}: unknown image_id {ann.get('image_id') if isinstance(ann, dict) else ann!r}")
                continue
            by_image[ann["image_id"]].append(ann)
        ids_of_file: dict[str, list[Any]] = defaultdict(list)
        for img in images:
            if isinstance(img, dict) and "id" in img and "file_name" in img:
                ids_of_file[str(img["file_name"])].append(img["id"])
        for img in images:
            if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
                yield Reject(source, 0, f"image entry without id or file_name: {str(img)[:80]}")
                continue
            image_id = img["id"]
            if image_id in seen_images:
                yield Reject(source, 0, "duplicate image id (the first is kept)", id=str(image_id))
                continue
            seen_images.add(image_id)
            sharing = ids_of_file[str(img["file_name"])]
            if len(set(map(str, sharing))) > 1:
                # two label sets for one picture would give contradictory answers about it
                yield Reject(source, 0, f"image file {img['file_name']} is listed under several image ids "
                             f"({', '.join(map(str, sharing[:5]))}); all of them are rejected", id=str(image_id))
                continue
            try:
                width, height = image_size(img.get("width"), img.get("height"))
            except InvalidObject as exc:
                yield Reject(source, 0, f"bad image size: {exc}", id=str(image_id))
                continue
            # plain strings, not Path objects: this loop runs once per image of datasets of 100,000
            flat_path = os.path.join(root_text, img["file_name"])
            image_path = os.path.join(root_text, split, img["file_name"]) if split else flat_path
            if split and not os.path.exists(image_path):
                image_path = flat_path
            if check_images and not os.path.exists(image_path):
                yield Reject(source, 0, f"image {img['file_name']} is missing", id=str(image_id))
                continue
            objects: list[SceneObject] = []
            problems: list[str] = []
            for ann in by_image.get(image_id, []):
                label = f"annotation {ann.get('id')}"
                try:
                    if annotation_ids[ann.get("id")] > 1:
                        raise InvalidObject(f"annotation id {ann.get('id')} appears {annotation_ids[ann.get('id')]} times in the file")
                    category_id = ann.get("category_id")
                    if category_id in ambiguous:
                        raise InvalidObject(f"category_id {category_id} has several names ({', '.join(ambiguous[category_id])})")
                    category = names.get(category_id)
                    if not category:
                        raise InvalidObject(f"unknown category_id {category_id}")
                    bbox = ann.get("bbox")
                    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                        raise InvalidObject("bbox is not [x, y, w, h]")
                    x, y, w, h = (number(v, name) for v, name in zip(bbox, ("x", "y", "w", "h")))
                    box, clipped = clipped_box(x, y, x + w, y + h, width, height)
                except InvalidObject as exc:
                    problems.append(f"{label}: {exc}")
                    continue
                attributes: dict[str, Any] = {}
                if clipped:
                    attributes["clipped"] = True
                if ann.get("iscrowd"):
                    attributes["crowd"] = True
                try:
                    mask = _segmentation_mask(ann.get("segmentation"), box, width, height)
                except InvalidObject as exc:
                    problems.append(f"{label}: {exc}")
                    continue
                objects.append(SceneObject(category, box, mask, attributes))
            if problems:
                yield Reject(source, 0, scene_reject_reason(problems), id=str(image_id))
                continue
            yield Scene(image=image_path, width=width, height=height, objects=objects, gsd=gsd, sensor=sensor,
                        source="coco", split=split, id=str(image_id))


def _segmentation_mask(segmentation: Any, box: tuple[float, float, float, float], width: int, height: int) -> Any:
    """The mask of a COCO ``segmentation`` cut to ``box`` (rows and columns rounded out), None
    without one.

    Raises:
        InvalidObject: a segmentation that does not parse, or lies mostly outside the box.
    """
    import math

    import numpy as np

    if segmentation in (None, [], {}):
        return None
    from sarlang.files import require

    coco = require("pycocotools.mask", "masks", "COCO segmentation masks (pycocotools)")
    x, y, w, h = box
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    bw, bh = int(math.ceil(x + w)) - x0, int(math.ceil(y + h)) - y0
    try:
        if isinstance(segmentation, list):
            polygons = [[float(v) for v in p] for p in segmentation]
            if not polygons or any(len(p) < 6 or len(p) % 2 or not all(math.isfinite(v) for v in p) for p in polygons):
                raise ValueError("a polygon of fewer than 3 vertices, an odd number of coordinates or a number that is not finite")
            area = float(sum(coco.area(coco.frPyObjects(polygons, height, width))))
            # the polygons moved to the box's corner and rasterised on the box alone: cheap at any image size
            moved = [[v - (x0 if i % 2 == 0 else y0) for i, v in enumerate(p)] for p in polygons]
            mask = coco.decode(coco.merge(coco.frPyObjects(moved, bh, bw))).astype(bool)
        elif isinstance(segmentation, dict):
            if list(segmentation.get("size") or []) != [height, width]:
                raise ValueError(f"RLE of size {segmentation.get('size')}, the image is {height}x{width} (height x width)")
            counts = segmentation.get("counts")
            rle = coco.frPyObjects(segmentation, height, width) if isinstance(counts, list) else \
                {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
            full = coco.decode(rle).astype(bool)
            area = float(full.sum())
            mask = full[y0 : y0 + bh, x0 : x0 + bw].copy()
        else:
            raise ValueError(f"a {type(segmentation).__name__}, neither polygons nor RLE")
    except Exception as exc:  # pycocotools raises bare Exceptions on corrupt counts
        raise InvalidObject(f"segmentation is not usable: {exc}") from None
    if area > 0 and mask.sum() < 0.5 * area:
        raise InvalidObject(f"segmentation lies mostly outside its bbox ({int(mask.sum())} of {int(area)} pixels inside)")
    return mask if mask.any() else None


def _category_names(categories: list[Any]) -> tuple[dict[Any, str], dict[Any, list[str]]]:
    """Category id -> name, and the ids given several different names (unusable)."""
    seen: dict[Any, set[str]] = defaultdict(set)
    for c in categories:
        if isinstance(c, dict):
            seen[c.get("id")].add(str(c.get("name", "")).strip().lower())
    names = {cid: next(iter(n)) for cid, n in seen.items() if len(n) == 1}
    ambiguous = {cid: sorted(n) for cid, n in seen.items() if len(n) > 1}
    return names, ambiguous


#: The entry point of this source (see sarlang.sources).
read = read_coco
