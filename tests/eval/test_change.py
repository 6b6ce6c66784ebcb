"""Change maps, change captions and change questions scored: the measures by hand, the log-ratio
baseline on the real Ottawa pair, and the loop build -> predict -> eval change as typed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sarlang.eval.change import confusion, map_scores, score_change_maps
from tests.conftest import SHARED_DATA, run_cli

OTTAWA = SHARED_DATA / "change" / "ottawa_north"


def test_the_change_map_measures_by_hand() -> None:
    truth = np.zeros((10, 10), bool)
    truth[0, :] = True  # 10 changed pixels
    predicted = np.zeros((10, 10), bool)
    predicted[0, :8] = True  # 8 found
    predicted[5, :4] = True  # 4 false alarms
    counts = confusion(truth, predicted)
    assert counts == {"tp": 8, "tn": 86, "fa": 4, "ma": 2}
    scores = map_scores(counts)
    pre = (12 * 10 + 88 * 90) / 100**2
    assert scores["pcc"] == pytest.approx(0.94) and scores["kappa"] == pytest.approx((0.94 - pre) / (1 - pre))
    assert scores["f1"] == pytest.approx(16 / 22) and scores["iou"] == pytest.approx(8 / 14) and scores["overall_error"] == 6
    # a pair without a predicted map counts as nothing found, and is said
    pooled = score_change_maps([("a", truth, predicted), ("b", truth, None)])
    assert pooled["pooled"]["missed_alarms"] == 2 + 10 and pooled["without_a_predicted_map"] == ["b"]
    assert map_scores(confusion(truth, truth))["kappa"] == 1.0 and map_scores(confusion(~truth, ~truth))["kappa"] == 1.0
    with pytest.raises(ValueError, match="the reference"):
        confusion(truth, predicted[:5])


@pytest.mark.skipif(not OTTAWA.is_dir(), reason="../shared/data/change is absent (the real Ottawa pair)")
def test_the_log_ratio_baseline_on_the_whole_ottawa_pair() -> None:
    """The classic figure: on the whole pair (development data) Kappa 0.90, F1 0.92 with Otsu."""
    from sarlang.models.logratio import load

    model = load("logratio:otsu,3")
    images = (str(OTTAWA / "ottawa_1997-05.png"), str(OTTAWA / "ottawa_1997-08.png"))
    truth = np.asarray(Image.open(OTTAWA / "ottawa_change.png").convert("L")) > 127
    scores = map_scores(confusion(truth, model.change_map(images)))
    assert scores["kappa"] > 0.85 and scores["f1"] > 0.88, scores
    answers = model.answer([(images, "Question: Has anything changed between the two images?. Answer the question concisely."),
                            (images, "Question: What changed between the two images?. Answer the question concisely."),
                            ("single.png", "Question: Is there a ship?. Answer the question concisely.")])
    assert answers[:2] == ["yes", "receded flood water"] and answers[2] is None and "only about a pair" in model.failures[-1]


@pytest.mark.slow
def test_build_predict_and_eval_change_as_typed(tmp_path: Path) -> None:
    build = tmp_path / "pairs"
    assert run_cli("build", "--source", "simulate-change:12,size=96", "--out", str(build)).returncode == 0
    result = run_cli("predict", "--model", "logratio:", "--records", str(build / "records.jsonl"), "--out", str(tmp_path / "lr.jsonl"), "--split", "all")
    assert result.returncode == 0 and "change maps ->" in result.stdout, result.stdout + result.stderr
    assert len(list((tmp_path / "lr_change_maps").glob("*.png"))) == 12
    result = run_cli("eval", "change", str(tmp_path / "lr.jsonl"), "--records", str(build), "--no-meteor", "--json", str(tmp_path / "c.json"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    scores = json.loads((tmp_path / "c.json").read_text())
    assert scores["maps"]["pairs"] == 12 and 0 <= scores["maps"]["pooled"]["pcc"] <= 1
    assert set(scores["captions"]) == {"changed", "unchanged"}
    assert {"change_detection", "change_extent"} <= set(scores["questions"]["by_application"])
    # the report shows a pair's dates side by side with the true and the predicted change maps
    pytest.importorskip("jinja2", reason="jinja2 is not installed (the report extra)")
    run = tmp_path / "v"
    run.mkdir()
    assert run_cli("eval", "vqa", str(tmp_path / "lr.jsonl"), "--records", str(build), "--json", str(run / "vqa.json")).returncode == 0
    assert run_cli("eval", "captions", str(tmp_path / "lr.jsonl"), "--records", str(build), "--no-meteor", "--json", str(run / "captions.json")).returncode == 0
    result = run_cli("report", str(run), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    for alt in ('alt="later date', 'alt="true change map', 'alt="change map of v"'):
        assert alt in page, alt
    captions = page.split("Per-image CIDEr")[-1].split("<h2")[0] if "Per-image CIDEr" in page else page
    assert 'alt="later date"' in captions  # the best and worst change captions show both dates too
    # a model that sees one image leaves the pairs, and says so
    result = run_cli("predict", "--model", "blobs:", "--records", str(build / "records.jsonl"), "--out", str(tmp_path / "b.jsonl"), "--split", "all")
    assert result.returncode == 0 and "of bi-temporal pairs left unanswered" in result.stdout, result.stdout + result.stderr
    result = run_cli("eval", "change", str(tmp_path / "b.jsonl"), "--records", str(build))
    assert result.returncode == 2 and "is empty" in result.stderr and "Traceback" not in result.stderr  # nothing was predicted


@pytest.mark.slow
def test_the_built_in_model_learns_pairs_beside_single_images(tmp_path: Path) -> None:
    """Trained on a build of single scenes and pairs, the built-in model sees two images for a
    pair's questions (images_per_prompt 2), keeps it through save and load, and answers both kinds."""
    pytest.importorskip("torch", reason="torch is not installed (the train extra)")
    from sarlang.corpus.dataset import build_dataset
    from sarlang.models.base import load_model
    from sarlang.models.run import predict_records, train_from_config

    build_dataset(["simulate:6,size=64,seed=1", "simulate-change:8,size=64"], tmp_path / "b")
    model = train_from_config({"model": "baseline", "records": str(tmp_path / "b" / "records.jsonl"), "out": str(tmp_path / "m"), "epochs": 1,
                               "batch_size": 16, "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch"})
    assert model.config.pairs and model.images_per_prompt == 2
    loaded = load_model(str(tmp_path / "m"))
    assert loaded.images_per_prompt == 2
    summary = predict_records(loaded, tmp_path / "b" / "records.jsonl", tmp_path / "p.jsonl", split=None)
    from sarlang.formats.records import load_records

    records, _ = load_records(tmp_path / "b")
    assert summary["pairs_left"] == 0 and summary["predicted"] == len(records)
    pair = next(r for r in records if r.is_pair)
    images = tuple(str(tmp_path / "b" / i) for i in pair.images)
    answers = loaded.answer([(images, pair.question), (str(tmp_path / "b" / pair.image), "Describe the content of this image in one sentence.")])
    assert all(isinstance(a, str) for a in answers)
    from sarlang.errors import InputError

    single = _single_image_model(tmp_path)
    assert single.images_per_prompt == 1 and not single.config.pairs
    with pytest.raises(InputError, match="trained without bi-temporal pairs"):
        single.answer([(images, pair.question)])


def _single_image_model(tmp_path: Path):
    from sarlang.corpus.dataset import build_dataset
    from sarlang.models.run import train_from_config

    build_dataset(["simulate:4,size=64,seed=2"], tmp_path / "s")
    return train_from_config({"model": "baseline", "records": str(tmp_path / "s" / "records.jsonl"), "out": str(tmp_path / "sm"), "epochs": 1,
                              "batch_size": 16, "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch"})
