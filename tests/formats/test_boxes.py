"""Box conventions: the same box written and read back in every convention models use."""

from __future__ import annotations

import pytest

from sarlang.errors import InputError
from sarlang.formats.boxes import CONVENTIONS, format_boxes, parse_boxes

W, H = 200.0, 100.0
TRUTH = (20.0, 10.0, 60.0, 50.0)  # pixels: x1, y1, x2, y2 of a 200 x 100 image

WRITTEN = {
    "sarlang": "[20.0, 10.0, 40.0, 40.0]",
    "qwen2.5": '[{"bbox_2d": [20, 10, 60, 50], "label": "ship"}]',
    "norm": "[0.100, 0.100, 0.300, 0.500]",
    "geochat": "{<10><10><30><50>}",
    "qwen2": "<|object_ref_start|>ship<|object_ref_end|><|box_start|>(100,100),(300,500)<|box_end|>",
}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_each_convention_writes_and_reads_the_same_box(convention: str) -> None:
    assert format_boxes([TRUTH], convention, W, H, ["ship"]) == WRITTEN[convention]
    parsed = parse_boxes(WRITTEN[convention], convention, W, H)
    assert parsed.parsed_as == convention and parsed.reason is None
    assert parsed.boxes == [pytest.approx(TRUTH)]


def test_answers_are_read_leniently_and_say_how() -> None:
    fenced = 'Here it is:\n```json\n[{"bbox_2d": [30, 10, 70, 50], "label": "ship", "score": 0.8}]\n```'
    parsed = parse_boxes(fenced, "sarlang", W, H)  # asked for [x, y, w, h], answered in Qwen2.5's JSON
    assert parsed.parsed_as == "qwen2.5" and parsed.boxes == [(30.0, 10.0, 70.0, 50.0)] and parsed.scores == [0.8] and parsed.labels == ["ship"]
    several = parse_boxes("ships at [0.1, 0.1, 0.3, 0.5] and [0.5, 0.2, 0.6, 0.4].", "norm", W, H)
    assert several.boxes == [pytest.approx(TRUTH), pytest.approx((100.0, 20.0, 120.0, 40.0))]
    angled = parse_boxes("{<10><10><30><50>|<45>}", "sarlang", W, H)
    assert angled.parsed_as == "geochat" and angled.boxes == [pytest.approx(TRUTH)]
    tokens = parse_boxes("<|box_start|>(100,100),(300,500)<|box_end|>", "norm", W, H)
    assert tokens.parsed_as == "qwen2" and tokens.boxes == [pytest.approx(TRUTH)] and tokens.labels == [None]
    swapped = parse_boxes("[60, 50, 20, 10]", "qwen2.5", W, H)  # corners in the other order: still the box
    assert swapped.boxes == [TRUTH] and swapped.parsed_as == "qwen2.5"


def test_unreadable_answers_give_their_reason() -> None:
    for text, reason in (("", "empty answer"), ("I cannot see any ship.", "no box in the sarlang convention"),
                         ("[20, 10, 0, 40]", "no area"), ('{"bbox_2d": [1, 2, 3]}', "no box")):
        parsed = parse_boxes(text, "sarlang", W, H)
        assert parsed.boxes == [] and reason in parsed.reason
    with pytest.raises(InputError, match="unknown box convention 'yolo'"):
        parse_boxes("[1, 2, 3, 4]", "yolo", W, H)
