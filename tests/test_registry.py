"""Plug-ins of another package, found through real entry points (a dist-info folder on sys.path)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sarlang.eval.caption_metrics import CAPTION_METRICS
from sarlang.eval.captions import score_captions
from sarlang.sources import SOURCES, parse_source

from .conftest import run_cli

PLUGIN = '''
from sarlang.eval.caption_metrics import CaptionMetric
from sarlang.schema import Scene, SceneObject


def _length_ratio(hyps, refs):
    per = [len(h.split()) / max(len(r[0].split()), 1) for h, r in zip(hyps, refs)]
    return {"LengthRatio": (sum(per) / len(per), per)}


LENGTH_RATIO = CaptionMetric(("LengthRatio",), _length_ratio)


def read(path, sensor="unknown"):
    for i in range(int(path)):
        yield Scene(image=f"p{i}.png", width=64, height=64, sensor=sensor,
                    objects=[SceneObject("ship", (4.0, 4.0, 20.0, 20.0))])
'''


@pytest.fixture
def plugin_package(tmp_path: Path) -> Iterator[None]:
    """A package ``sarlang_plugin`` with a caption metric and a source, registered by entry points."""
    (tmp_path / "sarlang_plugin.py").write_text(PLUGIN)
    info = tmp_path / "sarlang_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sarlang-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[sarlang.caption_metrics]\nlength-ratio = sarlang_plugin:LENGTH_RATIO\n\n"
        "[sarlang.sources]\nfake = sarlang_plugin:read\n"
    )
    sys.path.insert(0, str(tmp_path))
    registries = (CAPTION_METRICS, SOURCES)
    for registry in registries:
        registry.__dict__.pop("_external", None)  # forget entry points read before the package existed
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sarlang_plugin", None)
        for registry in registries:
            registry.__dict__.pop("_external", None)


HYPS = ["a ship near the coast", "two ships in open water", "an empty sea"]
REFS = [["a ship close to the coast"], ["two ships at sea"], ["open sea with no ship at all"]]


def test_a_caption_metric_of_another_package_is_scored_after_the_builtins(plugin_package: None) -> None:
    assert "length-ratio" in CAPTION_METRICS.names()
    both = score_captions(HYPS, REFS, meteor=False, metrics=["bleu", "rouge-l", "cider", "length-ratio"])
    builtin = score_captions(HYPS, REFS, meteor=False)
    assert list(both.scores)[-1] == "LengthRatio"
    assert both.scores["LengthRatio"] == pytest.approx((5 / 6 + 5 / 4 + 3 / 7) / 3)
    assert both.per_sample["LengthRatio"] == pytest.approx([5 / 6, 5 / 4, 3 / 7])
    assert {k: v for k, v in both.scores.items() if k != "LengthRatio"} == builtin.scores


def test_metrics_not_asked_for_are_reported_and_the_others_unchanged() -> None:
    full = score_captions(HYPS, REFS, meteor=False)
    only_cider = score_captions(HYPS, REFS, meteor=False, metrics=["CIDEr"])
    assert only_cider.scores["CIDEr"] == full.scores["CIDEr"]
    assert only_cider.scores["Bleu_4"] is None and only_cider.scores["ROUGE_L"] is None
    assert "not requested" in only_cider.unavailable["Bleu_1"]
    assert set(only_cider.per_sample) == {"CIDEr"}


def test_the_cli_lists_and_scores_a_plugin_metric(plugin_package: None, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    preds = tmp_path / "preds.jsonl"
    rows = [{"id": f"r{i}", "image": f"i{i}.png", "application": "image_description", "question": "",
             "answer": ref[0]} for i, ref in enumerate(REFS)]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds.write_text("".join(json.dumps({"id": f"r{i}", "prediction": h}) + "\n" for i, h in enumerate(HYPS)))
    out = tmp_path / "scores.json"
    result = run_cli("eval", "captions", str(preds), "--records", str(records), "--metric", "length-ratio",
                     "--metric", "bleu", "--json", str(out),
                     env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    scores = json.loads(out.read_text())["scores"]
    assert scores["LengthRatio"] == pytest.approx((5 / 6 + 5 / 4 + 3 / 7) / 3) and scores["CIDEr"] is None
    assert "LengthRatio" in result.stdout


def test_a_source_of_another_package_takes_its_options_from_the_spec(plugin_package: None) -> None:
    kind, path, options = parse_source("fake:3,sensor=Sentinel-1")
    assert (kind, path, options) == ("fake", "3", {"sensor": "Sentinel-1"})
    scenes = list(SOURCES.get(kind)(path, **options))
    assert [s.sensor for s in scenes] == ["Sentinel-1"] * 3
