"""Pascal VOC XML annotations (as in MSTAR detection scenes): ``Annotations/*.xml`` + ``JPEGImages/``.

Boxes are given as pixel corners ``xmin, ymin, xmax, ymax`` and become ``[x, y, w, h]`` with
``w = xmax - xmin``. A box running past the image edge (MSTAR has ``ymax`` 600 on 594-pixel
images) is clipped to the image and kept; a box with no area left is a reject, and so is a
file that is not valid XML or whose image is missing. ``names`` maps the ``<name>`` of an
object to a category (MSTAR's ids ``0``..``9`` become ``class 0 target`` .. ``class 9 target``
by default ``class N target``, since which vehicle each id stands for is not documented).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene, SceneObject

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def default_name(raw: str) -> str:
    return f"class {raw} target" if raw.isdigit() else raw.strip().lower()


def _number(node: ET.Element | None, tag: str) -> float:
    if node is None or node.find(tag) is None or node.find(tag).text is None:
        raise ValueError(f"missing <{tag}>")
    return float(node.find(tag).text.strip())


def read_voc(path: str | Path, names: dict[str, str] | None = None, gsd: float | None = None, sensor: str = "") -> Iterator[Scene | Reject]:
    root = Path(path)
    ann_dir = root / "Annotations"
    img_dir = root / "JPEGImages"
    if not ann_dir.is_dir():
        raise InputError(f"'{root}' has no Annotations/ folder", hint="a VOC source is the folder holding Annotations/ and JPEGImages/")
    ids_file = root / "ids.txt"
    if ids_file.exists():
        ids = [line.strip() for line in ids_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        ids = sorted(p.stem for p in ann_dir.glob("*.xml"))
    for image_id in ids:
        xml_path = ann_dir / f"{image_id}.xml"
        source = str(xml_path)
        try:
            tree = ET.parse(xml_path)
        except FileNotFoundError:
            yield Reject(source, 0, "annotation file missing", id=image_id)
            continue
        except ET.ParseError as exc:
            yield Reject(source, 0, f"malformed XML: {exc}", id=image_id)
            continue
        ann = tree.getroot()
        filename = (ann.findtext("filename") or "").strip() or f"{image_id}.jpg"
        image_path = img_dir / filename
        if not image_path.exists():
            candidates = [img_dir / f"{image_id}{s}" for s in IMAGE_SUFFIXES if (img_dir / f"{image_id}{s}").exists()]
            if not candidates:
                yield Reject(source, 0, f"image {filename} is missing", id=image_id)
                continue
            image_path = candidates[0]
        try:
            width = int(_number(ann.find("size"), "width"))
            height = int(_number(ann.find("size"), "height"))
        except ValueError as exc:
            yield Reject(source, 0, f"bad <size>: {exc}", id=image_id)
            continue
        objects: list[SceneObject] = []
        for index, obj in enumerate(ann.findall("object")):
            raw = (obj.findtext("name") or "").strip()
            try:
                box = obj.find("bndbox")
                x0, y0, x1, y1 = (_number(box, t) for t in ("xmin", "ymin", "xmax", "ymax"))
            except ValueError as exc:
                yield Reject(source, 0, f"object {index}: {exc}", id=image_id)
                continue
            if not raw:
                yield Reject(source, 0, f"object {index}: no <name>", id=image_id)
                continue
            cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
            if cx1 <= cx0 or cy1 <= cy0:
                yield Reject(source, 0, f"object {index} ({raw}): box has no area inside the image", id=image_id)
                continue
            attributes = {"truncated": (obj.findtext("truncated") or "0").strip() == "1", "difficult": (obj.findtext("difficult") or "0").strip() == "1"}
            if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
                attributes["clipped"] = True
            category = (names or {}).get(raw) or default_name(raw)
            objects.append(SceneObject(category, (cx0, cy0, cx1 - cx0, cy1 - cy0), None, attributes))
        yield Scene(image=str(image_path), width=width, height=height, objects=objects, gsd=gsd, sensor=sensor, source="voc", id=image_id)
