"""The folders source: one sub-folder per class becomes scenes with one whole-image object each."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene
from sarlang.sources import parse_source, read_source

from ..conftest import SHARED_DATA


def _chip(path: Path, size: tuple[int, int] = (40, 32)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(len(str(path))).random(size[::-1]) * 255).astype(np.uint8)).save(path)


def test_each_image_is_a_scene_with_its_class(tmp_path: Path) -> None:
    _chip(tmp_path / "3" / "a.png")
    _chip(tmp_path / "3" / "b.png", (64, 48))
    _chip(tmp_path / "Fishing" / "c.png")
    (tmp_path / "3" / "notes.txt").write_text("not an image")
    (tmp_path / "3" / ".DS_Store").write_bytes(b"\0")
    kind, path, options = parse_source(f"folders:{tmp_path},sensor=MSTAR")
    items = list(read_source(kind, path, options, None))
    scenes = [i for i in items if isinstance(i, Scene)]
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [(s.id, s.objects[0].category, s.objects[0].box, s.sensor) for s in scenes] == [
        ("3/a", "class 3 target", (0.0, 0.0, 40.0, 32.0), "MSTAR"),
        ("3/b", "class 3 target", (0.0, 0.0, 64.0, 48.0), "MSTAR"),
        ("Fishing/c", "fishing", (0.0, 0.0, 40.0, 32.0), "MSTAR"),
    ]
    assert [(Path(r.source).name, r.reason) for r in rejects] == [("notes.txt", "not an image (.txt) in class folder '3'")]


def test_a_folder_without_classes_or_with_an_empty_class_is_a_clear_error(tmp_path: Path) -> None:
    _chip(tmp_path / "flat" / "a.png")
    with pytest.raises(InputError, match="no class sub-folders"):
        list(read_source("folders", str(tmp_path / "flat"), {}, None))
    _chip(tmp_path / "sets" / "ship" / "a.png")
    (tmp_path / "sets" / "tanker").mkdir()
    with pytest.raises(InputError, match="class folders without images.*tanker"):
        list(read_source("folders", str(tmp_path / "sets"), {}, None))
    with pytest.raises(InputError, match="is not a folder"):
        list(read_source("folders", str(tmp_path / "none"), {}, None))


def test_real_mstar_chips_build_beside_mstar_scenes(tmp_path: Path) -> None:
    chips, scenes = SHARED_DATA / "mstar_chips", SHARED_DATA / "mstar_scenes"
    if not chips.is_dir() or not scenes.is_dir():
        pytest.skip("../shared/data/mstar_chips or mstar_scenes is absent (real MSTAR data)")
    found = [s for s in read_source("folders", str(chips), {}, None) if isinstance(s, Scene)]
    assert len(found) == 1000 and Counter(s.objects[0].category for s in found) == {f"class {i} target": 100 for i in range(10)}
    assert {(s.width, s.height) for s in found} == {(128, 128)}
    from sarlang.corpus.dataset import build_dataset

    summary = build_dataset([f"folders:{chips}", f"voc:{scenes}"], tmp_path / "b")
    # one vocabulary of classes across the two sources: the chips' folders name what the scenes' labels name
    assert set(summary["categories"]["folders"]) == set(summary["categories"]["voc"])
    assert summary["rejected"] == 0 and summary["scenes"] == 1300
