"""The blind prior: one model backend in one file (models/prior.py), found by the registry."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sarlang.errors import InputError
from sarlang.formats.prompts import prompt_for
from sarlang.formats.records import load_records
from sarlang.models.base import MODELS, load_model
from sarlang.models.prior import PriorModel, question_key

from ..conftest import run_cli


def test_the_prior_answers_the_most_common_training_answer_of_each_question(sim_bench: Path, tmp_path: Path) -> None:
    assert "prior" in MODELS.names()
    records, _ = load_records(sim_bench / "records.jsonl")
    train = [r for r in records if r.split == "train"]
    model = load_model(f"prior:{sim_bench}")
    assert isinstance(model, PriorModel)
    # by hand: the answers a counting question got in training, and the most common of them
    counting = next(r for r in train if r.application == "instance_counting")
    answers = Counter(r.answer for r in train if question_key(prompt_for(r)) == question_key(prompt_for(counting)))
    assert model.answer([("never-opened.png", prompt_for(counting))]) == [answers.most_common(1)[0][0]]
    # a question never seen in training: the most common answer of its application
    counts = Counter(r.answer for r in train if r.application == "instance_counting")
    assert model.answer([("x.png", "How many submarines are in the image?")]) == [counts.most_common(1)[0][0]]
    # saved and loaded back, it answers the same
    model.save(tmp_path / "prior")
    again = load_model(str(tmp_path / "prior"))
    prompts = [("x.png", prompt_for(r)) for r in records]
    assert again.answer(prompts) == model.answer(prompts) and again.info()["questions"] == model.info()["questions"]


def test_predict_and_score_with_the_prior(sim_bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "prior.jsonl"
    result = run_cli("predict", "--model", f"prior:{sim_bench}", "--records", str(sim_bench / "records.jsonl"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(row["model"] == "sarlang-prior" for row in rows)
    scored = run_cli("eval", "vqa", str(out), "--records", str(sim_bench / "records.jsonl"), "--judge", "none", "--json", str(tmp_path / "s.json"))
    assert scored.returncode == 0, scored.stderr
    assert 0 < json.loads((tmp_path / "s.json").read_text())["overall"]["accuracy"] < 1


def test_a_prior_without_training_records_or_with_a_broken_file_is_a_clear_error(sim_bench: Path, tmp_path: Path) -> None:
    test_only = tmp_path / "records.jsonl"
    test_only.write_text("".join(line + "\n" for line in (sim_bench / "records.jsonl").read_text().splitlines()
                                 if json.loads(line)["split"] == "test"))
    with pytest.raises(InputError, match="no train records"):
        load_model(f"prior:{test_only}")
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "config.json").write_text('{"architecture": "sarlang-prior"}')
    (tmp_path / "saved" / "prior.json").write_text('{"by_question": 3}')
    with pytest.raises(InputError, match="is not a saved prior"):
        load_model(str(tmp_path / "saved"))
