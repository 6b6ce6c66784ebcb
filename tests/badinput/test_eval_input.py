"""Bad or mixed input to ``sarlang eval``: never a caption scored as an answer, no bogus rejects, honest p-values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.errors import InputError
from sarlang.formats.predictions import load_eval_items

from ..conftest import run_cli

CAPTION = "Describe the content of this image in one sentence."


def _llamafactory(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(json.dumps({"prompt": f"<|im_start|>user\n<image>{q}<|im_end|>\n<|im_start|>assistant\n", "predict": p, "label": lab})
                            + "\n" for q, p, lab in rows))
    return path


MIXED = [
    (CAPTION, "A harbour with two ships.", "A harbour with two ships."),
    ("Question: Is there a ship in the image?. Answer the question concisely.", "yes", "yes"),
    ("Describe the content of this image in detail.", "Two ships moored at a pier.", "Two ships moored at a pier."),
    ("Question: How many ships are there in the image?. Answer the question concisely.", "3", "2"),
]


def test_caption_rows_are_never_scored_as_answers(tmp_path: Path) -> None:
    path = _llamafactory(tmp_path / "generated_predictions.jsonl", MIXED)
    vqa = load_eval_items(path, task="vqa")
    assert [it.prediction for it in vqa.items] == ["yes", "3"]
    assert any("2 caption rows left aside" in note for note in vqa.notes)
    captions = load_eval_items(path, task="captions")
    assert [it.prediction for it in captions.items] == ["A harbour with two ships.", "Two ships moored at a pier."]
    assert any("2 question rows left aside" in note for note in captions.notes)


def test_a_file_of_the_other_task_is_a_clear_error(tmp_path: Path) -> None:
    only_captions = _llamafactory(tmp_path / "captions.jsonl", [MIXED[0], MIXED[2]])
    only_questions = _llamafactory(tmp_path / "questions.jsonl", [MIXED[1], MIXED[3]])
    with pytest.raises(InputError, match="holds only caption rows"):
        load_eval_items(only_captions, task="vqa")
    with pytest.raises(InputError, match="holds only question rows"):
        load_eval_items(only_questions, task="captions")
    result = run_cli("eval", "vqa", str(only_captions))
    assert result.returncode == 2 and "sarlang eval captions" in result.stderr and "Traceback" not in result.stderr


def _records(path: Path) -> Path:
    rows = []
    for split in ("train", "test"):
        rows.append({"id": f"{split}-c", "image": f"{split}.png", "application": "image_description", "question": CAPTION,
                     "answer": "A harbour.", "caption_kind": "concise", "split": split})
        for i in range(4 if split == "train" else 3):
            rows.append({"id": f"{split}-q{i}", "image": f"{split}.png", "application": "object_identification",
                         "question": f"Is there a ship {i}?", "answer": "yes", "split": split})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_our_predictions_are_scored_against_the_predicted_split_without_bogus_rejects(tmp_path: Path) -> None:
    records = _records(tmp_path / "records.jsonl")
    # what sarlang predict writes for the test split: captions and questions mixed
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in
                             [("test-c", "A harbour."), ("test-q0", "yes"), ("test-q1", "no"), ("test-q2", "yes")]))
    loaded = load_eval_items(preds, "jsonl", records, task="vqa")
    assert len(loaded.items) == 3 and loaded.rejects == []
    assert any("1 caption rows left aside" in n for n in loaded.notes)
    everything = load_eval_items(preds, "jsonl", records, task="vqa", split="all")
    assert sorted(r.id for r in everything.rejects) == ["train-q0", "train-q1", "train-q2", "train-q3"]
    assert all(r.reason == "no prediction for this record" for r in everything.rejects)
    with pytest.raises(InputError, match="no records of split 'val'"):
        load_eval_items(preds, "jsonl", records, task="vqa", split="val")
    result = run_cli("eval", "vqa", str(preds), "--records", str(records), "--json", str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "s.json").read_text())["summary"]["rejected"] == 0


def test_a_tools_file_is_matched_to_the_split_it_answers(tmp_path: Path) -> None:
    records = _records(tmp_path / "records.jsonl")
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    for r in rows:  # make the test split's answers differ from the train split's
        if r["split"] == "test" and r["application"] != "image_description":
            r["answer"] = "no"
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    test = [r for r in rows if r["split"] == "test"]
    # LLaMA-Factory's rows for the test export: captions and questions, labels ending in a newline
    tool_rows = [(CAPTION if r["application"] == "image_description" else f"Question: {r['question']}. Answer the question concisely.",
                  r["answer"], r["answer"] + "\n") for r in test]
    path = _llamafactory(tmp_path / "generated_predictions.jsonl", tool_rows)
    loaded = load_eval_items(path, "llamafactory", records, task="vqa")
    assert [it.id for it in loaded.items] == ["test-q0", "test-q1", "test-q2"] and not loaded.rejects
    assert any("1 caption rows left aside" in n for n in loaded.notes)
    assert all(it.references == ("no",) for it in loaded.items)  # the label's newline is not ground truth


def test_compare_prints_the_bootstrap_resolution_not_zero(tmp_path: Path) -> None:
    def scores(path: Path, correct: list[bool]) -> Path:
        path.write_text(json.dumps({"mode": "strict", "judge": "none", "items": [{"id": str(i), "correct": c} for i, c in enumerate(correct)]}))
        return path

    a = scores(tmp_path / "a.json", [False] * 400)
    b = scores(tmp_path / "b.json", [True] * 400)
    result = run_cli("eval", "compare", str(a), str(b), "--json", str(tmp_path / "cmp.json"))
    assert result.returncode == 0, result.stderr
    assert "bootstrap p < 2e-04" in result.stdout and "p = 0 " not in result.stdout
    saved = json.loads((tmp_path / "cmp.json").read_text())
    assert saved["p_bootstrap"] == pytest.approx(2e-4) and saved["p_bootstrap_is_bound"] is True


def test_export_and_stats_count_malformed_record_lines(tmp_path: Path) -> None:
    good = {"id": "a", "image": "x.png", "application": "others", "question": "What shape?", "answer": "round", "split": "test"}
    (tmp_path / "records.jsonl").write_text(json.dumps(good) + "\n{not json\n" + json.dumps({**good, "id": "b", "application": "nonsense"}) + "\n")
    export = run_cli("export", str(tmp_path / "records.jsonl"), "--to", "llava", "--out", str(tmp_path / "x"))
    assert export.returncode == 0, export.stderr
    assert "2 lines of the records file are not records" in export.stdout and "malformed JSON" in export.stdout
    assert len((tmp_path / "x" / "rejects.jsonl").read_text().splitlines()) == 2
    assert len(json.loads((tmp_path / "x" / "llava_test.json").read_text())) == 1
    stats = run_cli("stats", str(tmp_path / "records.jsonl"), "--out", str(tmp_path / "s"))
    assert stats.returncode == 0 and "2 lines of the records file are not records" in stats.stdout
    assert json.loads((tmp_path / "s" / "stats.json").read_text())["rejected_lines"] == 2
