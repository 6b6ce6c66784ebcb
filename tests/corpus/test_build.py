"""Dataset construction: rules of the seven applications, real MSTAR and HRSID data, bad input, resume."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from sarlang.corpus import dataset as D
from sarlang.corpus.vqa import CorpusContext, fmt_box, position_of, scene_questions
from sarlang.errors import InputError
from sarlang.schema import Scene, SceneObject

from ..conftest import SHARED_DATA, run_cli

MSTAR = SHARED_DATA / "mstar_scenes"
HRSID = SHARED_DATA / "hrsid"
needs_mstar = pytest.mark.skipif(not MSTAR.exists(), reason="../shared/data/mstar_scenes is absent (real MSTAR scenes)")
needs_hrsid = pytest.mark.skipif(not HRSID.exists(), reason="../shared/data/hrsid is absent (real HRSID tiles)")


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]


def scene(objects, w=300, h=300, **kw) -> Scene:
    return Scene("img.png", w, h, objects=[SceneObject(c, b, m) for c, b, m in objects], id="s1", **kw)


def test_positions_and_boxes() -> None:
    assert position_of(150, 150, 300, 300, False) == "center"
    assert position_of(150, 20, 300, 300, False) == "top"
    assert position_of(20, 150, 300, 300, False) == "left"
    assert position_of(290, 200, 300, 300, False) == "right"  # farther right than down
    assert position_of(280, 290, 300, 300, True) == "bottom right"
    assert fmt_box((12.0, 3.25, 40.0, 7.0)) == "[12.0, 3.2, 40.0, 7.0]"


def test_scene_questions_follow_the_rules() -> None:
    objects = [("ship", (10, 10, 20, 8), None), ("ship", (40, 12, 20, 8), None), ("ship", (250, 260, 20, 8), None), ("car", (140, 140, 5, 3), None)]
    context = CorpusContext(("aircraft", "car", "ship"), {"aircraft": 0.5, "car": 0.5, "ship": 0.5})
    qas = scene_questions(scene(objects), context, random.Random(0))
    by_app = {}
    for qa in qas:
        by_app.setdefault(qa.application, []).append(qa)
    assert {q.answer for q in by_app["object_identification"]} == {"yes", "no"}
    assert any("aircraft" in q.question and q.answer == "no" for q in by_app["object_identification"])
    assert [q.answer for q in by_app["object_classification"]] == ["ship"]
    counts = {re.search(r"(ships|cars)", q.question).group(1): q.answer for q in by_app["instance_counting"]}
    assert counts == {"ships": "3", "cars": "1"}
    for q in by_app["region_referring"]:
        box = [float(v) for v in re.search(r"\[(.*)\]", q.question).group(1).split(",")]
        assert any(tuple(box) == tuple(map(float, b)) and c == q.answer for c, b, _ in objects)
    positions = {("ship" if "ship" in q.question else "car"): q.answer for q in by_app["object_positioning"]}
    assert positions == {"ship": "top", "car": "center"}
    tie = scene([("ship", (10, 10, 5, 5), None), ("car", (100, 100, 5, 5), None)])
    assert not [q for q in scene_questions(tie, context, random.Random(0)) if q.application == "object_classification"]


def test_others_shape_direction_pattern_landcover() -> None:
    yy, xx = np.mgrid[:21, :21]
    disk = (yy - 10) ** 2 + (xx - 10) ** 2 <= 100
    bar = np.ones((4, 40), dtype=bool)
    line = [("car", (20 + 30 * i, 150, 4, 2), None) for i in range(6)]
    cover = np.zeros((300, 300), dtype=np.uint8)
    cover[:, 200:] = 1
    for objects, expected in (([("storage tank", (50, 50, 21, 21), disk)], {"circular"}), ([("ship", (50, 50, 40, 4), bar)], {"elongated", "horizontal"})):
        answers = {q.answer for q in scene_questions(scene(objects), CorpusContext(("ship",)), random.Random(1)) if q.application == "others"}
        assert expected <= answers
    pattern = [q.answer for q in scene_questions(scene(line), CorpusContext(("car",)), random.Random(1)) if "arranged" in q.question]
    assert pattern == ["linear"]
    land = [q.answer for q in scene_questions(scene([], landcover=cover, landcover_classes=("water", "urban")), CorpusContext(()), random.Random(1)) if "land" in q.question]
    assert land == ["water"]


def test_identification_is_balanced_per_category() -> None:
    rng = random.Random(0)
    scenes = [scene([("ship", (10, 10, 5, 5), None)] if rng.random() < 0.25 else [("car", (10, 10, 5, 5), None)]) for _ in range(2000)]
    context = CorpusContext(("car", "ship"), {"ship": sum(any(o.category == "ship" for o in s.objects) for s in scenes) / 2000})
    context.presence["car"] = 1 - context.presence["ship"]
    answers = [q.answer for i, s in enumerate(scenes) for q in scene_questions(s, context, random.Random(i)) if q.application == "object_identification" and "ship" in q.question]
    assert 0.45 < answers.count("yes") / len(answers) < 0.55


@needs_mstar
def test_real_mstar_build(tmp_path: Path) -> None:
    summary = D.build_dataset([f"voc:{MSTAR}"], tmp_path)
    assert summary["scenes"] == 300 and summary["records"] > 2000
    records = rows(tmp_path)
    import xml.etree.ElementTree as ET

    truth = {}
    for xml in (MSTAR / "Annotations").glob("*.xml"):
        root = ET.parse(xml).getroot()
        w, h = int(root.findtext("size/width")), int(root.findtext("size/height"))
        truth[xml.stem] = (w, h, [(o.findtext("name"), [float(o.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]) for o in root.findall("object")])
    clipped_seen = False
    for r in records:
        scene_id = r["provenance"]["scene"].split(":", 1)[1]
        w, h, objs = truth[scene_id]
        if r["application"] == "instance_counting":
            name = re.search(r"class (\d) target", r["question"]).group(1)
            assert int(r["answer"]) == sum(1 for n, _ in objs if n == name)
        if r["application"] == "region_referring":
            x, y, bw, bh = (float(v) for v in re.search(r"\[(.*)\]", r["question"]).group(1).split(","))
            assert 0 <= x and 0 <= y and x + bw <= w + 1e-6 and y + bh <= h + 1e-6
            clipped_seen |= any(b[3] > h and abs((y + bh) - h) < 1e-6 for _, b in objs)
        if r["application"] == "object_positioning":
            name = re.search(r"class (\d) target", r["question"]).group(1)
            centres = [((b[0] + min(b[2], w)) / 2, (b[1] + min(b[3], h)) / 2) for n, b in objs if n == name]
            words = [position_of(cx, cy, w, h, False) for cx, cy in centres]
            assert r["answer"] == max(set(words), key=words.count)
    images = {}
    for r in records:
        images.setdefault(r["image"], set()).add(r["split"])
    assert all(len(s) == 1 for s in images.values())
    assert {s.pop() for s in images.values()} == {"train", "test"}
    assert clipped_seen  # MSTAR's boxes past the edge were clipped, not dropped


@needs_hrsid
def test_real_hrsid_counts_are_connected_components(tmp_path: Path) -> None:
    from PIL import Image
    from scipy import ndimage

    D.build_dataset([f"masks:{HRSID}"], tmp_path)
    for r in rows(tmp_path):
        if r["application"] == "instance_counting":
            stem = Path(r["image"]).stem
            mask = np.asarray(Image.open(HRSID / "masks" / f"{stem}.png").convert("RGB")).max(axis=2) > 127
            labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
            sizes = np.bincount(labels.ravel())[1:]
            assert int(r["answer"]) == int((sizes >= 4).sum())


def write_coco(root: Path, images: list, annotations: list, categories=None) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    from PIL import Image

    for img in images:
        if not img.get("missing"):
            Image.new("L", (img["width"], img["height"]), 40).save(root / "JPEGImages" / img["file_name"])
    data = {"images": [{k: v for k, v in i.items() if k != "missing"} for i in images], "annotations": annotations,
            "categories": categories or [{"id": 1, "name": "ship"}, {"id": 2, "name": "aircraft"}]}
    (root / "Annotations" / "train.json").write_text(json.dumps(data))
    return root


def test_bad_coco_and_voc_input_becomes_rejects(tmp_path: Path) -> None:
    images = [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}, {"id": 1, "file_name": "dup.jpg", "width": 100, "height": 100},
              {"id": 2, "file_name": "gone.jpg", "width": 100, "height": 100, "missing": True}, {"id": 3, "file_name": "c.jpg", "width": 50, "height": 50}]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [90, 90, 30, 30]},  # past the edge: clipped
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 5]},  # zero area
        {"id": 3, "image_id": 1, "category_id": 9, "bbox": [10, 10, 5, 5]},  # unknown category
        {"id": 4, "image_id": 77, "category_id": 1, "bbox": [10, 10, 5, 5]},  # unknown image
        {"id": 5, "image_id": 3, "category_id": 2, "bbox": [45, 45, 10, 10]},  # past the edge: clipped
    ]
    coco = write_coco(tmp_path / "coco", images, annotations)
    (tmp_path / "coco" / "Annotations" / "val.json").write_text("{not json")
    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    (voc / "Annotations" / "x.xml").write_text("<annotation><size>")
    out = tmp_path / "out"
    summary = D.build_dataset([f"coco:{coco}", f"voc:{voc}"], out)
    # image 1 has a box without area and an unknown category: its labels are incomplete, so it is
    # rejected whole (one reject naming both), never built with the valid box alone
    assert summary["scenes"] == 1 and summary["rejected"] == 6
    reasons = " | ".join(json.loads(line)["reason"] for line in (out / "rejects.jsonl").read_text().splitlines())
    for expected in ("scene rejected whole", "no area", "unknown category_id", "unknown image_id", "duplicate image id", "missing",
                     "not a COCO", "malformed XML"):
        assert expected in reasons
    assert not [r for r in rows(out) if r["image"].endswith("a.jpg")]
    regions = [r for r in rows(out) if r["application"] == "region_referring" and r["image"].endswith("c.jpg")]
    assert regions and all("[45.0, 45.0, 5.0, 5.0]" in r["question"] for r in regions)


def test_build_resumes_after_a_kill_without_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = ["simulate:12,size=64,gsd=2"]
    D.build_dataset(source, tmp_path / "clean")
    monkeypatch.setattr(D, "_BATCH_SCENES", 4)

    class Killed(Exception):
        pass

    def kill_after_first(done: int, total: int) -> None:
        if done >= 4:
            raise Killed

    with pytest.raises(Killed):
        D.build_dataset(source, tmp_path / "run", on_progress=kill_after_first)
    partial = tmp_path / "run" / "records.partial.jsonl"
    assert partial.exists() and not (tmp_path / "run" / "records.jsonl").exists()
    # the kill struck after a later scene's records were written but before it was noted as done
    done = set((tmp_path / "run" / "done.txt").read_text().split())
    unfinished = [line for line in (tmp_path / "clean" / "records.jsonl").read_text().splitlines()
                  if json.loads(line)["provenance"]["scene"] not in done][-1]
    with partial.open("a") as handle:
        handle.write(unfinished + "\n" + '{"id": "torn-by-the-kill", "image"')  # and a half-written line
    summary = D.build_dataset(source, tmp_path / "run")
    assert summary["scenes_resumed"] == 4
    assert (tmp_path / "run" / "records.jsonl").read_bytes() == (tmp_path / "clean" / "records.jsonl").read_bytes()
    ids = [r["id"] for r in rows(tmp_path / "run")]
    assert len(ids) == len(set(ids))


def test_build_is_deterministic_and_sources_are_checked(tmp_path: Path) -> None:
    D.build_dataset(["simulate:3,size=64"], tmp_path / "a")
    D.build_dataset(["simulate:3,size=64"], tmp_path / "b")
    assert (tmp_path / "a" / "records.jsonl").read_bytes() == (tmp_path / "b" / "records.jsonl").read_bytes()
    with pytest.raises(InputError, match="unknown source kind"):
        D.build_dataset(["pdf:x"], tmp_path / "c")
    with pytest.raises(InputError, match="KIND:PATH"):
        D.build_dataset(["voc"], tmp_path / "c")
    result = run_cli("build", "--source", "voc:/nonexistent", "--out", str(tmp_path / "d"))
    assert result.returncode == 2 and "Annotations" in result.stderr and "Traceback" not in result.stderr


def test_class_prefix_and_nine_regions(tmp_path: Path) -> None:
    D.build_dataset(["simulate:2,size=128"], tmp_path, D.BuildOptions(class_prefix=True, nine_regions=True))
    records = rows(tmp_path)
    assert all(r["question"].startswith("The classes are: ") for r in records if r["application"] in ("object_identification", "object_positioning"))
    cells = {"top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"}
    positions = [r["answer"] for r in records if r["application"] == "object_positioning"]
    assert positions and set(positions) <= cells


def test_landcover_masks_and_sarlang1m_sources(tmp_path: Path) -> None:
    from PIL import Image

    lc = tmp_path / "lc"
    (lc / "images").mkdir(parents=True)
    (lc / "labels").mkdir()
    (lc / "classes.txt").write_text("water\nurban\nforest\n")
    labels = np.zeros((40, 40), dtype=np.uint8)
    labels[:, 30:] = 1
    Image.fromarray(np.full((40, 40), 90, np.uint8)).save(lc / "images" / "a.png")
    Image.fromarray(labels).save(lc / "labels" / "a.png")
    Image.fromarray(np.full((40, 40), 90, np.uint8)).save(lc / "images" / "b.png")  # no labels: rejected
    masks = tmp_path / "masks"
    (masks / "images").mkdir(parents=True)
    (masks / "masks").mkdir()
    Image.fromarray(np.full((30, 30), 60, np.uint8)).save(masks / "images" / "empty.png")
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(masks / "masks" / "empty.png")  # empty mask: a valid negative
    s1m = tmp_path / "SARVQA1_test.csv"
    s1m.write_text("Image Name,Question,Answer\n0001.jpg,How many ships are there in the image?,3\n0001.jpg,How many ships are there in the image?,3\n")
    summary = D.build_dataset([f"landcover:{lc}", f"masks:{masks}", f"sarlang1m:{s1m}"], tmp_path / "out")
    records = rows(tmp_path / "out")
    assert summary["scenes"] == 2 and summary["rejected"] == 1 and summary["imported_sarlang1m_records"] == 2
    assert summary["duplicates_removed"] == 1  # the repeated SARLANG-1M row
    land = [r for r in records if r["question_type"].startswith("others.landcover")]
    assert [r["answer"] for r in land] == ["water"]
    empty = [r for r in records if r["image"].endswith("empty.png")]
    assert any(r["caption_kind"] == "concise" and ("no labelled" in r["answer"] or "none of the labelled" in r["answer"]) for r in empty)
    assert not [r for r in empty if r["application"] == "instance_counting"]
    imported = [r for r in records if r["source"] == "sarlang1m"]
    assert len(imported) == 1 and imported[0]["application"] == "instance_counting" and imported[0]["split"] == "test"


def test_objects_file_lists_every_labelled_object(tmp_path: Path) -> None:
    D.build_dataset(["simulate:4,size=96"], tmp_path)
    objects = {row["image"]: row for row in map(json.loads, (tmp_path / "objects.jsonl").read_text().splitlines())}
    records = rows(tmp_path)
    assert set(objects) == {r["image"] for r in records}
    checked = 0
    for r in records:
        found = objects[r["image"]]
        assert (tmp_path / r["image"]).exists() and found["width"] == found["height"] == 96
        if r["application"] == "region_referring":
            box = [float(v) for v in re.search(r"\[(.*)\]", r["question"]).group(1).split(",")]
            assert any(o["category"] == r["answer"] and np.allclose(o["box"], box, atol=0.051) for o in found["objects"])
            checked += 1
        if r["application"] == "instance_counting":
            name = next(c for c in {o["category"] for o in found["objects"]} if re.search(rf"\b{c}", r["question"]))
            assert int(r["answer"]) == sum(o["category"] == name for o in found["objects"])
            checked += 1
    assert checked > 10


def test_the_record_encoder_writes_what_json_dumps_writes(tmp_path: Path) -> None:
    """The fast encoder is written from Record's fields; every line equals json.dumps of the same record."""
    from dataclasses import fields

    from sarlang.schema import Record

    D.build_dataset(["simulate:4,size=64", "simulate-change:3,size=64"], tmp_path)
    pairs = 0
    for line in (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        # every field in Record's order; images only where a record shows several (a pair)
        assert list(row) == [f.name for f in fields(Record) if f.name != "images" or "images" in row]
        pairs += "images" in row
        assert line == json.dumps(row, ensure_ascii=False)
        assert Record.from_dict(row).to_dict() == row
    assert pairs > 0
