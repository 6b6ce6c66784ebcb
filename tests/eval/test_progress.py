"""One progress protocol: long library calls report on_progress(done, total) with absolute counts."""

from __future__ import annotations

from sarlang.eval.judges import NoJudge
from sarlang.eval.vqa import score_vqa
from sarlang.schema import EvalItem


def test_score_vqa_reports_the_judge_as_done_of_total() -> None:
    items = [EvalItem(str(i), f"pier {i}", (f"jetty {i}",), "What is it?", "others", "t") for i in range(3)]
    items.append(EvalItem("x", "yes", ("yes",), "Is there a ship?", "object_identification", "t"))  # a rule decides it
    seen: list[tuple[int, int]] = []
    score_vqa(items, judge=NoJudge(), on_progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
