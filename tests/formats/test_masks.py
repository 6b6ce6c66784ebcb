"""Mask answers: COCO RLE, polygons and the lenient reader (sarlang.formats.masks)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sarlang.formats.masks import (decode_rle, encode_rle, format_masks, mask_polygons, parse_masks, polygons_to_mask,
                                   read_mask_png)


def _square(x0: int, y0: int, side: int, shape: tuple[int, int] = (20, 30)) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[y0 : y0 + side, x0 : x0 + side] = True
    return m


def test_rle_round_trips_and_refuses_what_does_not_fit() -> None:
    m = _square(3, 4, 5)
    rle = encode_rle(m)
    assert rle["size"] == [20, 30] and isinstance(rle["counts"], str)
    assert (decode_rle(rle) == m).all() and (decode_rle(json.loads(json.dumps(rle)), 20, 30) == m).all()
    # uncompressed counts, column-major as COCO writes them: 4 + 20 * 3 background pixels, then 5 on ...
    counts = [3 * 20 + 4] + [5, 15] * 4 + [5, 20 * 30 - (3 * 20 + 4) - 5 * 5 - 15 * 4]
    assert (decode_rle({"size": [20, 30], "counts": counts}) == m).all()
    with pytest.raises(ValueError, match="image is 10x30"):
        decode_rle(rle, 10, 30)
    with pytest.raises(ValueError, match="summing to 600"):
        decode_rle({"size": [20, 30], "counts": [1, 2]})
    with pytest.raises(ValueError):
        decode_rle({"size": [20, 30], "counts": "\x7f\x7f"})
    with pytest.raises(ValueError, match="height, width"):
        decode_rle({"size": [20], "counts": "a"})


def test_a_square_polygon_by_hand() -> None:
    # the square of pixels x 3..7, y 4..8 is the polygon (3, 4) (8, 4) (8, 9) (3, 9) in COCO's convention
    assert (polygons_to_mask([[(3, 4), (8, 4), (8, 9), (3, 9)]], 20, 30) == _square(3, 4, 5)).all()
    outline = mask_polygons(_square(3, 4, 5))
    assert len(outline) == 1 and 4 <= len(outline[0]) <= 8
    xs, ys = [p[0] for p in outline[0]], [p[1] for p in outline[0]]
    assert min(xs) == pytest.approx(3, abs=0.5) and max(xs) == pytest.approx(8, abs=0.5) and max(ys) == pytest.approx(9, abs=0.5)


@pytest.mark.parametrize("text, parsed_as", [
    ("[[3, 4], [8, 4], [8, 9], [3, 9]]", "polygon"),
    ("The mask is [(3,4), (8,4), (8,9), (3,9)].", "polygon"),
    ("[3, 4, 8, 4, 8, 9, 3, 9]", "polygon"),
    ("POLYGON ((3 4, 8 4, 8 9, 3 9, 3 4))", "polygon"),
    ("{<3><4><8><4><8><9><3><9>}", "polygon"),
    ('```json\n{"polygon": [[3, 4], [8, 4], [8, 9], [3, 9]]}\n```', "polygon"),
    ('[{"label": "ship", "segmentation": [[3, 4, 8, 4, 8, 9, 3, 9]]}]', "polygon"),
    ("［３，４］，［８，４］", None),  # two points are no polygon; full-width text is read as ASCII
    ("[3, 4, 5, 5]", "box:sarlang"),
    ('[{"bbox_2d": [3, 4, 8, 9], "label": "ship"}]', "box:qwen2.5"),
])
def test_the_reader_takes_each_syntax_to_the_same_mask(text: str, parsed_as: str | None) -> None:
    parsed = parse_masks(text, 30, 20)
    assert parsed.parsed_as == parsed_as
    if parsed_as is None:
        assert parsed.reason and not parsed.masks
    else:
        assert parsed.reason is None and (parsed.union == _square(3, 4, 5)).all()


def test_rle_answers_several_instances_and_reasons() -> None:
    a, b = _square(1, 1, 3), _square(10, 10, 4)
    parsed = parse_masks(json.dumps([encode_rle(a), encode_rle(b)]), 30, 20)
    assert parsed.parsed_as == "rle" and len(parsed.masks) == 2 and (parsed.masks[1] == b).all()
    assert "image is 20x40" in parse_masks(json.dumps(encode_rle(a)), 40, 20).reason
    assert parse_masks("", 30, 20).reason == "empty answer"
    assert "no mask" in parse_masks("a ship in the middle", 30, 20).reason
    assert "outside the image" in parse_masks("[[100, 100], [120, 100], [120, 120]]", 30, 20).reason


def test_format_masks_writes_what_parse_masks_reads(tmp_path) -> None:
    a, b = _square(1, 1, 10), _square(16, 6, 12)
    for convention in ("polygon", "rle"):
        parsed = parse_masks(format_masks([a, b], convention), 30, 20)
        assert parsed.parsed_as == convention and len(parsed.masks) == 2
        iou = (parsed.union & (a | b)).sum() / (parsed.union | (a | b)).sum()
        assert iou > (0.99 if convention == "rle" else 0.9)  # whole-pixel vertices cut a corner pixel or two
    from PIL import Image

    picture = np.zeros((20, 30), dtype=np.uint8)
    picture[a], picture[b] = 1, 2
    Image.fromarray(picture).save(tmp_path / "m.png")
    parsed = parse_masks("anything", 30, 20, png=tmp_path / "m.png")
    assert parsed.parsed_as == "png" and len(parsed.masks) == 2 and (parsed.masks[0] == a).all()
    assert "the image 31x20" in read_mask_png(tmp_path / "m.png", 20, 31).reason
