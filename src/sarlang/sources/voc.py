"""Pascal VOC XML annotations (as in MSTAR detection scenes): ``Annotations/*.xml`` + ``JPEGImages/``.

Boxes are given as pixel corners ``xmin, ymin, xmax, ymax`` and become ``[x, y, w, h]`` with
``w = xmax - xmin``. A box running past the image edge (MSTAR has ``ymax`` 600 on 594-pixel
images) is clipped to the image and kept. An object without a name, with a coordinate that is
not a finite number, or with no area inside the image makes the whole scene a reject (see
:mod:`sarlang.sources._boxes`), and so does a file that is not valid XML or whose image is
missing. ``names`` maps the ``<name>`` of an
object to a category (MSTAR's ids ``0``..``9`` become ``class 0 target`` .. ``class 9 target``
by default ``class N target``, since which vehicle each id stands for is not documented).

How to cite MSTAR: Ross, Worrell, Velten, Mossing and Bryant, "Standard SAR ATR evaluation
experiments using the MSTAR public release data set", Proc. SPIE 3370, 1998, doi:10.1117/12.321859.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene, SceneObject
from sarlang.sources._boxes import InvalidObject, clipped_box, image_size, number, scene_reject_reason
from sarlang.vocabulary import label_name



def read_voc(path: str | Path, names: dict[str, str] | None = None, gsd: float | None = None, sensor: str = "") -> Iterator[Scene | Reject]:
    """The scenes of a Pascal VOC folder (see the module docstring).

    Args:
        path: The folder holding ``Annotations/`` and ``JPEGImages/``.
        names: Category names to rename (``{"t72": "tank"}``); from Python only.
        gsd: Ground sampling distance in metres per pixel, given to every scene (the format does not carry it).
        sensor: The sensor's name, given to every scene (e.g. ``MSTAR``, ``Sentinel-1``).

    Yields:
        A :class:`Scene` per usable annotation file (boxes in pixels), a :class:`Reject` per unusable one.

    Raises:
        InputError: ``Annotations/`` is missing.
    """
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
        size = ann.find("size")
        try:
            width, height = image_size(size.findtext("width") if size is not None else None,
                                       size.findtext("height") if size is not None else None)
        except InvalidObject as exc:
            yield Reject(source, 0, f"bad <size>: {exc}", id=image_id)
            continue
        objects: list[SceneObject] = []
        problems: list[str] = []
        for index, obj in enumerate(ann.findall("object")):
            raw = (obj.findtext("name") or "").strip()
            try:
                if not raw:
                    raise InvalidObject("no <name>")
                box = obj.find("bndbox")
                if box is None:
                    raise InvalidObject("no <bndbox>")
                x0, y0, x1, y1 = (number(box.findtext(t), f"<{t}>") for t in ("xmin", "ymin", "xmax", "ymax"))
                clipped, was_clipped = clipped_box(x0, y0, x1, y1, width, height)
            except InvalidObject as exc:
                problems.append(f"object {index}" + (f" ({raw})" if raw else "") + f": {exc}")
                continue
            attributes = {"truncated": (obj.findtext("truncated") or "0").strip() == "1", "difficult": (obj.findtext("difficult") or "0").strip() == "1"}
            if was_clipped:
                attributes["clipped"] = True
            category = (names or {}).get(raw) or label_name(raw)
            objects.append(SceneObject(category, clipped, None, attributes))
        if problems:
            yield Reject(source, 0, scene_reject_reason(problems), id=image_id)
            continue
        yield Scene(image=str(image_path), width=width, height=height, objects=objects, gsd=gsd, sensor=sensor, source="voc", id=image_id)


#: The entry point of this source (see sarlang.sources).
read = read_voc
