"""Generators of broken and unusual inputs, each made from a realistic fixture.

A fixture is a small VOC detection set laid out as MSTAR's (``Annotations/*.xml`` + ``JPEGImages/``)
with speckled 8-bit pictures, or three real MSTAR scenes from ``../shared/data`` when present.
Each *breaker* adds one bad scene (``bad``) beside the good ones, so a test can check that the bad
one is rejected with its reason and that the good ones give exactly the records they give alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..conftest import SHARED_DATA

VOC_TEMPLATE = """<annotation><filename>{filename}</filename>
<size><width>{width}</width><height>{height}</height><depth>1</depth></size>
{objects}</annotation>"""
OBJECT_TEMPLATE = "<object><name>{name}</name><truncated>0</truncated><difficult>0</difficult><bndbox>" \
                  "<xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>\n"


def speckled_picture(path: Path, width: int, height: int, seed: int, fmt: str = "JPEG") -> None:
    """An 8-bit single-look-speckle picture with two bright targets."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    intensity = rng.exponential(1.0, (height, width))
    intensity[10:30, 10:40] *= 20
    intensity[height - 30 : height - 12, width - 45 : width - 15] *= 20
    db = 10 * np.log10(intensity + 1e-6)
    pixels = np.clip((db + 10) / 30 * 255, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, fmt)


def voc_xml(filename: str, width: int | str, height: int | str, objects: list[tuple]) -> str:
    """A VOC annotation; each object is (name, xmin, ymin, xmax, ymax), values written as given."""
    body = "".join(OBJECT_TEMPLATE.format(name=o[0], x0=o[1], y0=o[2], x1=o[3], y1=o[4]) for o in objects)
    return VOC_TEMPLATE.format(filename=filename, width=width, height=height, objects=body)


def good_voc(root: Path) -> Path:
    """Three good scenes (real MSTAR ones when ../shared/data is present, else generated)."""
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    mstar = SHARED_DATA / "mstar_scenes"
    if mstar.exists():
        for image_id in ("000001", "000003", "000005"):
            shutil.copy(mstar / "Annotations" / f"{image_id}.xml", root / "Annotations")
            shutil.copy(mstar / "JPEGImages" / f"{image_id}.jpg", root / "JPEGImages")
        return root
    for i, image_id in enumerate(("g1", "g2", "g3")):
        speckled_picture(root / "JPEGImages" / f"{image_id}.jpg", 160, 120, seed=i)
        objects = [("2", 10, 10, 40, 30), ("8", 115, 90, 145, 108), ("2", 60, 50, 90, 70)][: i + 1]
        (root / "Annotations" / f"{image_id}.xml").write_text(voc_xml(f"{image_id}.jpg", 160, 120, objects))
    return root


def _bad_scene(root: Path, xml: str, picture: Callable[[Path], None] | None = None) -> None:
    (root / "Annotations" / "bad.xml").write_text(xml)
    path = root / "JPEGImages" / "bad.jpg"
    if picture is None:
        speckled_picture(path, 160, 120, seed=99)
    else:
        picture(path)


def _truncated(path: Path) -> None:
    speckled_picture(path, 160, 120, seed=99)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


GOOD_OBJECT = ("2", 10, 10, 40, 30)

#: name -> (how to break the fixture, the words the reject reason must hold)
VOC_BREAKERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "declared size disagrees with the image": (
        lambda r: _bad_scene(r, voc_xml("bad.jpg", 2000, 2000, [GOOD_OBJECT])), "declared 2000x2000, image is 160x120"),
    "zero-byte image": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT]), lambda p: p.write_bytes(b"")), "0 bytes"),
    "truncated JPEG": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT]), _truncated), "cannot be decoded"),
    "not an image at all": (
        lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT]), lambda p: p.write_text("<html>404</html>")), "cannot be decoded"),
    "NaN coordinate": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT, ("8", "nan", 5, 50, 40)])), "not finite"),
    "infinite coordinate": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT, ("8", 5, 5, "inf", 40)])), "not finite"),
    "text coordinate": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT, ("8", 5, "ten", 50, 40)])), "not a number"),
    "object without a name": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT, ("", 5, 5, 50, 40)])), "no <name>"),
    "box wholly outside the image": (
        lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT, ("8", 500, 500, 550, 540)])), "no area inside"),
    "inverted box": (lambda r: _bad_scene(r, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT, ("8", 50, 40, 5, 5)])), "no area inside"),
    "negative size": (lambda r: _bad_scene(r, voc_xml("bad.jpg", -160, 120, [GOOD_OBJECT])), "not positive"),
    "malformed XML": (lambda r: _bad_scene(r, "<annotation><size>"), "malformed XML"),
}


def second_annotation_of_one_image(root: Path) -> None:
    """Two annotation files (``bad`` and ``bad2``) that label one picture differently."""
    _bad_scene(root, voc_xml("bad.jpg", 160, 120, [GOOD_OBJECT]))
    (root / "Annotations" / "bad2.xml").write_text(voc_xml("bad.jpg", 160, 120, [("8", 50, 40, 90, 70)]))
