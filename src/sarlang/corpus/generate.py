"""The records of a build's scenes: captions and questions per scene, encoded as JSONL lines on all cores.

Scenes are generated in batches on the current engine's workers, which see the build's plan once
(forked workers inherit it; Ray workers read it from the object store); each batch comes back as JSONL text with the tallies the build's summary and split
checks need. The same scene, options and seed always give the same records, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sarlang.corpus.captions import CONCISE_PROMPT, DETAILED_PROMPT, concise_caption, detailed_caption
from sarlang.corpus.scenes import group_key, scene_key
from sarlang.corpus.splits import hashed_split
from sarlang.corpus.vqa import CorpusContext, scene_questions
from sarlang.engines import shared_map
from sarlang.schema import Record, Scene

if TYPE_CHECKING:
    from sarlang.corpus.dataset import BuildOptions

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_QUOTE = json.encoder.encode_basestring  # C-accelerated: escapes and quotes one string as json.dumps does


def _record_encoder() -> Callable[[dict[str, Any], str], str]:
    """An encoder written once from :class:`~sarlang.schema.Record`'s fields (their order is the file's).

    It is one f-string of the quoted values, as fast as a hand-written one; fields that may be None
    (their default) are written ``null`` then.
    """
    parts = []
    for f in fields(Record):
        if f.name == "images":
            continue  # written only when the record shows several images (Record.to_dict's rule)
        if f.name == "provenance":
            parts[-1] += "{images(row)}"  # the images of a pair, when there are (before provenance, as Record orders them)
            value = "provenance_json"
        elif f.default is None:
            value = f'"null" if row["{f.name}"] is None else quote(row["{f.name}"])'
        else:
            value = f'quote(row["{f.name}"])'
        parts.append(f'"{f.name}": {{{value}}}')
    def images(row: dict[str, Any]) -> str:
        return ', "images": ' + _ENCODE(list(row["images"])) if row.get("images") else ""

    source = "lambda row, provenance_json: f'{{" + ", ".join(parts) + "}}'"
    return eval(source, {"quote": _QUOTE, "images": images})  # noqa: S307 - evaluates our own template, written from the dataclass


#: ``json.dumps(row, ensure_ascii=False)`` for a generated record (provenance encoded once per
#: scene by the caller), byte for byte, several times faster.
encode_record = _record_encoder()

GENERATOR = "sarlang.build"
GENERATOR_VERSION = "1"


def _short(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def scene_records(kind: str, scene: Scene, context: CorpusContext, options: BuildOptions, out_dir: Path) -> list[dict[str, Any]]:
    """The records of one scene, as JSON-ready dicts (fields of :class:`Record`)."""
    key = scene_key(kind, scene)
    rng = random.Random(f"{options.seed}:{key}")
    image = os.path.relpath(scene.image, out_dir) if scene.image else ""
    split = scene.split or hashed_split(group_key(kind, scene), options.train_fraction)
    short = _short(key)
    provenance: dict[str, Any] = {"generator": GENERATOR, "version": GENERATOR_VERSION, "scene": key}
    if scene.group:
        provenance["group"] = group_key(kind, scene)
    rows: list[dict[str, Any]] = []

    def add(application: str, question_type: str, question: str, answer: str, caption_kind: str | None = None, extra: dict | None = None) -> None:
        rows.append({
            "id": f"{short}-{len(rows):03d}", "image": image, "application": application, "question_type": question_type,
            "question": question, "answer": answer, "caption_kind": caption_kind, "split": split, "source": kind,
            "provenance": {**provenance, **extra} if extra else provenance,
        })

    if scene.is_pair:
        return _pair_rows(scene, rows, add, provenance, options, rng, out_dir)
    if options.captions:
        add("image_description", "image_description.concise", CONCISE_PROMPT, concise_caption(scene, context.categories, rng), "concise")
        add("image_description", "image_description.detailed", DETAILED_PROMPT, detailed_caption(scene, context.categories, rng), "detailed")
    for qa in scene_questions(scene, context, rng):
        add(qa.application, qa.question_type, qa.question, qa.answer, extra=qa.extra)
    # knowledge questions and conversations come last and draw from their own generators, so
    # the other records of a scene stay what they were without them
    if options.knowledge:
        from sarlang.corpus.facts import fact_questions

        for qa in fact_questions(scene):
            add(qa.application, qa.question_type, qa.question, qa.answer)
    if options.dialogue:
        from sarlang.corpus.dialogue import conversation

        turns = conversation(scene, context, random.Random(f"{options.seed}:{key}:dialogue"), options.dialogue)
        for t, qa in enumerate(turns, 1):
            add(qa.application, qa.question_type, qa.question, qa.answer, extra={"conversation": f"{short}-d1", "turn": t})
    return rows


def _pair_rows(scene: Scene, rows: list[dict[str, Any]], add: Callable[..., None], provenance: dict[str, Any], options: BuildOptions,
               rng: random.Random, out_dir: Path) -> list[dict[str, Any]]:
    """The change records of a bi-temporal pair (:mod:`sarlang.corpus.change`), naming both images."""
    from sarlang.corpus import change

    provenance.update(change.pair_provenance(scene, out_dir))
    if options.captions:
        concise, detailed = change.pair_captions(scene, rng, options.nine_regions)
        add("image_description", "change_description.concise", change.CONCISE_CHANGE_PROMPT, concise, "concise")
        add("image_description", "change_description.detailed", change.DETAILED_CHANGE_PROMPT, detailed, "detailed")
    for qa in change.pair_questions(scene, rng, options.nine_regions):
        add(qa.application, qa.question_type, qa.question, qa.answer, extra=qa.extra)
    images = [os.path.relpath(scene.image, out_dir), os.path.relpath(scene.later_image, out_dir)]
    for row in rows:
        row["images"] = images
    return rows


@dataclass
class Chunk:
    """Records of a batch of scenes as JSONL text, with the tallies the summary and checks need."""

    keys: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    applications: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    question_types: set = field(default_factory=set)
    image_splits: dict = field(default_factory=dict)  # image -> set of splits
    image_scenes: Counter = field(default_factory=Counter)  # image -> number of scenes showing it
    group_splits: dict = field(default_factory=dict)  # group of images of one place -> set of splits
    turns: Counter = field(default_factory=Counter)  # records of conversations by turn number
    duplicates: int = 0

    def add(self, row: dict[str, Any], line: str) -> None:
        self.parts.append(line + "\n")
        self.applications[row["application"]] += 1
        self.splits[row["split"]] += 1
        self.question_types.add(row["question_type"])
        self.image_splits.setdefault(row["image"], set()).add(row["split"])
        provenance = row.get("provenance") or {}
        if provenance.get("turn"):
            self.turns[int(provenance["turn"])] += 1
        group = provenance.get("group")
        if group:
            self.group_splits.setdefault(group, set()).add(row["split"])

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Tally(Chunk):
    """The tallies of every batch so far (their text is not kept)."""

    def merge(self, chunk: Chunk) -> None:
        self.applications.update(chunk.applications)
        self.splits.update(chunk.splits)
        self.question_types |= chunk.question_types
        for image, splits in chunk.image_splits.items():
            self.image_splits.setdefault(image, set()).update(splits)
        for group, splits in chunk.group_splits.items():
            self.group_splits.setdefault(group, set()).update(splits)
        self.image_scenes.update(chunk.image_scenes)
        self.turns.update(chunk.turns)
        self.duplicates += chunk.duplicates

    def add_lines(self, lines: Iterator[str]) -> None:
        resumed = Chunk()
        scenes: dict[str, str] = {}
        for line in lines:
            row = json.loads(line)
            resumed.add(row, line)
            scenes[row["provenance"]["scene"]] = row["image"]
        resumed.parts = []
        resumed.image_scenes = Counter(scenes.values())
        self.merge(resumed)


def _generate_chunk(shared: tuple[list[tuple[str, CorpusContext, list[Scene]]], BuildOptions, Path], chunk: list[tuple[int, int]]) -> Chunk:
    """Records of a batch of scenes; exact duplicates within a scene are dropped here, across scenes at the end."""
    plan, options, out = shared
    result = Chunk()
    for p, i in chunk:
        kind, context, scenes = plan[p]
        scene = scenes[i]
        result.keys.append(scene_key(kind, scene))
        seen: set[tuple[str, str]] = set()
        rows = scene_records(kind, scene, context, options, out)
        provenance = _ENCODE(rows[0]["provenance"]) if rows else ""
        for row in rows:
            # a turn of a conversation may ask what a single question asked: both are kept
            signature = (row["question"], row["answer"], row["provenance"].get("conversation"), row["provenance"].get("turn"))
            if signature in seen:
                result.duplicates += 1
                continue
            seen.add(signature)
            # grounding records carry their boxes in their own provenance
            own = provenance if row["provenance"] is rows[0]["provenance"] else _ENCODE(row["provenance"])
            result.add(row, encode_record(row, own))
        if rows:
            result.image_scenes[rows[0]["image"]] += 1
    return result


def generate(plan: list[tuple[str, CorpusContext, list[Scene]]], options: BuildOptions, out: Path,
             batches: list[list[tuple[int, int]]]) -> Iterator[Chunk]:
    """Records of each batch of scenes (``(source index, scene index)`` pairs into ``plan``), in
    order, on the current engine (:mod:`sarlang.engines`): forked workers inherit the plan, Ray
    workers read it from the object store once."""
    return shared_map(_generate_chunk, (plan, options, out), batches)
