"""``sarlang build``: labelled scenes from any sources to a SARLANG-1M-style benchmark on disk.

Output folder:

``records.jsonl``   one :class:`~sarlang.schema.Record` per line (captions and the seven applications)
``records.parquet`` the same as a table (with pyarrow installed)
``objects.jsonl``   per image, its size and labelled objects (category, ``[x, y, w, h]`` box in pixels):
                    the object labels the built-in model's object head learns from
``rejects.jsonl``   every input left out, with its source, id and reason
``summary.json``    counts: scenes, records per application and split, rejects by reason, duplicates removed

Records are streamed to ``records.partial.jsonl`` scene by scene, and each finished scene is
noted in ``done.txt``; a build that is killed and run again keeps the finished scenes, drops any
half-written one, and goes on, so nothing is duplicated or lost. Exact duplicates (same image,
question and answer) are removed at the end. Image paths are written relative to the output
folder. The same sources and options give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.corpus.captions import CONCISE_PROMPT, DETAILED_PROMPT, concise_caption, detailed_caption
from sarlang.corpus.splits import check_disjoint, hashed_split
from sarlang.corpus.vqa import CorpusContext, scene_questions
from sarlang.engines.local import fork_map
from sarlang.errors import InputError
from sarlang.formats.records import write_records_parquet
from sarlang.files import atomic_write_json, atomic_write_jsonl, atomic_write_text, keep_run_fingerprint
from sarlang.schema import Record, Reject, Scene
from sarlang.corpus.imported import imported_rows
from sarlang.corpus.scenes import collect_scenes, group_key, scene_key
from sarlang.sources import parse_source

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_QUOTE = json.encoder.encode_basestring  # C-accelerated: escapes and quotes one string as json.dumps does


def _record_encoder() -> Callable[[dict[str, Any], str], str]:
    """An encoder written once from :class:`~sarlang.schema.Record`'s fields (their order is the file's).

    It is one f-string of the quoted values, as fast as a hand-written one; fields that may be None
    (their default) are written ``null`` then.
    """
    parts = []
    for f in fields(Record):
        if f.name == "provenance":
            value = "provenance_json"
        elif f.default is None:
            value = f'"null" if row["{f.name}"] is None else quote(row["{f.name}"])'
        else:
            value = f'quote(row["{f.name}"])'
        parts.append(f'"{f.name}": {{{value}}}')
    source = "lambda row, provenance_json: f'{{" + ", ".join(parts) + "}}'"
    return eval(source, {"quote": _QUOTE})  # noqa: S307 - evaluates our own template, written from the dataclass


#: ``json.dumps(row, ensure_ascii=False)`` for a generated record (provenance encoded once per
#: scene by the caller), byte for byte, several times faster.
encode_record = _record_encoder()
_BATCH_SCENES = 256  # scenes written between two notes in done.txt

GENERATOR = "sarlang.build"
GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class BuildOptions:
    train_fraction: float = 0.7
    nine_regions: bool = False
    class_prefix: bool = False
    max_regions: int = 3
    captions: bool = True
    seed: int = 0
    tile: int = 0  # tile images larger than this many pixels (0: no tiling)
    tile_overlap: int = 0
    group_by: str = ""  # regular expression on image file names: images giving the same match share a split

    def __post_init__(self) -> None:
        if self.tile and not (self.tile >= 32 and 0 <= self.tile_overlap < self.tile):
            raise InputError(f"tile size {self.tile} with overlap {self.tile_overlap} is not usable",
                             hint="a tile of at least 32 pixels and an overlap from 0 to one less than the tile, e.g. --tile 512,64")
        if not (isinstance(self.train_fraction, (int, float)) and 0 <= self.train_fraction <= 1):
            raise InputError(f"train fraction must lie in [0, 1], got {self.train_fraction}",
                             hint="0 gives an all-test build, 1 an all-train build")
        if self.max_regions < 0:
            raise InputError(f"max_regions must be 0 or more, got {self.max_regions}")
        if self.group_by:
            try:
                re.compile(self.group_by)
            except re.error as exc:
                raise InputError(f"--group-by '{self.group_by}' is not a regular expression: {exc}") from None


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

    def add(application: str, question_type: str, question: str, answer: str, caption_kind: str | None = None) -> None:
        rows.append({
            "id": f"{short}-{len(rows):03d}", "image": image, "application": application, "question_type": question_type,
            "question": question, "answer": answer, "caption_kind": caption_kind, "split": split, "source": kind,
            "provenance": provenance,
        })

    if options.captions:
        add("image_description", "image_description.concise", CONCISE_PROMPT, concise_caption(scene, context.categories, rng), "concise")
        add("image_description", "image_description.detailed", DETAILED_PROMPT, detailed_caption(scene, context.categories, rng), "detailed")
    for qa in scene_questions(scene, context, rng):
        add(qa.application, qa.question_type, qa.question, qa.answer)
    return rows


def _fingerprint(plan: list[tuple[str, CorpusContext, list[Scene]]], options: BuildOptions, file_stats: dict[str, tuple[int, int]]) -> str:
    """SHA-256 of everything the generated records depend on: options, labels, image files (size, mtime)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"generator": GENERATOR, "version": GENERATOR_VERSION, "options": asdict(options)}, sort_keys=True).encode())
    for kind, _, scenes in plan:
        for scene in scenes:
            objects = [(o.category, [float(v) for v in o.box], o.attributes) for o in scene.objects]
            digest.update(json.dumps([kind, scene.id, scene.image, scene.width, scene.height, scene.gsd, scene.sensor, scene.split,
                                      scene.group, scene.captions, scene.optical_image, list(scene.landcover_classes), objects,
                                      file_stats.get(scene.image)], sort_keys=True, default=str).encode())
            for array in [o.mask for o in scene.objects] + [scene.landcover]:
                if array is not None:
                    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _resume(partial: Path, done_file: Path, journal: Path, fingerprint: str, restart: bool) -> set[str]:
    """Finished scene keys of an interrupted build of the same inputs; the partial file is cut back to them.

    An interrupted build made from other inputs or options is refused (its records would mix with
    the new ones) unless ``restart`` starts afresh.
    """
    if restart:
        for stale in (partial, done_file, journal):
            stale.unlink(missing_ok=True)
    resuming = partial.exists() and done_file.exists()
    if not resuming:
        partial.unlink(missing_ok=True)
        done_file.unlink(missing_ok=True)
    keep_run_fingerprint(journal, fingerprint, resuming, f"'{partial.parent}' holds an interrupted build made from other inputs or options",
                         "run the same command with --restart to start afresh, or build into another --out folder")
    if not resuming:
        return set()
    done = {line for line in done_file.read_text(encoding="utf-8").splitlines() if line}
    kept: list[str] = []
    with partial.open("r", encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the kill
            if row.get("provenance", {}).get("scene") in done:
                kept.append(line if line.endswith("\n") else line + "\n")
    partial.write_text("".join(kept), encoding="utf-8")
    return done


def build_dataset(
    sources: list[str],
    out_dir: str | Path,
    options: BuildOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    restart: bool = False,
) -> dict[str, Any]:
    """Build a SARLANG-1M-style benchmark (captions and the seven applications) from labelled sources.

    Parameters
    ----------
    sources:
        ``KIND:PATH[,key=value...]`` specs (see :mod:`sarlang.sources`), e.g.
        ``voc:../shared/data/mstar_scenes`` or ``simulate:200,gsd=2+6``.
    out_dir:
        The build folder: ``records.jsonl``, ``records.parquet``, ``objects.jsonl``,
        ``rejects.jsonl``, ``summary.json`` (see the module docstring).
    options:
        Split fraction, tiling, grouping, question options (:class:`BuildOptions`).
    on_progress:
        ``on_progress(done, total)`` in scenes.
    restart:
        Discard an interrupted build in ``out_dir`` instead of resuming it.

    Returns
    -------
    dict
        The summary (also in ``summary.json``): counts per application and split, rejects by reason.

    Raises
    ------
    InputError
        No source, an unknown source kind or option, a source that cannot be read, or an
        interrupted build made from other inputs or options (pass ``restart``).
    SarlangError
        A build whose images or groups would fall in two splits.
    """
    options = options or BuildOptions()
    if not sources:
        raise InputError("no source given", hint="e.g. --source voc:../shared/data/mstar_scenes")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parsed = [parse_source(s) for s in sources]
    rejects: list[Reject] = []
    plan: list[tuple[str, CorpusContext, list[Scene]]] = []
    imported: list[dict[str, Any]] = []
    notes: list[str] = []
    file_stats: dict[str, tuple[int, int]] = {}
    sources_of_kind: Counter = Counter()
    for kind, path, source_options in parsed:
        records: list[Record] = []
        scenes = collect_scenes(kind, path, out, rejects, file_stats, options.tile, options.tile_overlap, options.group_by,
                                source_options, records, notes)
        if records:  # a source of finished records (SARLANG-1M's text files)
            imported += imported_rows(kind, records, options.group_by, options.train_fraction)
            if not scenes:
                continue
        categories = tuple(sorted({o.category for s in scenes for o in s.objects}))
        presence = Counter(c for s in scenes for c in {o.category for o in s.objects})
        context = CorpusContext(categories, {c: presence[c] / max(len(scenes), 1) for c in categories},
                                options.nine_regions, options.class_prefix, options.max_regions)
        # a second source of the same kind (two VOC folders) may reuse image ids: its scenes are
        # keyed, and their records marked, "voc#2", so record ids and resume notes never collide
        sources_of_kind[kind] += 1
        plan.append((kind if sources_of_kind[kind] == 1 else f"{kind}#{sources_of_kind[kind]}", context, scenes))

    partial, done_file, journal = out / "records.partial.jsonl", out / "done.txt", out / "journal.json"
    done = _resume(partial, done_file, journal, _fingerprint(plan, options, file_stats), restart)
    tally = _Tally()
    if done:
        tally.add_lines(_iter_lines(partial))
    todo = [(p, i) for p, (_, _, scenes) in enumerate(plan) for i in range(len(scenes)) if scene_key(plan[p][0], scenes[i]) not in done]
    total = sum(len(s) for _, _, s in plan)
    global _PLAN
    _PLAN = (plan, options, out)
    chunks = [todo[i : i + _BATCH_SCENES] for i in range(0, len(todo), _BATCH_SCENES)]
    try:
        with partial.open("a", encoding="utf-8") as records_out, done_file.open("a", encoding="utf-8") as done_out:
            finished = total - len(todo)
            for chunk in _generate(chunks):
                # records first, then the note that their scenes are done: a kill in between
                # leaves records of unfinished scenes, which the next run cuts away
                records_out.write(chunk.text)
                records_out.flush()
                done_out.write("".join(k + "\n" for k in chunk.keys))
                done_out.flush()
                tally.merge(chunk)
                finished += len(chunk.keys)
                if on_progress:
                    on_progress(finished, total)
        if imported:
            imported_chunk = _Chunk()
            for row in imported:
                imported_chunk.add(row, _ENCODE(row))
            with partial.open("a", encoding="utf-8") as records_out:
                records_out.write(imported_chunk.text)
            tally.merge(imported_chunk)
    finally:
        _PLAN = None
    summary = _finish(out, partial, done_file, tally, len(imported), rejects, plan, len(done), notes)
    journal.unlink(missing_ok=True)
    return summary


@dataclass
class _Chunk:
    """Records of a batch of scenes as JSONL text, with the tallies the summary and checks need."""

    keys: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    applications: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    question_types: set = field(default_factory=set)
    image_splits: dict = field(default_factory=dict)  # image -> set of splits
    image_scenes: Counter = field(default_factory=Counter)  # image -> number of scenes showing it
    group_splits: dict = field(default_factory=dict)  # group of images of one place -> set of splits
    duplicates: int = 0

    def add(self, row: dict[str, Any], line: str) -> None:
        self.parts.append(line + "\n")
        self.applications[row["application"]] += 1
        self.splits[row["split"]] += 1
        self.question_types.add(row["question_type"])
        self.image_splits.setdefault(row["image"], set()).add(row["split"])
        group = (row.get("provenance") or {}).get("group")
        if group:
            self.group_splits.setdefault(group, set()).add(row["split"])

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _Tally(_Chunk):
    def merge(self, chunk: _Chunk) -> None:
        self.applications.update(chunk.applications)
        self.splits.update(chunk.splits)
        self.question_types |= chunk.question_types
        for image, splits in chunk.image_splits.items():
            self.image_splits.setdefault(image, set()).update(splits)
        for group, splits in chunk.group_splits.items():
            self.group_splits.setdefault(group, set()).update(splits)
        self.image_scenes.update(chunk.image_scenes)
        self.duplicates += chunk.duplicates

    def add_lines(self, lines: Iterator[str]) -> None:
        resumed = _Chunk()
        scenes: dict[str, str] = {}
        for line in lines:
            row = json.loads(line)
            resumed.add(row, line)
            scenes[row["provenance"]["scene"]] = row["image"]
        resumed.parts = []
        resumed.image_scenes = Counter(scenes.values())
        self.merge(resumed)


_PLAN: tuple[list, BuildOptions, Path] | None = None


def _generate_chunk(chunk: list[tuple[int, int]]) -> _Chunk:
    """Records of a batch of scenes; exact duplicates within a scene are dropped here, across scenes at the end."""
    assert _PLAN is not None
    plan, options, out = _PLAN
    result = _Chunk()
    for p, i in chunk:
        kind, context, scenes = plan[p]
        scene = scenes[i]
        result.keys.append(scene_key(kind, scene))
        seen: set[tuple[str, str]] = set()
        rows = scene_records(kind, scene, context, options, out)
        provenance = _ENCODE(rows[0]["provenance"]) if rows else ""
        for row in rows:
            signature = (row["question"], row["answer"])
            if signature in seen:
                result.duplicates += 1
                continue
            seen.add(signature)
            result.add(row, encode_record(row, provenance))
        if rows:
            result.image_scenes[rows[0]["image"]] += 1
    return result


def _generate(chunks: list[list[tuple[int, int]]]) -> Iterator[_Chunk]:
    """Records of each batch of scenes, in order; on several cores in forked workers that inherit the plan."""
    return fork_map(_generate_chunk, chunks)


def _iter_lines(path: Path) -> Iterator[str]:
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip("\n")


def _finish(out: Path, partial: Path, done_file: Path, tally: _Tally, imported: int, rejects: list[Reject], plan: list, resumed: int,
            notes: list[str]) -> dict[str, Any]:
    check_disjoint((image, split) for image, splits in tally.image_splits.items() if image for split in splits)
    check_disjoint(((group, split) for group, splits in tally.group_splits.items() for split in splits), "groups of images of one place")
    shared = {image for image, n in tally.image_scenes.items() if n > 1}
    if imported:
        shared |= set(tally.image_splits)  # imported records may repeat generated ones anywhere
    duplicates = tally.duplicates
    if shared:
        # an image seen in several scenes (or imported): drop exact repeats across them
        seen: set[tuple[str, str, str]] = set()
        kept: list[str] = []
        for line in _iter_lines(partial):
            row = json.loads(line)
            if row["image"] in shared:
                signature = (row["image"], row["question"], row["answer"])
                if signature in seen:
                    duplicates += 1
                    tally.applications[row["application"]] -= 1
                    tally.splits[row["split"]] -= 1
                    continue
                seen.add(signature)
            kept.append(line + "\n")
        atomic_write_text(out / "records.jsonl", "".join(kept))
        partial.unlink(missing_ok=True)
    else:
        os.replace(partial, out / "records.jsonl")
    parquet = write_records_parquet(out / "records.jsonl", out / "records.parquet")
    atomic_write_jsonl(out / "objects.jsonl", [
        {"image": os.path.relpath(scene.image, out), "width": scene.width, "height": scene.height,
         "objects": [{"category": o.category, "box": [round(float(v), 2) for v in o.box]} for o in scene.objects]}
        for _, _, scenes in plan for scene in scenes if scene.image
    ])
    atomic_write_jsonl(out / "rejects.jsonl", [r.to_dict() for r in rejects])
    summary = {
        "scenes": sum(len(s) for _, _, s in plan),
        "scenes_resumed": resumed,
        "records": sum(tally.applications.values()),
        "imported_sarlang1m_records": imported,
        "duplicates_removed": duplicates,
        "by_application": dict(sorted((k, v) for k, v in tally.applications.items() if v)),
        "by_split": dict(sorted((k, v) for k, v in tally.splits.items() if v)),
        "question_types": len(tally.question_types),
        "categories": {kind: list(context.categories) for kind, context, _ in plan},
        "rejected": len(rejects),
        "rejects_by_reason": dict(Counter(_reason_kind(r.reason) for r in rejects).most_common()),
        "parquet": parquet,
        "notes": notes,
    }
    atomic_write_json(out / "summary.json", summary)
    done_file.unlink(missing_ok=True)
    return summary


def _reason_kind(reason: str) -> str:
    """A reason without its specifics (object index, ids), for counting."""
    import re

    text = re.sub(r"^(object|annotation) \S+ ?(\([^)]*\))?: ", "", reason)
    return re.sub(r"\d+", "N", text)[:120]


def rewrite_records(build_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Replace a build's records (after LLM captions or a review) and keep its other outputs consistent.

    ``records.jsonl`` and ``records.parquet`` are rewritten, and the record counts of
    ``summary.json`` updated, so no output of the build goes stale.
    """
    atomic_write_text(build_dir / "records.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    parquet = write_records_parquet(build_dir / "records.jsonl", build_dir / "records.parquet")
    summary_path = build_dir / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    summary.update(
        records=len(rows),
        by_application=dict(sorted(Counter(r["application"] for r in rows).items())),
        by_split=dict(sorted(Counter(r.get("split", "") for r in rows).items())),
        question_types=len({r.get("question_type", "") for r in rows}),
        parquet=parquet,
    )
    atomic_write_json(summary_path, summary)
