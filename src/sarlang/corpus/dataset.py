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
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.corpus.splits import check_disjoint
from sarlang.corpus.vqa import CorpusContext
from sarlang.errors import InputError
from sarlang.formats.records import write_records_parquet
from sarlang.files import atomic_write_json, atomic_write_jsonl, atomic_write_text, resume_jsonl
from sarlang.schema import Record, Reject, Scene
from sarlang.corpus.generate import GENERATOR, GENERATOR_VERSION, Chunk, Tally, generate
from sarlang.corpus.imported import imported_rows
from sarlang.corpus.scenes import collect_scenes, scene_key
from sarlang.sources import parse_source

_BATCH_SCENES = 256  # scenes written between two notes in done.txt

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
    grounding: str = ""  # box convention of visual-grounding questions (sarlang, qwen2.5, norm, geochat, qwen2); empty: none
    segmentation: str = ""  # mask convention of referring-segmentation questions (polygon, rle); empty: none
    dialogue: int = 0  # most turns of each image's conversation (corpus.dialogue); 0: no conversations
    knowledge: bool = False  # sensor and resolution questions (corpus.facts) where the source gives them

    def __post_init__(self) -> None:
        if self.tile and not (self.tile >= 32 and 0 <= self.tile_overlap < self.tile):
            raise InputError(f"tile size {self.tile} with overlap {self.tile_overlap} is not usable",
                             hint="a tile of at least 32 pixels and an overlap from 0 to one less than the tile, e.g. --tile 512,64")
        if not (isinstance(self.train_fraction, (int, float)) and 0 <= self.train_fraction <= 1):
            raise InputError(f"train fraction must lie in [0, 1], got {self.train_fraction}",
                             hint="0 gives an all-test build, 1 an all-train build")
        if self.grounding:
            from sarlang.formats.boxes import check_convention

            check_convention(self.grounding)
        if self.segmentation:
            from sarlang.formats.masks import check_mask_convention

            check_mask_convention(self.segmentation)
        if not (isinstance(self.dialogue, int) and 0 <= self.dialogue <= 20):
            raise InputError(f"dialogue turns must be a whole number from 0 to 20, got {self.dialogue}", hint="e.g. --dialogue 4")
        if self.max_regions < 0:
            raise InputError(f"max_regions must be 0 or more, got {self.max_regions}")
        if self.group_by:
            try:
                re.compile(self.group_by)
            except re.error as exc:
                raise InputError(f"--group-by '{self.group_by}' is not a regular expression: {exc}") from None


def _fingerprint(plan: list[tuple[str, CorpusContext, list[Scene]]], options: BuildOptions, file_stats: dict[str, tuple[int, int]]) -> str:
    """SHA-256 of everything the generated records depend on: options, labels, image files (size, mtime)."""
    digest = hashlib.sha256()
    chosen = asdict(options)
    for name in ("dialogue", "knowledge"):  # left out when off, so earlier builds resume
        if not chosen[name]:
            del chosen[name]
    digest.update(json.dumps({"generator": GENERATOR, "version": GENERATOR_VERSION, "options": chosen}, sort_keys=True).encode())
    for kind, _, scenes in plan:
        for scene in scenes:
            objects = [(o.category, [float(v) for v in o.box], o.attributes) for o in scene.objects]
            digest.update(json.dumps([kind, scene.id, scene.image, scene.width, scene.height, scene.gsd, scene.sensor, scene.split,
                                      scene.group, scene.captions, scene.optical_image, list(scene.landcover_classes), objects,
                                      file_stats.get(scene.image)], sort_keys=True, default=str).encode())
            arrays = [o.mask for o in scene.objects] + [scene.landcover]
            if scene.is_pair:  # the later date, its objects, the change map and the labelled changes
                later = [(o.category, [float(v) for v in o.box]) for o in scene.later_objects]
                changes = [(c.category, [float(v) for v in c.box]) for c in scene.changes]
                digest.update(json.dumps([scene.later_image, file_stats.get(scene.later_image), list(scene.dates), later,
                                          list(scene.object_dates), changes, scene.pair_notes], sort_keys=True, default=str).encode())
                arrays += [scene.change_map] + [c.mask for c in scene.changes]
            for array in arrays:
                if array is not None:
                    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _resume(partial: Path, done_file: Path, journal: Path, fingerprint: str, restart: bool) -> set[str]:
    """Finished scene keys of an interrupted build of the same inputs; the partial file is cut back to them.

    An interrupted build made from other inputs or options is refused (its records would mix with
    the new ones) unless ``restart`` starts afresh.
    """
    done = set() if restart or not done_file.exists() else {line for line in done_file.read_text(encoding="utf-8").split("\n") if line}
    resume_jsonl(partial, journal, fingerprint, restart, f"'{partial.parent}' holds an interrupted build made from other inputs or options",
                 "run the same command with --restart to start afresh, or build into another --out folder", companions=(done_file,),
                 keep=lambda row: isinstance(row, dict) and (row.get("provenance") or {}).get("scene") in done)
    return done if done_file.exists() else set()


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
                                options.nine_regions, options.class_prefix, options.max_regions, options.grounding,
                                options.segmentation)
        # a second source of the same kind (two VOC folders) may reuse image ids: its scenes are
        # keyed, and their records marked, "voc#2", so record ids and resume notes never collide
        sources_of_kind[kind] += 1
        plan.append((kind if sources_of_kind[kind] == 1 else f"{kind}#{sources_of_kind[kind]}", context, scenes))

    partial, done_file, journal = out / "records.partial.jsonl", out / "done.txt", out / "journal.json"
    done = _resume(partial, done_file, journal, _fingerprint(plan, options, file_stats), restart)
    tally = Tally()
    if done:
        tally.add_lines(_iter_lines(partial))
    todo = [(p, i) for p, (_, _, scenes) in enumerate(plan) for i in range(len(scenes)) if scene_key(plan[p][0], scenes[i]) not in done]
    total = sum(len(s) for _, _, s in plan)
    chunks = [todo[i : i + _BATCH_SCENES] for i in range(0, len(todo), _BATCH_SCENES)]
    with partial.open("a", encoding="utf-8") as records_out, done_file.open("a", encoding="utf-8") as done_out:
        finished = total - len(todo)
        for chunk in generate(plan, options, out, chunks):
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
        imported_chunk = Chunk()
        for row in imported:
            imported_chunk.add(row, json.dumps(row, ensure_ascii=False))
        with partial.open("a", encoding="utf-8") as records_out:
            records_out.write(imported_chunk.text)
        tally.merge(imported_chunk)
    summary = _finish(out, partial, done_file, tally, len(imported), rejects, plan, len(done), notes)
    journal.unlink(missing_ok=True)
    return summary


def _iter_lines(path: Path) -> Iterator[str]:
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip("\n")


def _finish(out: Path, partial: Path, done_file: Path, tally: Tally, imported: int, rejects: list[Reject], plan: list, resumed: int,
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
        **({"conversations": tally.turns[1], "conversation_turns": {str(t): n for t, n in sorted(tally.turns.items())}} if tally.turns else {}),
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
