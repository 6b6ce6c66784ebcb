"""Scoring mask answers (sarlang eval segmentation), against hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarlang.eval.segmentation import SegmentationItem, match_masks, mean_mask_answers, score_segmentation
from sarlang.formats.masks import ParsedMasks, encode_rle
from tests.conftest import run_cli


def _box(x0: int, y0: int, w: int, h: int) -> np.ndarray:
    m = np.zeros((10, 10), dtype=bool)
    m[y0 : y0 + h, x0 : x0 + w] = True
    return m


def test_giou_ciou_and_precisions_by_hand() -> None:
    # item a: truth 4x4 = 16 px, answer 4x2 inside it: I 8, U 16, IoU 0.5
    # item b: truth 2x2 = 4 px, answer the same: IoU 1
    # item c: truth 3x3 = 9 px, no answer: I 0, U 9, IoU 0
    items = [SegmentationItem("a", ParsedMasks([_box(0, 0, 4, 2)], "polygon"), (_box(0, 0, 4, 4),), True),
             SegmentationItem("b", ParsedMasks([_box(6, 6, 2, 2)], "rle"), (_box(6, 6, 2, 2),), False),
             SegmentationItem("c", ParsedMasks(reason="empty answer"), (_box(0, 6, 3, 3),), False)]
    s = score_segmentation(items)
    assert s["gIoU"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert s["cIoU"] == pytest.approx((8 + 4 + 0) / (16 + 4 + 9))
    assert s["P@0.5"] == pytest.approx(2 / 3) and s["P@0.6"] == pytest.approx(1 / 3) and s["P@0.9"] == pytest.approx(1 / 3)
    assert s["unique"]["n"] == 1 and s["unique"]["gIoU"] == pytest.approx(0.5)
    assert s["non_unique"]["cIoU"] == pytest.approx(4 / 13)
    assert s["parsed_as"] == {"polygon": 1, "rle": 1, "unreadable": 1} and s["unreadable"] == {"empty answer": 1}
    assert [it["iou"] for it in s["items"]] == pytest.approx([0.5, 1.0, 0.0])


def test_several_instances_are_matched_one_to_one() -> None:
    t1, t2 = _box(0, 0, 2, 2), _box(5, 5, 3, 3)
    # the answer finds t2 well (IoU 6/9), t1 barely (IoU 1/4), and adds a mask over nothing
    answer = ParsedMasks([_box(5, 5, 3, 2), _box(1, 1, 1, 1), _box(0, 8, 2, 2)], "polygon")
    assert match_masks(answer.masks, [t1, t2]) == [(0, 1, pytest.approx(6 / 9))]
    s = score_segmentation([SegmentationItem("x", answer, (t1, t2), False)])
    inst = s["instances"]
    assert (inst["true_positives"], inst["masks_predicted"], inst["masks_true"]) == (1, 3, 2)
    assert inst["precision@0.5"] == pytest.approx(1 / 3) and inst["recall@0.5"] == pytest.approx(1 / 2)
    # the region: union of answers (6 + 1 + 4 = 11 px) against the union of truths (4 + 9 = 13 px), overlap 6 + 1
    assert s["gIoU"] == pytest.approx(7 / (11 + 13 - 7))


def test_the_command_scores_truth_perfectly_pictures_first_and_mean_masks_poorly(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.formats.records import load_records

    build_dataset(["simulate:12,size=96,seed=1"], tmp_path / "b", BuildOptions(segmentation="rle", train_fraction=0.5))
    records, _ = load_records(tmp_path / "b")
    test = [r for r in records if r.application == "referring_segmentation" and r.split == "test"]
    assert test
    (tmp_path / "truth.jsonl").write_text("".join(json.dumps({"id": r.id, "prediction": r.answer}) + "\n" for r in test))
    done = run_cli("eval", "segmentation", str(tmp_path / "truth.jsonl"), "--records", str(tmp_path / "b"), "--json", str(tmp_path / "t.json"))
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "t.json").read_text())
    assert scores["gIoU"] == 1.0 and scores["cIoU"] == 1.0 and scores["P@0.9"] == 1.0
    # mask pictures beside the predictions win over the text: an empty picture scores 0
    (tmp_path / "truth_masks").mkdir()
    first = test[0]
    Image.fromarray(np.zeros((first.provenance["height"], first.provenance["width"]), dtype=np.uint8)).save(tmp_path / "truth_masks" / f"{first.id}.png")
    run_cli("eval", "segmentation", str(tmp_path / "truth.jsonl"), "--records", str(tmp_path / "b"), "--json", str(tmp_path / "p.json"))
    picked = json.loads((tmp_path / "p.json").read_text())
    assert picked["parsed_as"]["png"] == 1 and picked["gIoU"] == pytest.approx((len(test) - 1) / len(test))
    mean = mean_mask_answers(records)
    assert set(mean) == {r.id for r in test}
    (tmp_path / "mean.jsonl").write_text("".join(json.dumps({"id": k, "prediction": v}) + "\n" for k, v in mean.items()))
    run_cli("eval", "segmentation", str(tmp_path / "mean.jsonl"), "--records", str(tmp_path / "b"), "--json", str(tmp_path / "m.json"))
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["gIoU"] < 0.3
    no_records = run_cli("eval", "segmentation", str(tmp_path / "mean.jsonl"))
    assert no_records.returncode != 0 and "--records BUILD" in no_records.stderr + no_records.stdout and "Traceback" not in no_records.stderr


@pytest.mark.parametrize("answer, reason", [
    ('{"size": [100000, 100000], "counts": "0"}', "the image is 10x10"),
    ('{"size": [10, 10], "counts": "\\u0001\\u0002"}', "never writes"),
    ('{"size": [10, 10], "counts": [5, 5]}', "summing to 100"),
    ('{"polygon": [[0, 0], [NaN, 3], [4, 4]]}', "not finite"),
    ("[[1, 1], [2, 2]]", "no mask"),
    ("[[50, 50], [60, 50], [60, 60]]", "outside the image"),
])
def test_hostile_mask_answers_score_zero_with_their_reason(answer: str, reason: str) -> None:
    from sarlang.formats.masks import parse_masks

    parsed = parse_masks(answer, 10, 10)
    assert reason in (parsed.reason or "")
    assert parsed.union is None or not parsed.union.any()
    s = score_segmentation([SegmentationItem("h", parsed, (_box(0, 0, 3, 3),))])
    assert s["gIoU"] == 0.0 and s["unreadable"] == {parsed.reason: 1}
