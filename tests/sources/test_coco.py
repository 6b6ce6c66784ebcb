"""The COCO source (SARDet-100K's layout): the file's split kept, crowd marked, boxes clipped."""

from __future__ import annotations

import json
from pathlib import Path

from sarlang.schema import Reject, Scene
from sarlang.sources.coco import read

from ..badinput.corpus import speckled_picture


def test_split_from_the_file_name_and_crowd_boxes(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages" / "train").mkdir(parents=True)
    speckled_picture(tmp_path / "JPEGImages" / "train" / "a.jpg", 100, 80, seed=0)
    data = {"images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [90, 70, 20, 20], "iscrowd": 1}],
            "categories": [{"id": 1, "name": "Ship"}]}
    (tmp_path / "Annotations" / "train.json").write_text(json.dumps(data))
    [scene] = list(read(tmp_path))
    assert isinstance(scene, Scene) and (scene.id, scene.split, scene.source) == ("7", "train", "coco")
    [ship] = scene.objects
    assert ship.category == "ship" and ship.box == (90.0, 70.0, 10.0, 10.0) and ship.attributes == {"clipped": True, "crowd": True}
    data["images"].append({"id": 8, "file_name": "gone.jpg", "width": 100, "height": 80})
    (tmp_path / "Annotations" / "train.json").write_text(json.dumps(data))
    rejects = [i for i in read(tmp_path) if isinstance(i, Reject)]
    assert [(r.id, r.reason) for r in rejects] == [("8", "image gone.jpg is missing")]
