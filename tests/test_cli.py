"""The sarlang command line, through its installed entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import EXAMPLES, run_cli

CAPTIONS = str(EXAMPLES / "captions/generated_predictions_model_a.jsonl")
VQA_RECORDS = str(EXAMPLES / "vqa/records.jsonl")


def test_version_and_help_with_examples() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("sarlang ")
    for command in (["eval", "captions"], ["eval", "vqa"], ["eval", "compare"]):
        helped = run_cli(*command, "--help")
        assert helped.returncode == 0
        assert "Example" in helped.stdout and "sarlang eval" in helped.stdout


def test_eval_captions_json(tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    per = tmp_path / "per.jsonl"
    result = run_cli("eval", "captions", CAPTIONS, "--no-meteor", "--json", str(out), "--markdown", "--per-sample", str(per))
    assert result.returncode == 0, result.stderr
    assert "| Bleu_1 |" in result.stdout and "CIDEr" in result.stdout
    data = json.loads(out.read_text())
    assert data["mode"] == "sarlang" and data["n"] == 12
    assert set(data["scores"]) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"}
    assert data["scores"]["METEOR"] is None and "METEOR" in data["unavailable"]
    assert 0 < data["scores"]["Bleu_1"] <= 1 and data["scores"]["CIDEr"] > 0
    rows = [json.loads(x) for x in per.read_text().splitlines()]
    assert len(rows) == 12 and {"id", "CIDEr", "ROUGE_L", "Bleu_4"} <= set(rows[0])


def test_eval_vqa_json_and_compare(tmp_path: Path) -> None:
    outs = []
    for model in ("model_a", "model_b"):
        out = tmp_path / f"{model}.json"
        result = run_cli("eval", "vqa", str(EXAMPLES / f"vqa/predictions_{model}.jsonl"), "--records", VQA_RECORDS, "--json", str(out))
        assert result.returncode == 0, result.stderr
        outs.append(out)
    data = json.loads(outs[0].read_text())
    assert data["mode"] == "strict" and data["judge"] == "none"
    assert set(data["overall"]) >= {"accuracy", "n", "ci95"} and data["overall"]["n"] == 44
    assert set(data["by_application"]) == {"object_identification", "object_classification", "instance_counting",
                                           "region_referring", "object_positioning", "others"}
    assert "presence" in data["by_question_type"]
    compared = run_cli("eval", "compare", str(outs[0]), str(outs[1]), "--json", str(tmp_path / "cmp.json"))
    assert compared.returncode == 0, compared.stderr
    assert "McNemar" in compared.stdout and "significant" in compared.stdout
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp["n"] == 44 and cmp["accuracy_a"] > cmp["accuracy_b"] and cmp["significant"] is True


def test_official_mode_on_sarlang_csv() -> None:
    result = run_cli("eval", "vqa", str(EXAMPLES / "vqa/VQA_result_model_b.csv"), "--mode", "official")
    assert result.returncode == 0, result.stderr
    assert "mode official" in result.stdout and "strict mode:" in result.stdout


def test_compare_captions(tmp_path: Path) -> None:
    outs = []
    for model in ("model_a", "model_b"):
        out = tmp_path / f"{model}.json"
        run = run_cli("eval", "captions", str(EXAMPLES / f"captions/generated_predictions_{model}.jsonl"), "--no-meteor", "--json", str(out))
        assert run.returncode == 0, run.stderr
        outs.append(out)
    compared = run_cli("eval", "compare", str(outs[0]), str(outs[1]))
    assert compared.returncode == 0, compared.stderr
    assert "CIDEr on 12 shared images" in compared.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["eval", "vqa", "missing.jsonl"], "does not exist"),
        (["eval", "captions", str(EXAMPLES / "vqa/VQA_result_model_b.csv")], "holds no captions"),
        (["eval", "vqa", str(EXAMPLES / "vqa/predictions_model_a.jsonl")], "--records"),
        (["eval", "vqa", str(EXAMPLES / "vqa/records.jsonl")], "cannot tell the format"),
        (["eval", "vqa", CAPTIONS, "--judge", "api"], "no OpenAI-compatible endpoint given"),
        (["eval", "compare", CAPTIONS, CAPTIONS], "not a JSON scores file"),
    ],
)
def test_user_mistakes_give_one_clear_line_and_no_traceback(args: list[str], message: str) -> None:
    result = run_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_option_value_is_a_usage_error() -> None:
    result = run_cli("eval", "vqa", CAPTIONS, "--mode", "lenient")
    assert result.returncode == 2 and "lenient" in result.stderr and "Traceback" not in result.stderr


def test_rejects_are_counted_and_written(tmp_path: Path) -> None:
    preds = tmp_path / "preds.jsonl"
    lines = (EXAMPLES / "vqa/predictions_model_a.jsonl").read_text().splitlines()
    preds.write_text("\n".join(lines[:40] + [lines[0], "{broken"]) + "\n")
    out, rejects = tmp_path / "out.json", tmp_path / "rejects.jsonl"
    result = run_cli("eval", "vqa", str(preds), "--records", VQA_RECORDS, "--json", str(out), "--rejects", str(rejects))
    assert result.returncode == 0, result.stderr
    assert "rejected 4: no prediction for this record" in result.stdout
    data = json.loads(out.read_text())
    assert data["summary"]["scored"] == 40 and data["summary"]["rejected"] == 6
    written = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert len(written) == 6 and all(r["reason"] for r in written)
