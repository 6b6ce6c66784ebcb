"""Grounding metrics against IoUs computed by hand."""

from __future__ import annotations

import pytest

from sarlang.eval.grounding import GroundingItem, average_precision, iou, match, score_grounding
from sarlang.formats.boxes import CONVENTIONS, format_boxes, parse_boxes

TRUTH = (20.0, 10.0, 60.0, 50.0)  # 40 x 40 pixels


def test_iou_by_hand() -> None:
    assert iou(TRUTH, (30.0, 10.0, 70.0, 50.0)) == pytest.approx(1200 / 2000)  # 30 x 40 shared of 2000
    assert iou(TRUTH, (20.0, 10.0, 60.0, 30.0)) == pytest.approx(800 / 1600)  # the top half
    assert iou(TRUTH, (60.0, 10.0, 90.0, 50.0)) == 0.0 and iou(TRUTH, TRUTH) == 1.0  # touching is not overlapping
    assert iou(TRUTH, (25.0, 15.0, 25.0, 40.0)) == 0.0  # no area


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_single_targets_score_the_same_in_every_convention(convention: str) -> None:
    w, h = 200.0, 100.0
    answers = [(30.0, 10.0, 70.0, 50.0), (20.0, 10.0, 60.0, 30.0), (22.0, 12.0, 58.0, 48.0), None]  # IoU 0.6, 0.5, 0.81, unreadable
    items = []
    for k, box in enumerate(answers):
        text = "no idea" if box is None else format_boxes([box], convention, w, h)
        items.append(GroundingItem(str(k), parse_boxes(text, convention, w, h), (TRUTH,), unique=k < 2))
    result = score_grounding(items)
    single = result["single"]
    # 36 x 36 inside 40 x 40: 1296 / 1600 = 0.81
    assert single["mean_iou"] == pytest.approx((0.6 + 0.5 + 0.81 + 0.0) / 4, abs=2e-3)
    assert single["acc@0.5"] == 0.75 and single["acc@0.7"] == 0.25
    assert single["unique"]["acc@0.5"] == 1.0 and single["non_unique"]["acc@0.5"] == 0.5 and single["non_unique"]["n"] == 2
    assert result["unreadable"] == {"no box in the %s convention (nor in another) in the answer" % convention: 1}
    assert result["parsed_as"] == {convention: 3, "unreadable": 1}


def test_several_targets_are_matched_one_to_one() -> None:
    a, b = (0.0, 0.0, 10.0, 10.0), (20.0, 0.0, 30.0, 10.0)
    p1, p2, p3 = (21.0, 0.0, 31.0, 10.0), (1.0, 0.0, 11.0, 10.0), (50.0, 50.0, 60.0, 60.0)  # 90 / 110 each with b and a; p3 nothing
    assert match([p1, p2, p3], [a, b]) == [(0, 1, pytest.approx(90 / 110)), (1, 0, pytest.approx(90 / 110))]
    # one prediction cannot match two targets, and a duplicate is a false positive
    assert len(match([p2, p2], [a, b])) == 1
    text = ('[{"bbox_2d": [21, 0, 31, 10], "score": 0.9}, {"bbox_2d": [50, 50, 60, 60], "score": 0.8}, '
            '{"bbox_2d": [1, 0, 11, 10], "score": 0.7}]')
    result = score_grounding([GroundingItem("x", parse_boxes(text, "qwen2.5", 100, 100), (a, b))])["several"]
    assert result["true_positives"] == 2 and result["precision@0.5"] == pytest.approx(2 / 3) and result["recall@0.5"] == 1.0
    assert result["f1@0.5"] == pytest.approx(0.8)
    # ranked 0.9 hit, 0.8 miss, 0.7 hit: precision 1 up to recall 0.5, then 2/3 (51 and 50 of COCO's 101 points)
    assert result["ap@0.5"] == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)
    assert average_precision([], 0) is None and average_precision([], 3) == 0.0
    unscored = score_grounding([GroundingItem("x", parse_boxes("[1, 0, 10, 10], [21, 0, 10, 10]", "sarlang", 100, 100), (a, b))])["several"]
    assert unscored["ap@0.5"] is None and unscored["f1@0.5"] == 1.0
