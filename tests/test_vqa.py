"""VQA scoring: accuracies per application and question type, disagreements, the embedding judge."""

from __future__ import annotations

import pytest

from sarlang.errors import SarlangError
from sarlang.eval.judges import JudgeRequest, JudgeVerdict
from sarlang.eval.vqa import score_vqa
from sarlang.formats.predictions import load_eval_items
from sarlang.schema import EvalItem

from .conftest import EXAMPLES


class RecordingJudge:
    """A judge that says 'correct' to everything and remembers what it was asked."""

    name = "recording"

    def __init__(self) -> None:
        self.asked: list[JudgeRequest] = []

    def judge(self, requests, progress=None):
        self.asked.extend(requests)
        return [JudgeVerdict("correct", "1") for _ in requests]


ITEMS = [
    EvalItem("1", "No, not sure", ("no",), "Is there a car?", "object_identification", "presence"),
    EvalItem("2", "10", ("1",), "How many ships?", "instance_counting", "count"),
    EvalItem("3", "two", ("2",), "How many ships?", "instance_counting", "count"),
    EvalItem("4", "Pier", ("jetty",), "What Structure?", "others", "structure"),
    EvalItem("5", "ship", ("ship",), "What is at [1, 2, 3, 4]?", "region_referring", "box"),
]


def test_strict_and_official_and_their_disagreements() -> None:
    strict = score_vqa(ITEMS, mode="strict")
    official = score_vqa(ITEMS, mode="official")
    assert strict.overall.correct == 3  # 1 (yes/no), 3 (number), 5 (exact)
    assert official.overall.correct == 3  # 1 (substring), 2 ("1" in "10"), 5
    assert strict.other_mode["correct"] == official.overall.correct
    ids = sorted(d["id"] for d in strict.disagreements)
    assert ids == ["2", "3"]
    d2 = next(d for d in strict.disagreements if d["id"] == "2")
    assert d2["strict"] is False and d2["official"] is True and d2["official_decided_by"] == "rule:substring"


def test_breakdowns_counts_and_intervals() -> None:
    scores = score_vqa(ITEMS, mode="strict")
    counting = scores.by_application["instance_counting"]
    assert (counting.n, counting.correct, counting.accuracy) == (2, 1, 0.5)
    assert set(scores.by_question_type) == {"presence", "count", "structure", "box"}
    low, high = scores.overall.ci95
    assert 0.0 <= low <= scores.overall.accuracy <= high <= 1.0
    as_json = scores.to_json()
    assert set(as_json) >= {"mode", "judge", "overall", "by_application", "by_question_type"}
    assert set(as_json["overall"]) >= {"accuracy", "n", "ci95"}


def test_official_mode_sends_lower_cased_text_to_the_judge_once() -> None:
    judge = RecordingJudge()
    scores = score_vqa(ITEMS, mode="official", judge=judge)
    assert judge.asked == [JudgeRequest("what structure?", "jetty", "pier")]
    assert next(it for it in scores.items if it.id == "4").decided_by == "judge:correct"


def test_empty_and_unknown_mode() -> None:
    with pytest.raises(SarlangError, match="no answers"):
        score_vqa([])
    with pytest.raises(SarlangError, match="unknown VQA mode"):
        score_vqa(ITEMS, mode="lenient")


def test_examples_score_as_documented() -> None:
    loaded = load_eval_items(EXAMPLES / "vqa/predictions_model_b.jsonl", records_path=EXAMPLES / "vqa/records.jsonl")
    strict = score_vqa(loaded.items, mode="strict")
    official = score_vqa(loaded.items, mode="official")
    assert strict.overall.n == official.overall.n == 44
    # model B says "16" for 6 aircraft and "10" for 1 ship: right by the official substring rule only.
    for item_id in ("vqa-0005", "vqa-0009"):
        assert next(it for it in official.items if it.id == item_id).correct
        assert not next(it for it in strict.items if it.id == item_id).correct


@pytest.mark.slow
def test_embedding_judge_offline() -> None:
    from sarlang.eval.judges import DEFAULT_EMBEDDING_THRESHOLD, EmbeddingJudge

    judge = EmbeddingJudge()
    assert judge.threshold == DEFAULT_EMBEDDING_THRESHOLD
    # The threshold is conservative: antonym pairs MiniLM rates as similar ("yes"/"no" 0.73,
    # "top"/"bottom" 0.69) stay below it; near-synonyms like these two clear it.
    pairs = [("agricultural land", "farmland"), ("football", "soccer"), ("bridge", "harbor"), ("circular", "in a grid"), ("yes", "no"), ("top", "bottom")]
    sims = judge.similarities([a for a, _ in pairs], [b for _, b in pairs])
    verdicts = judge.judge([JudgeRequest("q", a, b) for a, b in pairs])
    assert [v.status for v in verdicts] == ["correct", "correct", "incorrect", "incorrect", "incorrect", "incorrect"]
    assert min(sims[:2]) > max(sims[2:])
    assert all(0.0 <= float(v.reply) <= 1.0001 for v in verdicts)
