"""Bi-temporal pairs from labels to records: sources, the simulator's changes and nuisances,
windows split by block, answers re-derived from the labels, exports with both images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sarlang.corpus.dataset import build_dataset
from sarlang.formats.records import load_records
from sarlang.sar.simulate import SimulationConfig, simulate_scene
from sarlang.sar.simulate_change import PairConfig, simulate_pair
from tests.conftest import SHARED_DATA

OTTAWA = SHARED_DATA / "change" / "ottawa_north"
needs_ottawa = pytest.mark.skipif(not OTTAWA.is_dir(), reason="../shared/data/change is absent (the real Ottawa pair)")


def _grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_the_earlier_date_is_the_simulated_scene_and_nuisances_are_no_change() -> None:
    config = SimulationConfig(height=96, width=96, gsd=4)
    for seed in range(6):
        pair = simulate_pair(seed, PairConfig(config, change_probability=0.0))
        assert np.array_equal(pair.pixels.data, simulate_scene(seed, config).pixels.data)
        assert not pair.change_map.any() and not pair.changes and pair.pair_notes["changes"] == []
        shift = float(np.hypot(*pair.pair_notes["shift_px"]))
        assert 0.3 <= shift <= 2.0 and abs(pair.pair_notes["calibration_offset_db"]) <= 1.5
        assert not np.allclose(pair.pixels.data, pair.later_pixels.data)  # the later date differs, by nuisance only
    changed = [simulate_pair(seed, PairConfig(config, change_probability=1.0)) for seed in range(12)]
    kinds = {k for p in changed for k in p.pair_notes["changes"]}
    assert {"flood", "ships", "harvest"} <= kinds and all(p.change_map.any() for p in changed if p.pair_notes["changes"])
    assert simulate_pair(3, PairConfig(config)).change_map.tobytes() == simulate_pair(3, PairConfig(config)).change_map.tobytes()


def _position(x: float, y: float, w: int, h: int) -> str:
    """The position rule written again, to check the build's answers independently."""
    col, row = min(2, int(3 * x / w)), min(2, int(3 * y / h))
    if (row, col) == (1, 1):
        return "center"
    du, dv = x / w - 0.5, y / h - 0.5
    return ("top" if dv < 0 else "bottom") if abs(dv) >= abs(du) else ("left" if du < 0 else "right")


def _extent(share: float) -> str:
    return "none" if share < 0.005 else "small" if share < 0.05 else "moderate" if share < 0.15 else "large" if share < 0.3 else "very large"


def _check_answers_from_the_maps(build: Path) -> int:
    """Every map-derived answer of a build, re-derived from the change map picture on disk."""
    records, _ = load_records(build)
    checked = 0
    for r in records:
        if not r.is_pair:
            continue
        truth = _grey(build / r.provenance["change_map"]) > 127
        share = float(truth.mean())
        h, w = truth.shape
        if r.application == "change_extent":
            assert r.answer == _extent(share), r
        elif r.application == "change_positioning":
            rows, cols = np.nonzero(truth)
            assert r.answer == _position(cols.mean() + 0.5, rows.mean() + 0.5, w, h), r
        elif r.application == "change_region_referring":
            x, y, bw, bh = (int(float(v)) for v in r.question.split("[")[1].split("]")[0].split(","))
            inside = truth[y : y + bh, x : x + bw].mean()
            assert (inside >= 0.6 and r.answer != "no change") or (inside <= 0.02 and r.answer == "no change"), (r, inside)
        elif r.application == "change_detection" and not r.provenance.get("causes"):
            assert r.answer == ("yes" if share >= 0.005 else "no"), r
        else:
            continue
        checked += 1
    return checked


def test_a_simulated_build_answers_from_its_labels(tmp_path: Path) -> None:
    summary = build_dataset(["simulate-change:16,size=96"], tmp_path)
    records, _ = load_records(tmp_path)
    assert all(r.is_pair and len(r.images) == 2 for r in records)
    assert _check_answers_from_the_maps(tmp_path) > 30
    no_change = [r for r in records if r.question_type == "change_detection.any" and r.answer == "no"]
    assert 4 <= len(no_change) <= 12  # about half the pairs, as change-captioning datasets keep them
    for r in no_change:  # a no-change pair: its captions say so although its pixels differ (nuisances)
        captions = [c for c in records if c.images == r.images and c.is_caption]
        assert captions and all(c.answer.startswith("No significant change") for c in captions)
    for r in records:  # object answers from the simulator's own objects of each date
        if r.question_type.startswith("change_counting"):
            assert r.answer.isdigit()
    assert summary["by_application"]["change_detection"] == 16
    # both dates' pictures share one stretch (a pair-wide recipe), so a nuisance-only pair looks alike
    pair = next(r for r in no_change)
    a, b = (_grey(tmp_path / p).astype(float) for p in pair.images)
    assert abs(a.mean() - b.mean()) < 20


@needs_ottawa
def test_the_real_ottawa_pair_in_windows_split_by_block(tmp_path: Path) -> None:
    summary = build_dataset(["pairs:" + str(SHARED_DATA / "change") + ",change=receded flood water"], tmp_path,
                            __import__("sarlang.corpus.dataset", fromlist=["BuildOptions"]).BuildOptions(tile=32))
    records, _ = load_records(tmp_path)
    assert summary["scenes"] == 60 and {r.split for r in records} == {"train", "test"}
    # windows of a block share a split; windows of the two splits never share a pixel
    windows: dict[str, set] = {"train": set(), "test": set()}
    for r in records:
        scene = r.provenance["scene"]
        row, col = (int(part[1:]) for part in scene.rsplit("_", 2)[1:])
        windows[r.split].add((row, col))
    for r0, c0 in windows["train"]:
        for r1, c1 in windows["test"]:
            assert abs(r0 - r1) >= 32 or abs(c0 - c1) >= 32
    assert _check_answers_from_the_maps(tmp_path) > 60
    # the windows' maps put together are the reference map
    reference = _grey(OTTAWA / "ottawa_change.png") > 127
    rebuilt = np.zeros_like(reference)
    for r in records:
        row, col = (int(part[1:]) for part in r.provenance["scene"].rsplit("_", 2)[1:])
        window = _grey(tmp_path / r.provenance["change_map"]) > 127
        rebuilt[row : row + window.shape[0], col : col + window.shape[1]] = window
    assert np.array_equal(rebuilt, reference)
    causes = {r.answer for r in records if r.application == "change_classification"}
    assert causes == {"receded flood water"}


def test_pair_labels_that_disagree_are_rejected_with_the_reason(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    root = tmp_path / "pairs"
    root.mkdir()
    base = (rng.random((40, 40)) * 200 + 20).astype(np.uint8)
    later = base.copy()
    later[5:15, 5:15] = 250
    change = np.zeros((40, 40), np.uint8)
    change[5:15, 5:15] = 255
    cases = {
        "good": (base, later, change, None, None),
        "identical": (base, base, change, None, None),
        "notbinary": (base, later, (change // 2) + 1, None, None),
        "size": (base, later[:30], change, None, None),
        "objects": (base, later, change, [], [{"category": "ship", "box": [25, 25, 6, 6]}]),  # a ship arrived where nothing changed
    }
    for name, (one, two, mp, first, second) in cases.items():
        Image.fromarray(one).save(root / f"{name}_2020-01.png")
        Image.fromarray(two).save(root / f"{name}_2020-02.png")
        Image.fromarray(mp).save(root / f"{name}_change.png")
        for date, objects in (("2020-01", first), ("2020-02", second)):
            if objects is not None:
                (root / f"{name}_{date}.objects.json").write_text(json.dumps(objects))
    Image.fromarray(base).save(root / "lonely_2020-01.png")
    summary = build_dataset([f"pairs:{root}"], tmp_path / "build")
    assert summary["scenes"] == 1
    rejects = [json.loads(line) for line in (tmp_path / "build" / "rejects.jsonl").read_text().splitlines()]
    reasons = " | ".join(r["reason"] for r in rejects)
    for expected in ("both dates are the same picture", "not binary", "differ in size", "where the change map shows no change", "needs two dates"):
        assert expected in reasons, (expected, reasons)


def test_the_classic_change_detection_layout(tmp_path: Path) -> None:
    from sarlang.sources.changedet import read

    folder = tmp_path / "bern"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in ("Bern_1.png", "Bern_2.png"):
        Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(folder / name)
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "Bern_gt.png")
    (tmp_path / "odd").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "odd" / "one.png")
    found = list(read(str(tmp_path), dates="1999-04+1999-05"))
    scenes = [s for s in found if hasattr(s, "later_image")]
    assert len(scenes) == 1 and scenes[0].image.endswith("Bern_1.png") and scenes[0].later_image.endswith("Bern_2.png")
    assert scenes[0].dates == ("1999-04", "1999-05") and not scenes[0].change_map.any()
    assert any("has 1 images and 0 maps" in getattr(s, "reason", "") for s in found)


def test_exports_show_both_images_and_read_back(tmp_path: Path) -> None:
    from sarlang.formats.exports import export_records

    build_dataset(["simulate-change:6,size=64"], tmp_path / "b")
    records, _ = load_records(tmp_path / "b")
    for fmt, name in (("sharegpt", "sharegpt_{s}.json"), ("llava", "llava_{s}.json"), ("vlmevalkit", "SARLANG_{s}.tsv"), ("sarlang", "{s}.json")):
        export_records(tmp_path / "b", fmt, tmp_path / fmt)
        for split in {r.split for r in records}:
            back, rejects = load_records(tmp_path / fmt / name.format(s=split))
            assert not rejects and all(r.is_pair for r in back), fmt
            mine = sorted((r.question, r.answer, r.application) for r in records if r.split == split)
            assert sorted((r.question, r.answer, r.application) for r in back) == mine, fmt
    conversation = json.loads((tmp_path / "sharegpt" / "sharegpt_train.json").read_text())[0]
    assert conversation["messages"][0]["content"].count("<image>") == 2 == len(conversation["images"])
    assert all((tmp_path / "sharegpt" / p).is_file() for p in conversation["images"])
    assert "both images" in json.loads((tmp_path / "sharegpt" / "export_sharegpt.json").read_text())["pairs"]
    assert "earlier date only" in json.loads((tmp_path / "sarlang" / "export_sarlang.json").read_text())["pairs"]


def test_a_map_of_change_classes_names_each_change(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    root = tmp_path / "pairs"
    root.mkdir()
    one = (rng.random((48, 48)) * 200 + 20).astype(np.uint8)
    two = one.copy()
    two[0:20, 0:20] = 5
    two[30:46, 30:46] = 250
    classes = np.zeros((48, 48), np.uint8)
    classes[0:20, 0:20] = 1
    classes[30:46, 30:46] = 2
    for name, mp in (("site", classes), ("bad", np.where(classes == 2, 3, classes).astype(np.uint8))):
        Image.fromarray(one).save(root / f"{name}_2021.png")
        Image.fromarray(two).save(root / f"{name}_2022.png")
        Image.fromarray(mp).save(root / f"{name}_change.png")
    build_dataset([f"pairs:{root},classes=flooded area+new building"], tmp_path / "b")
    records, _ = load_records(tmp_path / "b")
    regions = {r.answer for r in records if r.application == "change_region_referring"}
    assert regions <= {"flooded area", "new building", "no change"} and len(regions - {"no change"}) >= 1
    assert next(r for r in records if r.application == "change_detection").answer == "yes"
    assert not any(r.application == "change_classification" for r in records)  # two kinds of change: no single answer
    rejects = (tmp_path / "b" / "rejects.jsonl").read_text()
    assert "holds class 3 but only 2 classes are named" in rejects


def test_objects_of_both_dates_give_what_came_and_went(tmp_path: Path) -> None:
    """Counting answers from the objects of each date: a ship kept (boxes overlapping), one gone,
    two new; the change map covers those that came or went."""
    root = tmp_path / "port"
    root.mkdir()
    rng = np.random.default_rng(4)
    one = (rng.random((64, 64)) * 40 + 10).astype(np.uint8)
    two = one.copy()
    kept, gone, new = [4, 4, 8, 4], [40, 10, 8, 4], [[10, 40, 8, 4], [40, 50, 8, 4]]
    change = np.zeros((64, 64), np.uint8)
    for x, y, w, h in [gone, *new]:
        change[y : y + h, x : x + w] = 255
    for x, y, w, h in new:
        two[y : y + h, x : x + w] = 250
    Image.fromarray(one).save(root / "port_2023-01.png")
    Image.fromarray(two).save(root / "port_2023-02.png")
    Image.fromarray(change).save(root / "port_change.png")
    (root / "port_2023-01.objects.json").write_text(json.dumps([{"category": "ship", "box": kept}, {"category": "ship", "box": gone}]))
    (root / "port_2023-02.objects.json").write_text(json.dumps([{"category": "ship", "box": [5, 4, 8, 4]}] + [{"category": "ship", "box": b} for b in new]))
    build_dataset([f"pairs:{tmp_path}"], tmp_path / "b")
    records, _ = load_records(tmp_path / "b")
    answers = {r.question_type: r.answer for r in records if r.application == "change_counting"}
    assert answers == {"change_counting.appeared": "2", "change_counting.left": "1"}
    assert next(r for r in records if r.application == "change_classification").answer == "ships"
    concise = next(r for r in records if r.question_type == "change_description.concise").answer
    assert "two ships arrived" in concise and "one ship left" in concise


def test_a_folder_per_place(tmp_path: Path) -> None:
    from sarlang.sources.pairs import read

    rng = np.random.default_rng(5)
    for place in ("harbour", "delta"):
        folder = tmp_path / place
        folder.mkdir()
        for date in ("2019-07", "2020-07"):
            Image.fromarray((rng.random((24, 24)) * 255).astype(np.uint8)).save(folder / f"{date}.png")
        Image.fromarray(np.zeros((24, 24), np.uint8)).save(folder / "change.png")
    scenes = list(read(str(tmp_path)))
    assert [s.id for s in scenes] == ["delta/delta", "harbour/harbour"]
    assert all(s.dates == ("2019-07", "2020-07") and s.change_map is not None and s.group == s.id for s in scenes)
