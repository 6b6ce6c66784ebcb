"""Visual-grounding records (``sarlang build --grounding``) and their scoring (``sarlang eval grounding``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import pytest

from tests.conftest import SHARED_DATA, run_cli


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "records.jsonl").read_text().splitlines()]


def test_grounding_questions_are_added_last_and_answered_with_the_objects_boxes(tmp_path: Path) -> None:
    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.formats.boxes import parse_boxes

    build_dataset(["simulate:8,size=64,seed=5"], tmp_path / "plain")
    build_dataset(["simulate:8,size=64,seed=5"], tmp_path / "boxes", BuildOptions(grounding="qwen2.5"))
    plain, boxes = _rows(tmp_path / "plain"), _rows(tmp_path / "boxes")
    grounding = [r for r in boxes if r["application"] == "visual_grounding"]
    # every other record is what it was without grounding (the questions of a scene come first)
    assert [r for r in boxes if r["application"] != "visual_grounding"] == plain and grounding
    objects = {row["image"]: row for row in map(json.loads, (tmp_path / "boxes" / "objects.jsonl").read_text().splitlines())}
    for r in grounding:
        p = r["provenance"]
        assert p["convention"] == "qwen2.5" and "bbox_2d" in r["answer"] and "JSON" in r["question"]
        parsed = parse_boxes(r["answer"], "qwen2.5", p["width"], p["height"])
        assert parsed.parsed_as == "qwen2.5" and len(parsed.boxes) == len(p["boxes"])
        for (x1, y1, x2, y2), (x, y, w, h) in zip(parsed.boxes, p["boxes"]):
            assert abs(x1 - x) <= 0.5 and abs(y2 - (y + h)) <= 0.5  # the answer writes whole pixels
            assert 0 <= x and 0 <= y and x + w <= p["width"] + 1e-6 and y + h <= p["height"] + 1e-6
        labelled = [o["box"] for o in objects[r["image"]]["objects"]]
        assert all(any(max(abs(a - b) for a, b in zip(box, lab)) < 0.06 for lab in labelled) for box in p["boxes"])
        assert p["unique"] == (r["question_type"] in ("visual_grounding.where_box", "visual_grounding.locate"))
    with pytest.raises(Exception, match="unknown box convention"):
        BuildOptions(grounding="yolo")


@pytest.mark.slow
def test_eval_grounding_scores_the_truth_perfectly_and_the_mean_box_poorly(tmp_path: Path) -> None:
    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.eval.grounding import mean_box_answers
    from sarlang.formats.records import load_records

    build_dataset(["simulate:16,size=64,seed=7"], tmp_path / "b", BuildOptions(grounding="sarlang"))
    records, _ = load_records(tmp_path / "b")
    test = [r for r in records if r.split == "test" and r.application == "visual_grounding"]
    (tmp_path / "truth.jsonl").write_text("".join(json.dumps({"id": r.id, "prediction": r.answer}) + "\n" for r in test))
    mean = mean_box_answers(records)
    assert set(mean) == {r.id for r in test}
    (tmp_path / "mean.jsonl").write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n" for i, a in mean.items()))
    for name in ("truth", "mean"):
        result = run_cli("eval", "grounding", str(tmp_path / f"{name}.jsonl"), "--records", str(tmp_path / "b"), "--json", str(tmp_path / f"{name}.json"))
        assert result.returncode == 0, result.stderr
    truth, base = json.loads((tmp_path / "truth.json").read_text()), json.loads((tmp_path / "mean.json").read_text())
    assert truth["single"]["acc@0.5"] == 1.0 and truth["single"]["mean_iou"] == pytest.approx(1.0)
    assert base["single"]["mean_iou"] < 0.5 and base["single"]["n"] == truth["single"]["n"] > 0
    # box answers are never scored by the VQA rules, and say where they belong
    result = run_cli("eval", "vqa", str(tmp_path / "truth.jsonl"), "--records", str(tmp_path / "b"))
    assert result.returncode == 2 and "sarlang eval grounding" in result.stderr
    result = run_cli("eval", "grounding", str(tmp_path / "truth.jsonl"))
    assert result.returncode == 2 and "--records" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "mstar_scenes").is_dir(), reason="../shared/data is absent (real MSTAR scenes and HRSID tiles)")
def test_grounding_records_from_real_mstar_and_hrsid_lie_inside_their_images(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.corpus.dataset import BuildOptions, build_dataset

    build_dataset([f"voc:{SHARED_DATA / 'mstar_scenes'}", f"masks:{SHARED_DATA / 'hrsid'}"], tmp_path / "real", BuildOptions(grounding="sarlang"))
    grounding = [r for r in _rows(tmp_path / "real") if r["application"] == "visual_grounding"]
    assert {r["source"] for r in grounding} == {"voc", "masks"}
    sizes = {}
    for r in grounding:
        p = r["provenance"]
        image = (tmp_path / "real" / r["image"]).resolve()
        if image not in sizes:
            with Image.open(image) as im:
                sizes[image] = im.size
        assert (p["width"], p["height"]) == sizes[image]
        for x, y, w, h in p["boxes"]:
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= p["width"] and y + h <= p["height"]
    # MSTAR's VOC boxes that run past the image edge are clipped, not dropped
    assert any(y + h == p["height"] for r in grounding if r["source"] == "voc" for p in [r["provenance"]] for _, y, _, h in p["boxes"])
    assert any(not r["provenance"]["unique"] for r in grounding if r["source"] == "masks")  # HRSID tiles hold several ships


def test_exports_carry_grounding_in_each_trainers_convention(tmp_path: Path) -> None:
    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.errors import InputError
    from sarlang.formats.boxes import parse_boxes
    from sarlang.formats.exports import export_records

    build_dataset(["simulate:6,size=64,seed=3"], tmp_path / "b", BuildOptions(grounding="sarlang"))
    grounding = {r["id"]: r for r in _rows(tmp_path / "b") if r["application"] == "visual_grounding"}
    assert grounding
    export_records(tmp_path / "b", "sharegpt", tmp_path / "sg")
    export_records(tmp_path / "b", "llava", tmp_path / "ll")
    export_records(tmp_path / "b", "llava", tmp_path / "ll_geochat", box_convention="geochat")
    checked = 0
    for folder, convention in (("sg", "qwen2.5"), ("ll", "norm"), ("ll_geochat", "geochat")):
        assert json.loads((tmp_path / folder / f"export_{'sharegpt' if folder == 'sg' else 'llava'}.json").read_text())["box_convention"] == convention
        for path in (tmp_path / folder).glob("*_train.json"):
            for example in json.loads(path.read_text()):
                turns = example.get("conversations") or example.get("messages")
                asked, answered = turns[0].get("value", turns[0].get("content")), turns[1].get("value", turns[1].get("content"))
                original = next((r for r in grounding.values() if r["question"].split("?")[0] in asked), None)
                if original is None or "box" not in asked:
                    continue
                p = original["provenance"]
                parsed = parse_boxes(answered, convention, p["width"], p["height"])
                assert parsed.parsed_as == convention and "as [x, y, w, h] in pixels" not in asked
                truth = [(x, y, x + w, y + h) for x, y, w, h in p["boxes"]]
                tolerance = 0.5 if convention in ("qwen2.5", "norm") else p["width"] / 100
                assert all(max(abs(a - b) for a, b in zip(got, want)) <= tolerance for got, want in zip(parsed.boxes, truth))
                checked += 1
    assert checked >= 3
    with pytest.raises(InputError, match="unknown box convention"):
        export_records(tmp_path / "b", "llava", tmp_path / "x", box_convention="yolo")


@pytest.mark.slow
def test_the_built_in_model_answers_grounding_from_its_object_head(tmp_path: Path) -> None:
    """Grounding questions get boxes around the object head's peaks, of the category's median
    training size, in the convention the question states; models without box sizes use the decoder."""
    pytest.importorskip("torch", reason="torch is not installed (the train extra)")
    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.formats.boxes import parse_boxes
    from sarlang.formats.prompts import prompt_for
    from sarlang.formats.records import load_records
    from sarlang.models.baseline import BaselineModel
    from sarlang.models.run import train_from_config

    build_dataset(["simulate:8,size=64,seed=5"], tmp_path / "b", BuildOptions(grounding="norm"))
    model = train_from_config({"model": "baseline", "records": str(tmp_path / "b" / "records.jsonl"), "out": str(tmp_path / "m"), "epochs": 2,
                               "batch_size": 16, "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch"})
    records, _ = load_records(tmp_path / "b")
    trained_on = {r.image for r in records if r.split == "train"}
    objects = [json.loads(line) for line in (tmp_path / "b" / "objects.jsonl").read_text().splitlines()]
    category = model.config.categories[0]
    # the median over the training images' labels
    widths = [o["box"][2] for row in objects if row["image"] in trained_on for o in row["objects"] if o["category"] == category]  # pixels
    assert model.config.box_sizes[0][0] == pytest.approx(float(np.median(widths)), abs=1e-5)
    asked = [r for r in records if r.application == "visual_grounding"]
    image = str((tmp_path / "b" / asked[0].image).resolve())
    answers = model.answer([(image, prompt_for(r)) for r in asked[:6]] + [(image, "Question: How many ships are there in the image?. Answer the question concisely.")])
    for record, answer in zip(asked[:6], answers):
        parsed = parse_boxes(answer, "norm", record.provenance["width"], record.provenance["height"])
        assert parsed.parsed_as == "norm" and parsed.boxes, answer
    # an answer that is not a box question comes from the decoder as before
    assert "[" not in answers[-1]
    old = BaselineModel.load(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["box_sizes"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    plain = BaselineModel.load(tmp_path / "m")
    assert plain.config.box_sizes == [] and old.config.box_sizes
    prompts = [(image, prompt_for(asked[0]))]
    assert plain.answer(prompts) != old.answer(prompts) or not parse_boxes(plain.answer(prompts)[0], "norm", 64, 64).boxes
