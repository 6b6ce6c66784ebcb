"""Scores of retrieval-augmented answers and of routed experts, on the same items.

- :func:`score_knowledge`: the knowledge questions (sensor, resolution: :mod:`sarlang.corpus.facts`)
  of a prediction file: their accuracy by SARLANG-1M's rules and, where the predictions name
  the passages their prompts were given (``sarlang predict --retrieve``), retrieval recall@K
  and MRR against the passages that state the answer (:mod:`sarlang.knowledge.retrieve`).
- :func:`score_routing`: a router's predictions (each naming its ``expert``) beside each
  expert's own predictions of the same records: accuracy per expert alone and routed, the
  paired difference routing makes against each (McNemar and a paired bootstrap), and how many
  answers each expert gave and how many of those were right.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.eval.significance import paired_comparison
from sarlang.eval.vqa import accuracy, score_vqa
from sarlang.schema import EvalItem, Record


def prediction_field(path: Path, key: str) -> dict[str, Any]:
    """Record id -> the value of ``key`` in each line of our prediction file that has it (a
    router's ``expert``, the ``passages`` of retrieval); lines that are not JSON objects are passed
    over (the scorer that read the file said why)."""
    out: dict[str, Any] = {}
    for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines: answers may hold U+2028
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and key in row and "id" in row:
                out[str(row["id"])] = row[key]
    return out


def score_knowledge(items: list[EvalItem], records: list[Record], predictions: Path, index: Any = None) -> dict[str, Any]:
    """Accuracy and retrieval of the knowledge questions among ``items`` (see the module docstring).

    Parameters
    ----------
    items:
        The scored items of the prediction file (``load_eval_items``).
    records:
        The build's records.
    predictions:
        Our prediction file (its ``passages``).
    index:
        The :class:`~sarlang.knowledge.index.KnowledgeIndex` the predictions retrieved from; None
        scores accuracy only.

    Raises:
        InputError: no knowledge question among the items.
    """
    from sarlang.knowledge.passages import FACT_KEYS
    from sarlang.knowledge.retrieve import retrieval_scores

    chosen = [it for it in items if it.question_type in FACT_KEYS]
    if not chosen:
        raise InputError("the predictions answer no knowledge question (sensor, resolution)",
                         hint="build with --knowledge from sources given a sensor and a ground sampling distance (their sensor and gsd options)")
    scores = score_vqa(chosen)
    result: dict[str, Any] = {"accuracy": scores.overall.to_dict(), "by_question_type": {k: v.to_dict() for k, v in scores.by_question_type.items()},
                              "items": [i.to_dict() for i in scores.items]}
    if index is not None:
        retrieved = {i: [str(p) for p in v] for i, v in prediction_field(predictions, "passages").items() if isinstance(v, list)}
        ids = {it.id for it in chosen}
        result["retrieval"] = retrieval_scores([r for r in records if r.id in ids], retrieved, {p.id: p for p in index.passages})
    return result


def score_routing(routed: list[EvalItem], experts: dict[str, list[EvalItem]], routed_by: dict[str, str]) -> dict[str, Any]:
    """Routed against each expert alone, on the items all of them answered (see the module docstring).

    Parameters
    ----------
    routed:
        The router's scored items.
    experts:
        Expert name -> that expert's own scored items (of the same records).
    routed_by:
        Record id -> the expert that answered it in the router's predictions.

    Raises:
        InputError: no item that every file answers.
    """
    shared = set(it.id for it in routed)
    for found in experts.values():
        shared &= {it.id for it in found}
    if not shared:
        raise InputError("the router's and the experts' predictions share no record", hint="predict the same records and split with each")
    order = [it for it in routed if it.id in shared]
    outcome = {it.id: r.correct for it, r in zip(order, score_vqa(order).items)}
    alone = {}
    for name, found in experts.items():
        mine = [it for it in found if it.id in shared]
        alone[name] = {it.id: r.correct for it, r in zip(mine, score_vqa(mine).items)}
    ids = [it.id for it in order]
    routed_ok = [outcome[i] for i in ids]
    by_expert = Counter(routed_by.get(i, "") for i in ids)
    right = Counter(routed_by.get(i, "") for i in ids if outcome[i])
    return {
        "n": len(ids),
        "routed": accuracy(routed_ok).to_dict(),
        "experts": {name: accuracy([alone[name][i] for i in ids]).to_dict() for name in experts},
        "gain_over": {name: paired_comparison([alone[name][i] for i in ids], routed_ok) for name in experts},
        "answered_by": {name: {"answers": n, "correct": right[name]} for name, n in by_expert.most_common()},
        "oracle": accuracy([outcome[i] or any(alone[name][i] for name in experts) for i in ids]).to_dict(),
    }
