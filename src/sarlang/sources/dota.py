"""DOTA-style oriented boxes (``images/`` + ``labelTxt/``), as SAR ship sets such as SRSDD and RSDD-SAR ship them.

Each ``labelTxt/<name>.txt`` line is ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult`` (pixel corners
of the oriented box, in order); optional header lines ``imagesource:...`` and ``gsd:...`` come first
(a positive ``gsd`` is kept as the scene's ground sampling distance). An object's box is the
axis-aligned box around its four corners, clipped to the image, with the corners kept in its
``polygon`` attribute and its ``difficult`` flag; the image's size is read from the image itself.
A line that is not ten fields, a corner that is not a finite number, or a box with no area inside
the image makes the whole scene a reject (see :mod:`sarlang.sources._boxes`), as does an image
without a label file.

DOTA: Xia et al., "DOTA: A Large-Scale Dataset for Object Detection in Aerial Images", CVPR 2018,
doi:10.1109/CVPR.2018.00418. Cite the SAR dataset you read with it too (e.g. SRSDD-v1.0: Lei et al.,
Remote Sensing 13(24), 2021, doi:10.3390/rs13245104).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene, SceneObject
from sarlang.sources._boxes import InvalidObject, clipped_box, number, scene_reject_reason


def read(path: str | Path, gsd: float | None = None, sensor: str = "") -> Iterator[Scene | Reject]:
    """Scenes of a DOTA-style folder; ``gsd`` (metres) overrides the label files' ``gsd:`` lines."""
    from PIL import Image

    root = Path(path)
    if not (root / "images").is_dir() or not (root / "labelTxt").is_dir():
        raise InputError(f"'{root}' needs images/ and labelTxt/ folders", hint="a DOTA source is the folder holding both")
    for image in sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = root / "labelTxt" / f"{image.stem}.txt"
        source = str(label)
        if not label.exists():
            yield Reject(str(image), 0, "no label file for this image", id=image.stem)
            continue
        try:
            with Image.open(image) as im:
                width, height = im.size
            lines = label.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            yield Reject(source, 0, f"unreadable image or label file: {exc}", id=image.stem)
            continue
        scene_gsd = gsd
        objects: list[SceneObject] = []
        problems: list[str] = []
        for number_, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            if text.lower().startswith(("imagesource:", "gsd:")):
                key, _, value = text.partition(":")
                if key.lower() == "gsd" and gsd is None:
                    try:
                        found = number(value, "gsd")
                        scene_gsd = found if found > 0 else None
                    except InvalidObject:
                        scene_gsd = None  # DOTA writes gsd:null when unknown
                continue
            fields = text.split()
            try:
                if len(fields) != 10:
                    raise InvalidObject(f"has {len(fields)} fields, not x1 y1 ... y4 category difficult")
                corners = [number(v, f"coordinate {i + 1}") for i, v in enumerate(fields[:8])]
                xs, ys = corners[0::2], corners[1::2]
                box, clipped = clipped_box(min(xs), min(ys), max(xs), max(ys), width, height)
            except InvalidObject as exc:
                problems.append(f"line {number_}: {exc}")
                continue
            attributes = {"polygon": [round(v, 2) for v in corners], "difficult": fields[9] == "1"}
            if clipped:
                attributes["clipped"] = True
            objects.append(SceneObject(fields[8].strip().lower().replace("-", " "), box, None, attributes))
        if problems:
            yield Reject(source, 0, scene_reject_reason(problems), id=image.stem)
            continue
        yield Scene(image=str(image), width=width, height=height, objects=objects, gsd=scene_gsd, sensor=sensor,
                    source="dota", id=image.stem)
