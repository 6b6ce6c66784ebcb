"""The masks source (HRSID): instances from binary masks (8-connected) or from instance colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sarlang.schema import Reject, Scene
from sarlang.sources.masks import read

from ..conftest import SHARED_DATA


def _save(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def test_binary_and_instance_layouts(tmp_path: Path) -> None:
    (tmp_path / "b" / "images").mkdir(parents=True)
    (tmp_path / "b" / "masks").mkdir()
    _save(tmp_path / "b" / "images" / "t.png", np.zeros((40, 50), np.uint8))
    mask = np.zeros((40, 50, 3), np.uint8)
    mask[5:10, 5:15, 1] = 255
    mask[10:12, 15:17, 1] = 255  # touches the first diagonally: one instance (8-connected)
    mask[30:35, 40:45, 1] = 255
    _save(tmp_path / "b" / "masks" / "t.png", mask)
    [scene] = list(read(tmp_path / "b"))
    assert isinstance(scene, Scene) and len(scene.objects) == 2 and scene.objects[0].box == (5.0, 5.0, 12.0, 7.0)
    (tmp_path / "i").mkdir()
    _save(tmp_path / "i" / "t.png", np.zeros((40, 50), np.uint8))
    colours = np.zeros((40, 50, 3), np.uint8)
    colours[5:10, 5:15] = (10, 20, 30)
    colours[10:12, 15:17] = (40, 50, 60)  # touching, but another colour: another instance
    _save(tmp_path / "i" / "t_instance_id_RGB.png", colours)
    [scene] = list(read(tmp_path / "i"))
    assert len(scene.objects) == 2
    _save(tmp_path / "b" / "images" / "orphan.png", np.zeros((4, 4), np.uint8))
    assert [i.reason for i in read(tmp_path / "b") if isinstance(i, Reject)] == ["no mask for this image"]


@pytest.mark.skipif(not (SHARED_DATA / "hrsid").exists(), reason="../shared/data/hrsid is absent (real HRSID tiles)")
def test_real_hrsid_tiles() -> None:
    scenes = [i for i in read(SHARED_DATA / "hrsid") if isinstance(i, Scene)]
    assert len(scenes) == 24 and all((s.width, s.height) == (800, 800) for s in scenes)
    assert sum(len(s.objects) for s in scenes) > 24 and all(o.category == "ship" for s in scenes for o in s.objects)
