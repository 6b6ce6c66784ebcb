"""``sarlang demo``: the whole loop end to end on a few simulated scenes, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.schema import APPLICATIONS

from .conftest import HAS_JAVA, run_cli

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
    # the HTML report beside report.md, from the score files sarlang eval would write
    assert f"HTML report: {out / 'report.html'}" in result.stdout
    page = (out / "report.html").read_text(encoding="utf-8")
    overall = page.split("<b>overall</b></td>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>")[0] for c in overall.split("<td>")[1:]]
    assert cells[0] == f"{scores['vqa']['strict']['accuracy'] * 100:.1f}" and cells[-1] == f"{scores['vqa']['majority_baseline']['accuracy'] * 100:.1f}"
    assert "sarlang-baseline-v3" in page and (out / "report.html").stat().st_size < 20e6
    # coco mode (PTB tokenizer) needs Java
    assert {p.name for p in (out / "eval").glob("*.json")} == {"vqa.json", "captions_sarlang.json"} | ({"captions_coco.json"} if HAS_JAVA else set())
    # the web pages work on the demo's outputs: the demo page answers as the model does, and a
    # participant's answers to the questionnaire are scored like a model's
    pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
    from sarlang.app.human import Questionnaire
    from sarlang.app.web import Models, ask, build_images, make_app

    make_app(str(out / "model"), str(out / "clip"), out / "build").close()
    image = build_images(out / "build")[0]
    model = Models().get(str(out / "model"))
    assert ask(model, image, "How many ships are there in the image?")[0] == model.answer([(image, "Question: How many ships are there in the image?. Answer the question concisely.")])[0]
    survey = Questionnaire.open(out / "build", 3, tmp_path / "answers")
    for record in survey.questions:
        survey.record_answer("p1", "SAR expert", record.id, record.answer, 2.0)
    scored = run_cli("eval", "vqa", str(tmp_path / "answers" / "p1.jsonl"), "--records", str(out / "build"), "--json", str(tmp_path / "p1.json"))
    assert scored.returncode == 0, scored.stderr
    assert json.loads((tmp_path / "p1.json").read_text())["overall"]["accuracy"] == 1.0
    # people and models side by side, with the paired test on the questions both answered
    side = run_cli("report", str(out), str(tmp_path / "p1.json"), "--name", "model", "--name", "p1 (SAR expert)", "--out", str(tmp_path / "both.html"))
    assert side.returncode == 0, side.stderr
    both = (tmp_path / "both.html").read_text(encoding="utf-8")
    assert 'model</td><td class="l">p1 (SAR expert)</td><td class="l">overall</td><td>3</td>' in both
    # bad input: a source that does not exist is one clear line, not a traceback
    bad = run_cli("demo", "--out", str(tmp_path / "bad"), "--source", "voc:" + str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.strip()
