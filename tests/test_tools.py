"""Scoring the files LLaMA-Factory and VLMEvalKit really wrote (tests/fixtures/tools, see its README)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from sarlang.eval.captions import score_captions
from sarlang.eval.vqa import score_vqa
from sarlang.formats.predictions import load_eval_items

from .conftest import ROOT, run_cli

TOOLS = ROOT / "tests" / "fixtures" / "tools"
RECORDS = TOOLS / "records.jsonl"
# every ground truth a tool may be joined to: our records, and each export the tools read
GROUND_TRUTHS = [RECORDS, TOOLS / "sharegpt_test.json", TOOLS / "llava_test.json", TOOLS / "SARLANG_test.tsv"]
FILES = {
    "llamafactory": TOOLS / "llamafactory_generated_predictions.jsonl",
    "llamafactory-max20": TOOLS / "llamafactory_generated_predictions_max20.jsonl",
    "vlmevalkit-xlsx": TOOLS / "TinyLlava_SARLANG_test.xlsx",
    "vlmevalkit-tsv": TOOLS / "TinyLlava_SARLANG_test.tsv",
}
TEST_SPLIT = [json.loads(line) for line in RECORDS.read_text(encoding="utf-8").splitlines() if '"split": "test"' in line]


def _expected(name: str, task: str) -> list[str]:
    """The records a file's rows answer: the test split in export order (the first 20 for max_samples 20)."""
    rows = TEST_SPLIT[:20] if name.endswith("max20") else TEST_SPLIT
    return [r["answer"] for r in rows if (r["application"] == "image_description") == (task == "captions")]


@pytest.mark.parametrize("truth", GROUND_TRUTHS, ids=lambda p: p.name)
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("task", ["vqa", "captions"])
def test_real_tool_output_joins_without_unexplained_rejects(name: str, truth: Path, task: str) -> None:
    loaded = load_eval_items(FILES[name], records_path=truth, task=task)
    assert loaded.rejects == []
    assert [it.references[0] for it in loaded.items] == _expected(name, task) if task == "vqa" else \
        sorted(it.references[0] for it in loaded.items) == sorted(_expected(name, task))
    other = "caption" if task == "vqa" else "question"
    assert any(f"{other} rows left aside" in note for note in loaded.notes)


def _perfect(name: str, path: Path, tmp_path: Path) -> Path:
    """The same file with every prediction replaced by its label: what a perfect model would have written."""
    target = tmp_path / path.name
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        # and every label ending in a newline, as LLaMA-Factory writes them with the Qwen templates
        target.write_text("".join(json.dumps({**r, "predict": r["label"], "label": r["label"] + "\n"}) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".tsv":
        table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter="\t"))
        at, answer = table[0].index("prediction"), table[0].index("answer")
        buffer = io.StringIO()
        csv.writer(buffer, delimiter="\t", quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            [table[0]] + [row[:at] + [row[answer]] + row[at + 1 :] for row in table[1:]])
        target.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        import openpyxl

        book = openpyxl.load_workbook(path)
        sheet = book.worksheets[0]
        header = [c.value for c in sheet[1]]
        at, answer = header.index("prediction") + 1, header.index("answer") + 1
        for row in range(2, sheet.max_row + 1):
            sheet.cell(row, at).value = sheet.cell(row, answer).value
        book.save(target)
    return target


@pytest.mark.parametrize("name", FILES)
def test_a_perfect_copy_of_each_tool_file_scores_100(name: str, tmp_path: Path) -> None:
    perfect = _perfect(name, FILES[name], tmp_path)
    for truth in (None, RECORDS):
        vqa = load_eval_items(perfect, records_path=truth, task="vqa")
        for mode in ("strict", "official"):
            assert score_vqa(vqa.items, mode=mode).overall.accuracy == 1.0, (truth, mode)
        captions = load_eval_items(perfect, records_path=truth, task="captions")
        scores = score_captions([it.prediction for it in captions.items], [list(it.references) for it in captions.items],
                                mode="sarlang", meteor=False)
        assert scores.scores["Bleu_4"] == pytest.approx(1.0) and scores.scores["ROUGE_L"] == pytest.approx(1.0)


def test_the_cli_scores_a_real_llamafactory_file_against_the_build_folder(tmp_path: Path) -> None:
    build = tmp_path / "bench"
    build.mkdir()
    (build / "records.jsonl").write_bytes(RECORDS.read_bytes())
    result = run_cli("eval", "vqa", str(FILES["llamafactory"]), "--records", str(build), "--json", str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())["summary"]
    assert summary["scored"] == len(_expected("llamafactory", "vqa")) and summary["rejected"] == 0


def test_eval_all_scores_both_tasks_of_a_mixed_file(tmp_path: Path) -> None:
    result = run_cli("eval", "all", str(FILES["llamafactory"]), "--records", str(RECORDS), "--out", str(tmp_path / "s"), "--no-meteor")
    assert result.returncode == 0, result.stderr
    vqa = json.loads((tmp_path / "s" / "vqa.json").read_text())
    captions = json.loads((tmp_path / "s" / "captions.json").read_text())
    assert vqa["overall"]["n"] == len(_expected("llamafactory", "vqa")) and captions["n"] == len(_expected("llamafactory", "captions"))
    assert vqa["summary"]["rejected"] == captions["summary"]["rejected"] == 0
    # a file of one task only: that task is scored, the other said to be absent
    only = tmp_path / "only_questions.jsonl"
    only.write_text("".join(line + "\n" for line in FILES["llamafactory"].read_text().splitlines() if "Describe the content" not in line))
    result = run_cli("eval", "all", str(only), "--out", str(tmp_path / "q"), "--no-meteor")
    assert result.returncode == 0 and "no captions to score" in result.stdout
    assert (tmp_path / "q" / "vqa.json").exists() and not (tmp_path / "q" / "captions.json").exists()
