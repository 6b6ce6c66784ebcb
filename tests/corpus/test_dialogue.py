"""Conversations: follow-ups answered from the labels, multi-turn exports, turn-by-turn prediction and per-turn scores."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sarlang.corpus.dataset import BuildOptions, build_dataset
from sarlang.errors import InputError
from sarlang.eval.vqa import score_vqa
from sarlang.formats.exports import export_records
from sarlang.formats.predictions import load_eval_items
from sarlang.formats.prompts import HISTORY_HEADER, ContextPrompt
from sarlang.formats.records import load_records
from sarlang.models.base import VisionLanguageModel
from sarlang.models.run import predict_records

from ..conftest import run_cli


class Echo(VisionLanguageModel):
    """Answers with the number of earlier turns its prompt shows (so each turn's context is visible in its answer)."""

    def info(self) -> dict:
        return {"id": "echo-turns"}

    def answer(self, batch):
        return [f"seen {len(getattr(prompt, 'turns', ()))}: {prompt}" for _, prompt in batch]

    def save(self, directory) -> None:
        pass


@pytest.fixture(scope="module")
def dialogue_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dialogue")
    build_dataset(["simulate:8,size=64,seed=3"], out, BuildOptions(dialogue=4, knowledge=True))
    return out


def _conversations(records) -> dict[str, list]:
    found: dict[str, list] = {}
    for r in records:
        if r.conversation:
            found.setdefault(r.conversation, []).append(r)
    return {k: sorted(v, key=lambda r: r.turn) for k, v in found.items()}


def test_follow_ups_are_answered_from_the_labels(dialogue_bench: Path) -> None:
    records, _ = load_records(dialogue_bench / "records.jsonl")
    objects = {json.loads(line)["image"]: json.loads(line)["objects"] for line in (dialogue_bench / "objects.jsonl").read_text().splitlines()}
    conversations = _conversations(records)
    assert len(conversations) == len({r.image for r in records}) == json.loads((dialogue_bench / "summary.json").read_text())["conversations"]  # one per image
    counted = 0
    for turns in conversations.values():
        assert [t.turn for t in turns] == list(range(1, len(turns) + 1)) and 2 <= len(turns) <= 4
        assert len({t.image for t in turns}) == 1 and len({t.split for t in turns}) == 1
        first = turns[0]
        counts = Counter(o["category"] for o in objects[first.image])
        if first.answer == "yes" or first.application == "object_classification":
            category = first.answer if first.application == "object_classification" else next(c for c in counts if c in first.question)
            assert turns[1].question == "How many of them are there?" and turns[1].answer == str(counts[category])
            counted += 1
        else:
            assert first.answer == "no" and turns[1].answer == ("yes" if counts else "no")
    assert counted >= 4


def test_without_dialogue_the_records_are_what_they_were(tmp_path: Path, dialogue_bench: Path) -> None:
    build_dataset(["simulate:8,size=64,seed=3"], tmp_path / "plain")
    plain = (tmp_path / "plain" / "records.jsonl").read_text().splitlines()
    with_turns = [line for line in (dialogue_bench / "records.jsonl").read_text().splitlines()
                  if '"conversation"' not in line and '"others.sensor"' not in line and '"others.resolution"' not in line]
    assert [json.loads(line)["question"] for line in with_turns] == [json.loads(line)["question"] for line in plain]
    with pytest.raises(InputError, match="dialogue turns"):
        BuildOptions(dialogue=-1)


def test_exports_write_real_multi_turn_conversations(dialogue_bench: Path, tmp_path: Path) -> None:
    records, _ = load_records(dialogue_bench / "records.jsonl")
    conversations = _conversations(records)
    export_records(dialogue_bench, "sharegpt", tmp_path / "s")
    train = json.loads((tmp_path / "s" / "sharegpt_train.json").read_text())
    multi = [e for e in train if len(e["messages"]) > 2]
    assert len(multi) == sum(1 for t in conversations.values() if t[0].split == "train")
    for entry in multi:
        users = [m["content"] for m in entry["messages"] if m["role"] == "user"]
        assert users[0].startswith("<image>") and not any("<image>" in u for u in users[1:]) and len(entry["images"]) == 1
        assert not any(HISTORY_HEADER in u for u in users)
    test = json.loads((tmp_path / "s" / "sharegpt_test.json").read_text())
    test_turns = sum(len(t) for t in conversations.values() if t[0].split == "test")
    assert sum(1 for e in test if any("of them" in m["content"] or "besides them" in m["content"] or "at all" in m["content"] or "it located" in m["content"] or "largest one" in m["content"] for m in e["messages"] if m["role"] == "user")) > 0
    assert len(test) == sum(1 for r in records if r.split == "test" and not r.conversation) + test_turns  # one entry per test turn
    export_records(dialogue_bench, "llava", tmp_path / "l")
    llava = json.loads((tmp_path / "l" / "llava_train.json").read_text())
    ids = {e["id"] for e in llava if len(e["conversations"]) > 2}
    assert ids == {c for c, t in conversations.items() if t[0].split == "train"}
    export_records(dialogue_bench, "vlmevalkit", tmp_path / "v")
    tsv = (tmp_path / "v" / "vlmevalkit_test.tsv").read_text() if (tmp_path / "v" / "vlmevalkit_test.tsv").exists() else \
        "".join(p.read_text() for p in (tmp_path / "v").glob("*.tsv"))
    assert HISTORY_HEADER in tsv  # a single-turn format shows the earlier turns as text
    meta = json.loads((tmp_path / "s" / "export_sharegpt.json").read_text())
    assert "per turn" in meta["dialogue"]


def test_prediction_goes_turn_by_turn_with_the_models_own_answers(dialogue_bench: Path, tmp_path: Path) -> None:
    records, _ = load_records(dialogue_bench / "records.jsonl")
    by_id = {r.id: r for r in records}
    out = tmp_path / "p.jsonl"
    result = predict_records(Echo(), dialogue_bench / "records.jsonl", out, split="test")
    rows = {json.loads(line)["id"]: json.loads(line)["prediction"] for line in out.read_text().splitlines()}
    assert result["conversations"] > 0 and result["failed"] == 0
    for turns in _conversations([by_id[i] for i in rows]).values():
        for k, t in enumerate(turns):
            assert rows[t.id].startswith(f"seen {k}:")
            if k:  # the earlier answer shown is the model's own, not the truth
                assert f"A: {rows[turns[k - 1].id].split(chr(10))[0]}" in rows[t.id]
    again = predict_records(Echo(), dialogue_bench / "records.jsonl", out, split="test")
    assert again["predicted"] == 0 and again["already_done"] == len(rows)
    forced = tmp_path / "f.jsonl"
    predict_records(Echo(), dialogue_bench / "records.jsonl", forced, split="test", teacher_forcing=True)
    shown = {json.loads(line)["id"]: json.loads(line)["prediction"] for line in forced.read_text().splitlines()}
    second = next(t[1] for t in _conversations(records).values() if t[0].split == "test")
    assert f"A: {by_id[_conversations(records)[second.conversation][0].id].answer}\n" in shown[second.id]
    items = load_eval_items(out, records_path=dialogue_bench / "records.jsonl").items
    scores = score_vqa(items)
    assert set(scores.by_turn) >= {"1", "2"} and all(v.n > 0 for v in scores.by_turn.values())
    assert "by_turn" in scores.to_json() and "by_application_turn" in scores.to_json()


def test_context_prompts_pickle_and_keep_the_question_under_truncation() -> None:
    import pickle

    prompt = ContextPrompt("Question: Where is it located?. Answer the question concisely.", (("Is there a ship?", "yes"),), ("A passage.",))
    again = pickle.loads(pickle.dumps(prompt))
    assert again == prompt and again.turns == prompt.turns and again.passages == prompt.passages
    assert str(prompt).endswith(prompt.question) and prompt.user_text().endswith(prompt.question)


def test_the_cli_builds_predicts_and_scores_per_turn(tmp_path: Path) -> None:
    build = run_cli("build", "--source", "simulate:6,size=48,seed=3", "--dialogue", "3", "--out", str(tmp_path / "b"))
    assert build.returncode == 0, build.stderr
    predict = run_cli("predict", "--model", f"prior:{tmp_path / 'b'}", "--records", str(tmp_path / "b" / "records.jsonl"), "--out", str(tmp_path / "p.jsonl"))
    assert predict.returncode == 0, predict.stderr
    assert "answered turn by turn" in predict.stdout
    scored = run_cli("eval", "vqa", str(tmp_path / "p.jsonl"), "--records", str(tmp_path / "b"), "--json", str(tmp_path / "s.json"))
    assert scored.returncode == 0, scored.stderr
    assert "by turn" in scored.stdout and json.loads((tmp_path / "s.json").read_text())["by_turn"]["1"]["n"] > 0
    bad = run_cli("build", "--source", "simulate:2,size=48", "--dialogue", "99", "--out", str(tmp_path / "x"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_llamafactory_predictions_of_the_per_turn_export_score_every_turn(dialogue_bench: Path, tmp_path: Path) -> None:
    """LLaMA-Factory predicts each test entry's last turn after the turns before it (ChatML
    prompts of the whole history); its file joins back to the turns, each with its number."""
    export_records(dialogue_bench, "sharegpt", tmp_path / "s")
    entries = json.loads((tmp_path / "s" / "sharegpt_test.json").read_text())
    rows = []
    for entry in entries:
        said = entry["messages"]
        prompt = "".join(f"<|im_start|>{m['role']}\n{m['content'].replace('<image>', '<|vision_start|><|image_pad|><|vision_end|>')}<|im_end|>\n"
                         for m in said[:-1]) + "<|im_start|>assistant\n"
        rows.append({"prompt": prompt, "predict": said[-1]["content"], "label": said[-1]["content"] + "\n"})
    (tmp_path / "generated_predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_eval_items(tmp_path / "generated_predictions.jsonl", records_path=dialogue_bench / "records.jsonl")
    records, _ = load_records(dialogue_bench / "records.jsonl")
    turns = {r.id: r.turn for r in records}
    assert not loaded.rejects and all(it.turn == turns[it.id] for it in loaded.items)
    scores = score_vqa(loaded.items)
    assert scores.overall.accuracy == 1.0 and set(scores.by_turn) >= {"1", "2", "3"}
