"""Bad input to ``sarlang build``: every broken scene is one reject with its reason, nothing else changes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sarlang.corpus import dataset as D
from sarlang.errors import InputError
from sarlang.schema import Scene

from ..conftest import run_cli
from .corpus import VOC_BREAKERS, good_voc


def _records(out: Path) -> bytes:
    return (out / "records.jsonl").read_bytes()


def _rejects(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def good_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("good")
    good_voc(root / "voc")
    D.build_dataset([f"voc:{root / 'voc'}"], root / "out")
    assert not _rejects(root / "out")
    return root / "out"


@pytest.mark.parametrize("case", sorted(VOC_BREAKERS))
def test_a_broken_scene_is_one_reject_and_the_rest_is_unchanged(case: str, tmp_path: Path, good_build: Path) -> None:
    breaker, reason = VOC_BREAKERS[case]
    good_voc(tmp_path / "voc")
    breaker(tmp_path / "voc")
    summary = D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out")
    rejects = _rejects(tmp_path / "out")
    assert [r["id"] for r in rejects] == ["bad"], rejects
    assert reason in rejects[0]["reason"]
    assert summary["rejected"] == 1
    # nothing lost, nothing invented: the good scenes give exactly the records they give alone
    assert _records(tmp_path / "out") == _records(good_build)


def test_one_picture_labelled_by_two_annotations_is_rejected(tmp_path: Path, good_build: Path) -> None:
    from .corpus import second_annotation_of_one_image

    good_voc(tmp_path / "voc")
    second_annotation_of_one_image(tmp_path / "voc")
    D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out")
    rejects = _rejects(tmp_path / "out")
    assert sorted(r["id"] for r in rejects) == ["bad", "bad2"] and all("labelled by several annotations" in r["reason"] for r in rejects)
    assert _records(tmp_path / "out") == _records(good_build)


def test_a_scene_with_one_bad_object_gives_no_records_at_all(tmp_path: Path) -> None:
    good_voc(tmp_path / "voc")
    VOC_BREAKERS["NaN coordinate"][0](tmp_path / "voc")
    D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out")
    rows = [json.loads(line) for line in _records(tmp_path / "out").decode().splitlines()]
    assert not [r for r in rows if "bad" in r["image"]]
    assert "scene rejected whole" in _rejects(tmp_path / "out")[0]["reason"]


def test_the_cli_reports_rejects_and_exits_zero(tmp_path: Path) -> None:
    good_voc(tmp_path / "voc")
    VOC_BREAKERS["declared size disagrees with the image"][0](tmp_path / "voc")
    result = run_cli("build", "--source", f"voc:{tmp_path / 'voc'}", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "1 rejected" in result.stdout and "declared NxN, image is NxN" in result.stdout
    assert "declared 2000x2000, image is 160x120" in (tmp_path / "out" / "rejects.jsonl").read_text()


def _coco(root: Path, images: list[dict], annotations: list[dict], categories: list[dict]) -> Path:
    from .corpus import speckled_picture

    (root / "JPEGImages").mkdir(parents=True)
    for i, img in enumerate(images):
        if not (root / "JPEGImages" / img["file_name"]).exists():
            speckled_picture(root / "JPEGImages" / img["file_name"], img["width"], img["height"], seed=i)
    (root / "instances.json").write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return root / "instances.json"


IMAGES = [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}, {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}]
SHIP = [{"id": 1, "name": "ship"}, {"id": 2, "name": "aircraft"}]


@pytest.mark.parametrize(
    ("images", "annotations", "categories", "rejected_ids", "reason"),
    [
        # the same picture under two ids: two label sets for one image contradict each other
        (IMAGES + [{"id": 3, "file_name": "a.jpg", "width": 100, "height": 80}],
         [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10]}, {"id": 2, "image_id": 3, "category_id": 2, "bbox": [5, 5, 10, 10]}],
         SHIP, ["1", "3"], "listed under several image ids"),
        # one annotation id twice
        (IMAGES, [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10]}, {"id": 7, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10]}],
         SHIP, ["1"], "appears 2 times"),
        # one category id with two names
        (IMAGES, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10]}], SHIP + [{"id": 1, "name": "boat"}], ["1"], "several names"),
        # a NaN in the box (Python's JSON reads NaN)
        (IMAGES, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [float("nan"), 5, 10, 10]}], SHIP, ["1"], "not finite"),
        # a width that is text
        (IMAGES, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, "wide", 10]}], SHIP, ["1"], "not a number"),
    ],
    ids=["same-file-two-ids", "duplicate-annotation-id", "category-two-names", "nan-box", "text-box"],
)
def test_contradictory_coco_labels_are_rejected(tmp_path: Path, images, annotations, categories, rejected_ids, reason) -> None:
    good_annotation = {"id": 99, "image_id": 2, "category_id": 2, "bbox": [50, 40, 20, 15]}
    source = _coco(tmp_path / "coco", images, annotations + [good_annotation], categories)
    summary = D.build_dataset([f"coco:{source}"], tmp_path / "out")
    rejects = _rejects(tmp_path / "out")
    assert sorted(r["id"] for r in rejects) == rejected_ids
    assert all(reason in r["reason"] for r in rejects), rejects
    assert summary["scenes"] == 1
    images_built = {json.loads(line)["image"] for line in _records(tmp_path / "out").decode().splitlines()}
    assert images_built == {"../coco/JPEGImages/b.jpg"}


def test_simulated_resolutions_of_one_scene_share_a_split(tmp_path: Path) -> None:
    D.build_dataset(["simulate:40,size=32,gsd=2+6"], tmp_path, D.BuildOptions(captions=False))
    splits: dict[str, set[str]] = {}
    for line in _records(tmp_path).decode().splitlines():
        row = json.loads(line)
        splits.setdefault(row["provenance"]["group"], set()).add(row["split"])
    assert len(splits) == 40 and all(len(s) == 1 for s in splits.values())
    assert {s for v in splits.values() for s in v} == {"train", "test"}


def test_the_disjointness_check_covers_groups(tmp_path: Path) -> None:
    from sarlang.corpus.splits import check_disjoint
    from sarlang.errors import SarlangError

    with pytest.raises(SarlangError, match="groups of images of one place are in more than one split"):
        check_disjoint([("sim1", "train"), ("sim1", "test")], "groups of images of one place")


@pytest.mark.parametrize(("fraction", "splits"), [(0, {"test"}), (1, {"train"})])
def test_all_test_and_all_train_builds(tmp_path: Path, fraction: float, splits: set[str]) -> None:
    summary = D.build_dataset(["simulate:6,size=32"], tmp_path, D.BuildOptions(train_fraction=fraction))
    assert set(summary["by_split"]) == splits


def test_resuming_with_changed_inputs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good_voc(tmp_path / "voc")
    monkeypatch.setattr(D, "_BATCH_SCENES", 1)

    class Killed(Exception):
        pass

    def kill(done: int, total: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out", on_progress=kill)
    # a label changes while the build is interrupted
    xml = sorted((tmp_path / "voc" / "Annotations").glob("*.xml"))[-1]
    xml.write_text(re.sub(r"(<object>\s*<name>)", r"\g<1>7", xml.read_text(), count=1))
    with pytest.raises(InputError, match="other inputs or options"):
        D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out")
    with pytest.raises(InputError, match="other inputs or options"):  # so does a changed option
        D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out", D.BuildOptions(seed=3))
    result = run_cli("build", "--source", f"voc:{tmp_path / 'voc'}", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "--restart" in result.stderr and "Traceback" not in result.stderr
    summary = D.build_dataset([f"voc:{tmp_path / 'voc'}"], tmp_path / "out", restart=True)
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "voc", tmp_path / "fresh_voc")
    assert summary["scenes_resumed"] == 0
    D.build_dataset([f"voc:{tmp_path / 'fresh_voc'}"], fresh)
    assert _records(tmp_path / "out").replace(b"/voc/", b"/X/") == _records(fresh).replace(b"/fresh_voc/", b"/X/").replace(b"fresh_voc", b"voc")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "simulate:0"], "asks for 0 scenes"),
        (["--source", "simulate:5", "--train-fraction", "1.5"], "train fraction must lie in [0, 1]"),
        (["--source", "nosuchkind:x"], "unknown source kind"),
        (["--source", "voc:/nonexistent/folder"], "has no Annotations/ folder"),
    ],
)
def test_build_argument_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("build", *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_tiles_cover_the_image_and_keep_only_complete_labels() -> None:
    from sarlang.sar.tiling import tile_scene, tile_starts
    from sarlang.schema import SarImage, SceneObject

    assert tile_starts(100, 32, 24) == [0, 24, 48, 68]  # the last tile is aligned to the border
    assert tile_starts(96, 32, 32) == [0, 32, 64] and tile_starts(20, 32, 32) == [0]
    pixels = SarImage(np.zeros((100, 100), np.uint8), "display8")
    whole = Scene("", 100, 100, objects=[SceneObject("ship", (90.0, 90.0, 8.0, 8.0)), SceneObject("ship", (28.0, 5.0, 10.0, 4.0))],
                  pixels=pixels, id="big")
    rejects: list = []
    tiles = tile_scene(whole, tile_size=32, levels=(1,), overlap=8, rejects=rejects)
    covered = np.zeros((100, 100), bool)
    for t in tiles:
        r, c = (int(v[1:]) for v in t.id.split("_")[2:4])
        covered[r : r + t.height, c : c + t.width] = True
        assert t.group == "big"
    rejected_ids = {tile_id for tile_id, _ in rejects}
    for tile_id in rejected_ids:
        r, c = (int(v[1:]) for v in tile_id.split("_")[2:4])
        covered[r : r + 32, c : c + 32] = True
    assert covered.all()  # tiles (kept or rejected for a sliver) cover every pixel, the border included
    assert any(o.box == (22.0, 22.0, 8.0, 8.0) for t in tiles if t.id == "big_L1_r68_c68" for o in t.objects)
    # the ship at x 28..38 is cut by the border at x 32 (40% inside the first tile): that tile is left out
    assert "big_L1_r0_c0" in rejected_ids and all("labels would be incomplete" in reason for _, reason in rejects)


def test_build_tiles_large_images_into_one_split(tmp_path: Path) -> None:
    from .corpus import speckled_picture, voc_xml

    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    for i in range(6):
        speckled_picture(voc / "JPEGImages" / f"big{i}.jpg", 300, 200, seed=i)
        (voc / "Annotations" / f"big{i}.xml").write_text(voc_xml(f"big{i}.jpg", 300, 200, [("2", 10, 10, 40, 30), ("8", 255, 170, 285, 188)]))
    summary = D.build_dataset([f"voc:{voc}"], tmp_path / "out", D.BuildOptions(tile=128, tile_overlap=16))
    rows = [json.loads(line) for line in _records(tmp_path / "out").decode().splitlines()]
    assert {r["provenance"]["group"] for r in rows} == {f"voc:group:big{i}" for i in range(6)}
    by_group: dict[str, set[str]] = {}
    for r in rows:
        by_group.setdefault(r["provenance"]["group"], set()).add(r["split"])
        assert (tmp_path / "out" / r["image"]).exists() and r["image"].startswith("tiles/")
    assert all(len(s) == 1 for s in by_group.values())
    objects = [json.loads(line) for line in (tmp_path / "out" / "objects.jsonl").read_text().splitlines()]
    assert all(o["width"] <= 128 and o["height"] <= 128 for o in objects) and summary["scenes"] == len(objects)
    again = D.build_dataset([f"voc:{voc}"], tmp_path / "again", D.BuildOptions(tile=128, tile_overlap=16))
    assert again["records"] == summary["records"]
    result = run_cli("build", "--source", f"voc:{voc}", "--out", str(tmp_path / "cli"), "--tile", "8")
    assert result.returncode == 2 and "--tile 512,64" in result.stderr


def test_group_by_keeps_images_of_one_place_in_one_split(tmp_path: Path) -> None:
    from .corpus import speckled_picture, voc_xml

    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    # DOTA-style pre-cut tiles and several resolutions of 12 places: P0000__512__0___0, P0000__1024__0___512, ...
    for place in range(12):
        for variant in ("512__0___0", "512__0___512", "1024__0___0"):
            name = f"P{place:04d}__{variant}"
            speckled_picture(voc / "JPEGImages" / f"{name}.jpg", 160, 120, seed=place)
            (voc / "Annotations" / f"{name}.xml").write_text(voc_xml(f"{name}.jpg", 160, 120, [("2", 10, 10, 40, 30)]))
    D.build_dataset([f"voc:{voc}"], tmp_path / "out", D.BuildOptions(group_by=r"^(P\d+)__"))
    splits: dict[str, set[str]] = {}
    for line in _records(tmp_path / "out").decode().splitlines():
        row = json.loads(line)
        splits.setdefault(Path(row["image"]).name.split("__")[0], set()).add(row["split"])
    assert len(splits) == 12 and all(len(s) == 1 for s in splits.values())
    assert {s for v in splits.values() for s in v} == {"train", "test"}
    with pytest.raises(InputError, match="not a regular expression"):
        D.BuildOptions(group_by="(unclosed")


def test_source_options_in_the_spec(tmp_path: Path) -> None:
    good_voc(tmp_path / "voc")
    D.build_dataset([f"voc:{tmp_path / 'voc'},gsd=0.3,sensor=MSTAR"], tmp_path / "out")
    details = [json.loads(line)["answer"] for line in _records(tmp_path / "out").decode().splitlines()
               if json.loads(line)["question_type"] == "image_description.detailed"]
    assert details and all("0.3 m" in d and "MSTAR" in d for d in details)
    for spec, message in ((f"voc:{tmp_path / 'voc'},colour=red", "unknown option 'colour'"), (f"voc:{tmp_path / 'voc'},gsd=-2", "gsd=-2 is not usable"),
                          (f"voc:{tmp_path / 'voc'},names=ship", "cannot be given in a source spec")):
        with pytest.raises(InputError, match=message):
            D.build_dataset([spec], tmp_path / "bad")


def test_tiles_of_two_sources_with_the_same_ids_do_not_overwrite_each_other(tmp_path: Path) -> None:
    from .corpus import speckled_picture, voc_xml

    for name, seed in (("a", 1), ("b", 2)):
        voc = tmp_path / name
        (voc / "Annotations").mkdir(parents=True)
        (voc / "JPEGImages").mkdir()
        speckled_picture(voc / "JPEGImages" / "big.jpg", 300, 200, seed=seed)
        (voc / "Annotations" / "big.xml").write_text(voc_xml("big.jpg", 300, 200, [("2", 10, 10, 40, 30)]))
    D.build_dataset([f"voc:{tmp_path / 'a'}", f"voc:{tmp_path / 'b'}"], tmp_path / "out", D.BuildOptions(tile=128))
    rows = [json.loads(line) for line in _records(tmp_path / "out").decode().splitlines()]
    tiles = sorted((tmp_path / "out" / "tiles").glob("*.png"))
    assert len(tiles) == len({r["image"] for r in rows}) == 12  # 6 tiles of each picture, none shared
    # the second VOC folder reuses the id "big": its records are its own, with ids of their own
    assert len({r["id"] for r in rows}) == len(rows) and {r["source"] for r in rows} == {"voc", "voc#2"}
