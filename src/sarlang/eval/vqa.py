"""VQA accuracy with SARLANG-1M's protocol: rules first, then a judge for the rest.

Every item is scored under both rule sets (:mod:`sarlang.eval.answers`); the chosen ``mode``
gives the reported accuracy and the other one the list of disagreements, so a reader sees
exactly which answers the official substring rule accepts or refuses differently. An answer
that no rule decides goes to the judge once, whichever mode needs it (in official mode as
lower-cased text, as the published script sends it), and both modes use that verdict. Accuracy is reported overall, per application and per question
type, with counts and 95% bootstrap intervals (:func:`sarlang.eval.significance.bootstrap_ci`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sarlang.errors import SarlangError
from sarlang.eval.answers import RULE_SETS, RuleResult
from sarlang.eval.judges import Judge, JudgeRequest, NoJudge
from sarlang.eval.significance import bootstrap_ci
from sarlang.files import Progress, counting
from sarlang.schema import VQA_MODES, Accuracy, EvalItem, Record



@dataclass(frozen=True, slots=True)
class ItemResult:
    """The verdict on one answer: ``decided_by`` is ``rule:<name>`` or ``judge:<status>``."""

    id: str
    correct: bool
    decided_by: str
    application: str
    question_type: str
    turn: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "correct": self.correct, "decided_by": self.decided_by,
                "application": self.application, "question_type": self.question_type, **({"turn": self.turn} if self.turn else {})}


@dataclass
class VqaScores:
    mode: str
    judge: str
    overall: Accuracy
    by_application: dict[str, Accuracy]
    by_question_type: dict[str, Accuracy]
    decided_by: dict[str, int]
    items: list[ItemResult]
    other_mode: dict[str, Any]
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    #: answers the judge failed to decide (no reply, an empty or cut reply), by reason; counted wrong
    judge_failures: dict[str, int] = field(default_factory=dict)
    #: accuracy per turn position of conversations ("1", "2", ...; empty without conversations),
    #: and per application and turn ("instance_counting@2")
    by_turn: dict[str, Accuracy] = field(default_factory=dict)
    by_application_turn: dict[str, Accuracy] = field(default_factory=dict)

    @property
    def judge_failed(self) -> int:
        return sum(self.judge_failures.values())

    @property
    def macro(self) -> float:
        """The mean of the per-application accuracies (every application weighs the same, as XLRS-Bench reports)."""
        return macro_accuracy({k: v.accuracy for k, v in self.by_application.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "judge": self.judge,
            "overall": self.overall.to_dict(),
            "macro": self.macro,
            "by_application": {k: v.to_dict() for k, v in self.by_application.items()},
            "by_question_type": {k: v.to_dict() for k, v in self.by_question_type.items()},
            "decided_by": dict(self.decided_by),
            "other_mode": self.other_mode,
            "disagreements": self.disagreements,
            "judge_failures": {"count": self.judge_failed, "by_reason": dict(self.judge_failures)},
            **({"by_turn": {k: v.to_dict() for k, v in self.by_turn.items()},
                "by_application_turn": {k: v.to_dict() for k, v in self.by_application_turn.items()}} if self.by_turn else {}),
            "items": [item.to_dict() for item in self.items],
        }


def accuracy(outcomes: Sequence[bool]) -> Accuracy:
    n = len(outcomes)
    correct = int(sum(outcomes))
    return Accuracy(accuracy=correct / n if n else float("nan"), n=n, correct=correct, ci95=bootstrap_ci(correct, n))


def _judge_request(mode: str, item: EvalItem) -> JudgeRequest:
    if mode == "official":
        return JudgeRequest(item.question.lower(), item.references[0].lower(), item.prediction.lower())
    return JudgeRequest(item.question, item.references[0], item.prediction)


def _grouped(items: Sequence[EvalItem], outcomes: Sequence[bool], key: Callable[[EvalItem], str]) -> dict[str, Accuracy]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for item, ok in zip(items, outcomes):
        groups[key(item) or "(unknown)"].append(ok)
    return {name: accuracy(groups[name]) for name in sorted(groups)}


def score_vqa(
    items: Sequence[EvalItem],
    mode: str = "strict",
    judge: Judge | None = None,
    on_progress: Progress | None = None,
) -> VqaScores:
    """Score answers with SARLANG-1M's protocol: rules first, then a judge (see the module docstring).

    Parameters
    ----------
    items:
        Answers joined to their ground truth (:func:`sarlang.formats.predictions.load_eval_items`).
    mode:
        ``strict`` (normalised rules, the default) or ``official`` (SARLANG-1M's Evaluate_VQA.py).
    judge:
        Who decides what no rule decides (:func:`sarlang.eval.judges.make_judge`; default none).
    on_progress:
        ``on_progress(done, total)`` as the judge advances.

    Returns
    -------
    VqaScores
        Accuracy overall, per application and per question type with 95% bootstrap intervals,
        how each answer was decided, the other mode's accuracy, and the judge's failures.

    Raises
    ------
    SarlangError
        An unknown mode or no answers.
    """
    if mode not in VQA_MODES:
        raise SarlangError(f"unknown VQA mode '{mode}'", hint=f"use one of {', '.join(VQA_MODES)}")
    if not items:
        raise SarlangError("no answers to score", hint="the prediction file has no usable rows")
    judge = judge or NoJudge()
    other = "official" if mode == "strict" else "strict"
    rules: dict[str, list[RuleResult]] = {
        m: [RULE_SETS[m](item.references[0], item.prediction) for item in items] for m in (mode, other)
    }
    # The judge sees each undecided answer once: formatted as the reported mode sends it, and
    # for the other mode only where the reported mode's rules already decided it.
    asked: dict[int, JudgeRequest] = {}
    for m in (mode, other):
        for index, (item, result) in enumerate(zip(items, rules[m])):
            if result.correct is None and index not in asked:
                asked[index] = _judge_request(m, item)
    requests = list(dict.fromkeys(asked.values()))
    verdict_of = dict(zip(requests, judge.judge(requests, progress=counting(on_progress, len(requests)))))

    def outcome(index: int, result: RuleResult) -> tuple[bool, str]:
        if result.correct is not None:
            return result.correct, f"rule:{result.rule}"
        verdict = verdict_of[asked[index]]
        return verdict.correct, f"judge:{verdict.status}"

    results: dict[str, list[tuple[bool, str]]] = {
        m: [outcome(i, r) for i, r in enumerate(rules[m])] for m in (mode, other)
    }
    main = [ok for ok, _ in results[mode]]
    item_results = [
        ItemResult(item.id, ok, how, item.application, item.question_type, item.turn) for item, (ok, how) in zip(items, results[mode])
    ]
    disagreements = [
        {
            "id": item.id,
            "question": item.question,
            "ground_truth": item.references[0],
            "prediction": item.prediction,
            mode: a_ok,
            other: b_ok,
            f"{mode}_decided_by": a_how,
            f"{other}_decided_by": b_how,
        }
        for item, (a_ok, a_how), (b_ok, b_how) in zip(items, results[mode], results[other])
        if a_ok != b_ok
    ]
    other_ok = [ok for ok, _ in results[other]]
    other_acc = accuracy(other_ok)
    other_macro = macro_accuracy({k: v.accuracy for k, v in _grouped(items, other_ok, lambda it: it.application).items()})
    failures = Counter(
        verdict_of[asked[i]].reply for i, (_, how) in enumerate(results[mode]) if how == "judge:error"
    )
    return VqaScores(
        mode=mode,
        judge=judge.name,
        overall=accuracy(main),
        by_application=_grouped(items, main, lambda it: it.application),
        by_question_type=_grouped(items, main, lambda it: it.question_type),
        decided_by=dict(sorted(Counter(how for _, how in results[mode]).items())),
        items=item_results,
        other_mode={"mode": other, **other_acc.to_dict(), "macro": other_macro, "disagreements": len(disagreements)},
        disagreements=disagreements,
        judge_failures=dict(failures.most_common()),
        **_turn_scores(items, main),
    )


def _turn_scores(items: Sequence[EvalItem], outcomes: Sequence[bool]) -> dict[str, dict[str, Accuracy]]:
    """Accuracy per turn position of the items that are turns of conversations (none: {})."""
    turns = [(item, ok) for item, ok in zip(items, outcomes) if item.turn]
    if not turns:
        return {}
    chosen = [item for item, _ in turns]
    correct = [ok for _, ok in turns]
    by_turn = _grouped(chosen, correct, lambda it: str(it.turn))
    by_both = _grouped(chosen, correct, lambda it: f"{it.application}@{it.turn}")
    return {"by_turn": dict(sorted(by_turn.items(), key=lambda kv: int(kv[0]))),
            "by_application_turn": dict(sorted(by_both.items(), key=lambda kv: (kv[0].split("@")[0], int(kv[0].split("@")[1]))))}


def macro_accuracy(by_application: dict[str, float]) -> float:
    """The unweighted mean of per-application accuracies (NaN when there are none)."""
    values = list(by_application.values())
    return sum(values) / len(values) if values else float("nan")


def rule_outcome(ground_truth: str, prediction: str, application: str) -> dict[str, Any]:
    """One answer under both rule sets, for evaluation harnesses that score answer by answer
    (lmms-eval's ``process_results``, VLMEvalKit's ``evaluate``): ``{"application", "strict",
    "official"}``; an answer no rule decides counts wrong, as in :func:`score_vqa` without a judge."""
    return {"application": application,
            **{mode: RULE_SETS[mode](ground_truth, prediction).correct is True for mode in VQA_MODES}}


def outcome_accuracies(outcomes: Sequence[dict[str, Any]], mode: str) -> dict[str, float]:
    """Accuracy (fraction) of :func:`rule_outcome` results under ``mode``: ``micro`` (over answers),
    ``macro`` (the mean over applications) and one per application."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for o in outcomes:
        groups[o["application"]].append(bool(o[mode]))
    per_app = {app: sum(oks) / len(oks) for app, oks in sorted(groups.items())}
    micro = sum(sum(oks) for oks in groups.values()) / max(1, sum(len(oks) for oks in groups.values()))
    return {"micro": micro if outcomes else float("nan"), "macro": macro_accuracy(per_app), **per_app}


def majority_answers(records: Sequence[Record]) -> dict[str, str]:
    """The most common training answer of each question type (ties: the first seen): the
    "majority answer" baseline SARLANG-1M-style papers report, which never looks at the image."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if r.split == "train" and not r.is_caption:
            counts[r.question_type][r.answer] += 1
    return {qt: c.most_common(1)[0][0] for qt, c in counts.items()}


def majority_predictions(answers: dict[str, str], items: Sequence[EvalItem]) -> list[EvalItem]:
    """Each item answered with its question type's majority answer (:func:`majority_answers`;
    an empty answer for a type no training record has)."""
    return [EvalItem(it.id, answers.get(it.question_type, ""), it.references, it.question, it.application, it.question_type, it.image, it.row)
            for it in items]
