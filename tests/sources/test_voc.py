"""The VOC source (MSTAR scenes): boxes from pixel corners, MSTAR ids as class names, edge boxes clipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarlang.schema import Reject, Scene
from sarlang.sources.voc import read

from ..badinput.corpus import speckled_picture, voc_xml
from ..conftest import SHARED_DATA


def test_scenes_from_corner_boxes(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    speckled_picture(tmp_path / "JPEGImages" / "a.jpg", 160, 120, seed=0)
    (tmp_path / "Annotations" / "a.xml").write_text(voc_xml("a.jpg", 160, 120, [("2", 10, 20, 40, 50), ("harbor", 150, 100, 170, 130)]))
    [scene] = list(read(tmp_path, gsd=0.3, sensor="MSTAR"))
    assert isinstance(scene, Scene) and (scene.id, scene.width, scene.height, scene.gsd, scene.sensor) == ("a", 160, 120, 0.3, "MSTAR")
    first, second = scene.objects
    assert first.category == "class 2 target" and first.box == (10.0, 20.0, 30.0, 30.0) and "clipped" not in first.attributes
    assert second.category == "harbor" and second.box == (150.0, 100.0, 10.0, 20.0) and second.attributes["clipped"]


@pytest.mark.skipif(not (SHARED_DATA / "mstar_scenes").exists(), reason="../shared/data/mstar_scenes is absent (real MSTAR scenes)")
def test_real_mstar_scenes_all_read() -> None:
    items = list(read(SHARED_DATA / "mstar_scenes"))
    scenes = [i for i in items if isinstance(i, Scene)]
    assert len(scenes) == 300 and not [i for i in items if isinstance(i, Reject)]
    assert all(o.category.startswith("class ") for s in scenes for o in s.objects)
    assert any(o.attributes.get("clipped") for s in scenes for o in s.objects)  # ymax 600 on 594-pixel images
