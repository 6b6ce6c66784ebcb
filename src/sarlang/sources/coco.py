"""COCO detection JSON (SARDet-100K's layout: ``Annotations/{train,val,test}.json`` + ``JPEGImages/``).

``path`` is that folder, or one COCO JSON file. The split is the JSON file's name when it is one
of train / val / test, and is kept. Boxes are COCO ``[x, y, w, h]`` in pixels; a box reaching
past the image is clipped, one with no area left is a reject, as is an annotation with an
unknown ``category_id`` or ``image_id``, a repeated image id (the first is kept), an image file
that is missing (looked for in ``JPEGImages/<split>/`` and ``JPEGImages/``), or a JSON file that
does not parse. Crowd annotations (``iscrowd``) are kept and marked.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene, SceneObject

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
        names = {c.get("id"): str(c.get("name", "")).strip().lower() for c in categories if isinstance(c, dict)}
        by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        image_ids = {img.get("id") for img in images if isinstance(img, dict)}
        for index, ann in enumerate(annotations):
            if not isinstance(ann, dict) or ann.get("image_id") not in image_ids:
                yield Reject(source, 0, f"annotation {index}: unknown image_id {ann.get('image_id') if isinstance(ann, dict) else ann!r}")
                continue
            by_image[ann["image_id"]].append(ann)
        for img in images:
            if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
                yield Reject(source, 0, f"image entry without id or file_name: {str(img)[:80]}")
                continue
            image_id = img["id"]
            if image_id in seen_images:
                yield Reject(source, 0, "duplicate image id (the first is kept)", id=str(image_id))
                continue
            seen_images.add(image_id)
            try:
                width, height = int(img["width"]), int(img["height"])
            except (KeyError, TypeError, ValueError):
                yield Reject(source, 0, "image without width/height", id=str(image_id))
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
            for ann in by_image.get(image_id, []):
                category = names.get(ann.get("category_id"))
                if not category:
                    yield Reject(source, 0, f"annotation {ann.get('id')}: unknown category_id {ann.get('category_id')}", id=str(image_id))
                    continue
                try:
                    x, y, w, h = (float(v) for v in ann["bbox"])
                except (KeyError, TypeError, ValueError):
                    yield Reject(source, 0, f"annotation {ann.get('id')}: bbox is not [x, y, w, h]", id=str(image_id))
                    continue
                x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h)
                if x1 <= x0 or y1 <= y0:
                    yield Reject(source, 0, f"annotation {ann.get('id')}: box has no area inside the image", id=str(image_id))
                    continue
                attributes: dict[str, Any] = {}
                if (x0, y0, x1, y1) != (x, y, x + w, y + h):
                    attributes["clipped"] = True
                if ann.get("iscrowd"):
                    attributes["crowd"] = True
                objects.append(SceneObject(category, (x0, y0, x1 - x0, y1 - y0), None, attributes))
            yield Scene(image=image_path, width=width, height=height, objects=objects, gsd=gsd, sensor=sensor,
                        source="coco", split=split, id=str(image_id))
