"""The DOTA oriented-box source: boxes around the corners, gsd lines, bad lines reject their scene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.corpus.dataset import build_dataset
from sarlang.errors import InputError
from sarlang.sources import SOURCES, source_kinds
from sarlang.sources.dota import read

from ..badinput.corpus import speckled_picture


def _dota(root: Path, labels: dict[str, str]) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labelTxt").mkdir()
    for i, (name, text) in enumerate(labels.items()):
        speckled_picture(root / "images" / f"{name}.png", 200, 150, seed=i, fmt="PNG")
        (root / "labelTxt" / f"{name}.txt").write_text(text)
    return root


GOOD = "imagesource:SRSDD\ngsd:1\n10 20 50 10 60 40 20 50 ship 0\n150 100 220 100 220 140 150 140 Container-ship 1\n"


def test_oriented_boxes_become_scenes(tmp_path: Path) -> None:
    root = _dota(tmp_path / "dota", {"good": GOOD})
    [scene] = list(read(root))
    assert (scene.width, scene.height, scene.gsd, scene.source) == (200, 150, 1.0, "dota")
    ship, container = scene.objects
    assert ship.category == "ship" and ship.box == (10.0, 10.0, 50.0, 40.0) and ship.attributes["polygon"][:2] == [10.0, 20.0]
    assert container.category == "container ship" and container.box == (150.0, 100.0, 50.0, 40.0)
    assert container.attributes == {"polygon": [150.0, 100.0, 220.0, 100.0, 220.0, 140.0, 150.0, 140.0], "difficult": True, "clipped": True}


def test_bad_lines_reject_the_whole_scene(tmp_path: Path) -> None:
    root = _dota(tmp_path / "dota", {"good": GOOD, "nan": "10 20 nan 10 60 40 20 50 ship 0\n", "short": "10 20 50 10 ship\n"})
    (root / "images" / "orphan.png").write_bytes((root / "images" / "good.png").read_bytes())
    items = list(read(root))
    rejects = {r.id: r.reason for r in items if not hasattr(r, "objects")}
    assert set(rejects) == {"nan", "short", "orphan"}
    assert "not finite" in rejects["nan"] and "fields" in rejects["short"] and "no label file" in rejects["orphan"]
    with pytest.raises(InputError, match="labelTxt"):
        list(read(tmp_path))


def test_dota_is_a_source_by_its_file_alone(tmp_path: Path) -> None:
    assert "dota" in SOURCES and "dota" in source_kinds()
    root = _dota(tmp_path / "dota", {"good": GOOD})
    summary = build_dataset([f"dota:{root}"], tmp_path / "out")
    assert summary["categories"] == {"dota": ["container ship", "ship"]} and summary["rejected"] == 0
    details = [json.loads(line)["answer"] for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines() if '"image_description.detailed"' in line]
    assert details and "1 m" in details[0]
