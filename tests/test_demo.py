"""``sarlang demo``: the whole loop end to end on a few simulated scenes, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.schema import APPLICATIONS

from .conftest import run_cli

pytest.importorskip("torch")


@pytest.mark.slow
def test_demo_runs_the_whole_loop_and_reports_against_the_majority_answer(tmp_path: Path) -> None:
    out = tmp_path / "demo_out"
    result = run_cli("demo", "--out", str(out), "--scenes", "6", "--epochs", "1", "--no-meteor", timeout=600)
    assert result.returncode == 0, result.stderr
    assert "1/6 building the benchmark" in result.stdout and "# sarlang demo report" in result.stdout
    scores = json.loads((out / "scores.json").read_text())
    assert scores["scenes"] == 12 and scores["model"]["id"] == "sarlang-baseline-v3" and scores["model"]["categories"]
    by_app = scores["vqa"]["by_application"]
    assert set(by_app) <= set(APPLICATIONS[1:]) and len(by_app) >= 4
    for d in by_app.values():
        assert 0 <= d["model"]["accuracy"] <= 1 and 0 <= d["majority"]["accuracy"] <= 1 and 0 <= d["p_mcnemar"] <= 1
        assert abs(d["difference"] - (d["model"]["accuracy"] - d["majority"]["accuracy"])) < 1e-9
    assert scores["captions"]["sarlang"]["scores"]["METEOR"] is None  # --no-meteor
    predicted = [json.loads(line) for line in Path(scores["files"]["predictions"]).read_text().splitlines()]
    test_records = [r for r in map(json.loads, (out / "build" / "records.jsonl").read_text().splitlines()) if r["split"] == "test"]
    assert {p["id"] for p in predicted} == {r["id"] for r in test_records}
    report = (out / "report.md").read_text()
    assert "McNemar" in report and "| **overall** |" in report and str(out / "model") in report
    # the pretrained tower (installed with the test extras) with its grid trunk locked, and SAR-CLIP beside it
    assert scores["model"]["encoder"] == "efficientnet-lite0" and scores["model"]["frozen_blocks"] == 12
    clip = scores["sar_clip"]
    assert clip["model"]["id"] == "sarlang-clip-v1" and clip["retrieval"]["images"] >= 2 and 0 <= clip["retrieval"]["mR"] <= 1
    assert "SAR-CLIP: retrieval and zero-shot" in report and "image → text" in report
    # the 12 scenes of this run have no single-category test image (the build is the same everywhere):
    # zero-shot says so, in the scores and the report, instead of failing the demo
    assert "single category" in clip["zeroshot"]["unavailable"] and "Zero-shot: unavailable" in report
    # bad input: a source that does not exist is one clear line, not a traceback
    bad = run_cli("demo", "--out", str(tmp_path / "bad"), "--source", "voc:" + str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.strip()
