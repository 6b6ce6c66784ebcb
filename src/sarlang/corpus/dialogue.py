"""Multi-turn conversations about one image, whose later questions refer to earlier answers
(the dialogue data of SkyEyeGPT, Zhan et al. 2024, and RS-GPT4V, Xu et al. 2024).

``sarlang build --dialogue N`` adds, per image, one conversation of up to ``N`` turns drawn from
the image's labels by the rules of the single questions (:mod:`sarlang.corpus.vqa`):

1. an opening question about a category: "Is there a {c} in the image?" (``yes`` for a present
   category, or ``no`` for an absent one), or "What is the predominant category in the image?"
   (when no two categories tie);
2. "How many of them are there?" — "them" is the category of turn 1 (the count of its
   labelled instances; after a ``no``, the turn asks instead whether there are any objects at
   all, and the conversation ends);
3. "Where is it located?" for a single instance, "Where is the largest one?" for several (the
   position word of the instance with the largest box; no turn when two boxes tie), in the
   build's position vocabulary;
4. "Is there anything else in the image besides them?" (``yes`` when another category is
   present);
5. after a ``yes``: "What is the most common of the other objects?" (the predominant category of
   the rest; no turn on a tie).

A follow-up cannot be answered without the turns before it: "them" and "it" are named only
there. Each turn is a record of its application (turn 2 counts, turn 3 positions, ...) with the
question type ``<application>.dialogue_<key>``; its provenance holds ``conversation`` (the id of
the conversation, shared by its turns) and ``turn`` (from 1). A scene of a bi-temporal pair gets
no conversation.
"""

from __future__ import annotations

import random
from collections import Counter

from sarlang.corpus.vqa import CLASSIFICATION, IDENTIFICATION, QA, CorpusContext, _pick
from sarlang.schema import Scene, SceneObject
from sarlang.vocabulary import article, plural, position_of

#: Follow-up questions by key (their wording refers back to an earlier turn).
FOLLOW_UPS = {
    "how_many": "How many of them are there?",
    "any_objects": "Are there any objects in the image at all?",
    "where_one": "Where is it located?",
    "where_largest": "Where is the largest one?",
    "anything_else": "Is there anything else in the image besides them?",
    "most_common_other": "What is the most common of the other objects?",
}


def _area(obj: SceneObject) -> float:
    return float(obj.box[2]) * float(obj.box[3])


def _predominant(counts: Counter) -> str | None:
    ranked = counts.most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def conversation(scene: Scene, context: CorpusContext, rng: random.Random, turns: int) -> list[QA]:
    """The turns of the scene's conversation, at most ``turns`` of them (see the module docstring)."""
    if turns < 1 or scene.is_pair:
        return []
    counts = Counter(o.category for o in scene.objects)
    out: list[QA] = []

    def follow(application: str, key: str, answer: str) -> None:
        out.append(QA(application, f"{application}.dialogue_{key}", FOLLOW_UPS[key], answer))

    absent = [c for c in context.categories if c not in counts]
    predominant = _predominant(counts)
    openings = ["present"] * bool(counts) + ["predominant"] * bool(predominant) + ["absent"] * bool(absent)
    if not openings:
        return []
    opening = openings[rng.randrange(len(openings))]
    if opening == "absent":
        c = absent[rng.randrange(len(absent))]
        key, template = _pick(rng, IDENTIFICATION)
        out.append(QA("object_identification", f"object_identification.dialogue_{key}", template.format(a=article(c), c=c, cs=plural(c)), "no"))
        follow("object_identification", "any_objects", "yes" if counts else "no")
        return out[:turns]
    if opening == "predominant":
        c = predominant
        key, template = _pick(rng, CLASSIFICATION)
        out.append(QA("object_classification", f"object_classification.dialogue_{key}", template, c))
    else:
        present = sorted(counts)
        c = present[rng.randrange(len(present))]
        key, template = _pick(rng, IDENTIFICATION)
        out.append(QA("object_identification", f"object_identification.dialogue_{key}", template.format(a=article(c), c=c, cs=plural(c)), "yes"))
    assert c is not None
    follow("instance_counting", "how_many", str(counts[c]))
    mine = sorted((o for o in scene.objects if o.category == c), key=_area, reverse=True)
    if len(mine) == 1 or _area(mine[0]) > _area(mine[1]):
        follow("object_positioning", "where_one" if len(mine) == 1 else "where_largest",
               position_of(*mine[0].center, scene.width, scene.height, context.nine_regions))
    rest = Counter({k: v for k, v in counts.items() if k != c})
    follow("object_identification", "anything_else", "yes" if rest else "no")
    other = _predominant(rest)
    if other:
        follow("object_classification", "most_common_other", other)
    return out[:turns]
