"""The landcover source (OpenEarthMap-SAR style): class-index rasters named by a class table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene
from sarlang.sources.landcover import read


def test_class_rasters_and_table(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "images" / "a.png")
    cover = np.zeros((20, 30), np.uint8)
    cover[:, 20:] = 1
    Image.fromarray(cover).save(tmp_path / "labels" / "a.png")
    (tmp_path / "classes.json").write_text(json.dumps({"0": "water", "1": "urban"}))
    [scene] = list(read(tmp_path))
    assert isinstance(scene, Scene) and scene.landcover_classes == ("water", "urban") and scene.landcover.shape == (20, 30)
    Image.fromarray(np.full((20, 30), 5, np.uint8)).save(tmp_path / "labels" / "a.png")
    assert "not in the class table" in [i for i in read(tmp_path) if isinstance(i, Reject)][0].reason
    (tmp_path / "classes.json").write_text("{not json")
    with pytest.raises(InputError, match="not a class table"):
        list(read(tmp_path))
