"""``sarlang train`` and ``sarlang predict``: training from a YAML config, predicting a records file.

Training config (YAML or JSON)::

    model: baseline                 # the built-in model; or "lora" with base: a Hugging Face VLM folder
    records: mybench/records.jsonl  # a build's records (image paths relative to that file)
    out: mybench/model              # where the model and its checkpoint go
    split: train                    # which records to learn from
    epochs: 8                       # ... and any setting of BaselineConfig (or LoraSettings)
    objects: auto                   # baseline only: object labels for its object head; "auto" reads
                                    # objects.jsonl beside the records when the build wrote one, "none" turns it off
    prompt: "Question: {q}. Answer the question concisely."   # how questions are asked (the default);
                                    # give predict (--prompt) and export (--prompt) the same

Prediction writes our JSONL (``id``, ``prediction``, ``model``, ``settings``) and, next to it,
LLaMA-Factory's ``generated_predictions.jsonl`` (``prompt``, ``predict``, ``label``, in records
order, rewritten whole at the end). It is resumable: ids already in the output are not asked
again, and each batch is appended and flushed before the next one starts. Records a model could
not answer (an API failure) are left out of both files and counted in the summary, so the next
run asks them again. A run resumes only what was made from the same model (its settings and
files), records and split: ``<out stem>.run.json`` holds a fingerprint of them, and a mismatch
is refused with a clear error unless ``restart`` starts afresh.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from sarlang.errors import InputError
from sarlang.registry import Entries
from sarlang.formats.records import load_records
from sarlang.formats.prompts import VQA_PROMPT, ContextPrompt, check_template, dialogue_prompts, prompt_for
from sarlang.schema import Prediction, Record

T = TypeVar("T")
R = TypeVar("R")

TRAIN_KEYS = ("model", "records", "out", "split", "base", "objects", "prompt", "retrieve", "k", "retrieve_by", "clip")

#: Trainers by the config's ``model:``: each takes a :class:`TrainingJob` and a progress callback
#: and returns the trained model; other packages add theirs through the entry-point group ``sarlang.trainers``.
TRAINERS = Entries("model kind", "sarlang.trainers", {
    "baseline": "sarlang.models.baseline:train_job",
    "lora": "sarlang.models.hf:train_job",
    "clip": "sarlang.models.clip:train_job",
    "router": "sarlang.models.route:train_job",
})


@dataclass(frozen=True)
class TrainingJob:
    """What every trainer gets: the output folder, the model settings (the config less the keys
    every trainer shares), the whole config, the records file and the folder relative paths are
    read from; :attr:`examples` reads the training split when first asked for, so a trainer checks
    its settings before any file is read."""

    out: Path
    settings: dict[str, Any]
    config: dict[str, Any]
    records_file: Path
    root: Path

    @cached_property
    def examples(self) -> list[tuple[str, str, str]]:
        """(image path, prompt, answer) of the one-image records of the config's split (default
        train). A turn of a conversation is asked with the true earlier turns before it; with
        ``retrieve: INDEX`` (and ``k``, ``retrieve_by``, ``clip`` as ``sarlang predict`` takes
        them) each prompt gets its top passages, never its own image's."""
        return _examples(self.records_file, self.config.get("split", "train"), _template(self.config), retriever=self.retriever)

    @cached_property
    def pair_examples(self) -> list[tuple[tuple[str, ...], str, str]]:
        """((earlier, later) paths, prompt, answer) of the split's bi-temporal pairs, for a trainer that learns change."""
        return _examples(self.records_file, self.config.get("split", "train"), _template(self.config), pairs=True, retriever=self.retriever)

    @cached_property
    def retriever(self) -> Any:
        """The retriever of the config's ``retrieve:`` index (None without one)."""
        if not self.config.get("retrieve"):
            return None
        from sarlang.models.rag import open_retriever

        clip = self.config.get("clip")
        return open_retriever(self.root / str(self.config["retrieve"]), int(self.config.get("k", 3)), str(self.config.get("retrieve_by", "both")),
                              str(self.root / str(clip)) if clip else None)


    @cached_property
    def mask_targets(self) -> dict[str, Any]:
        """Image path -> the union of the masks (bool, the image's size) of the split's
        referring-segmentation records of that image, for a trainer with a mask head."""
        import numpy as np

        from sarlang.formats.masks import record_masks

        out: dict[str, Any] = {}
        for r in _chosen_records(self.records_file, self.config.get("split", "train"), "training images"):
            if r.application == "referring_segmentation" and not r.is_pair:
                masks = record_masks(r)[0]
                path = str(image_path(r, self.records_file))
                union = np.logical_or.reduce(masks)
                if path in out and out[path].shape != union.shape:
                    raise InputError(f"the mask records of '{path}' give two image sizes", hint="rebuild the records")
                out[path] = union | out[path] if path in out else union
        return out


def read_config(path: str | Path) -> dict[str, Any]:
    from sarlang.files import read_settings

    return read_settings(path, "training config")


def image_path(record: Record, records_file: Path) -> str | tuple[str, ...]:
    """What a model is shown of a record: its image's resolved path, or for a pair the tuple of both."""
    if record.is_pair:
        return tuple(str((records_file.parent / image).resolve()) for image in record.images)
    return str((records_file.parent / record.image).resolve())


def train_from_config(config: dict[str, Any], on_progress: Callable[[int, int, float], None] | None = None, base: Path | None = None) -> Any:
    """Train the model a config describes; ``model:`` names its trainer in :data:`TRAINERS`.

    Parameters
    ----------
    config:
        The training config (see the module docstring): ``model``, ``records``, ``out`` and the
        model's settings.
    on_progress:
        ``on_progress(step, steps, running loss)``.
    base:
        The folder relative paths of the config are read from (default: the working folder).

    Returns
    -------
    VisionLanguageModel
        The trained model (also saved in ``out``).

    Raises
    ------
    InputError
        A missing key, an unknown model or setting, a value out of range, records without the
        split or with missing images, a checkpoint made with other settings.
    """
    missing = [k for k in ("records", "out") if k not in config]
    if missing:
        raise InputError(f"the training config lacks {', '.join(missing)}")
    kind = config.get("model", "baseline")
    if kind not in TRAINERS:
        raise InputError(f"unknown model '{kind}' in the training config",
                         hint="model: baseline (the built-in model) or model: lora (with base: a Hugging Face VLM)")
    root = base or Path.cwd()
    records_file = (root / str(config["records"])).resolve()
    job = TrainingJob(
        out=(root / str(config["out"])).resolve(),
        settings={k: v for k, v in config.items() if k not in TRAIN_KEYS},
        config=config,
        records_file=records_file,
        root=root,
    )
    return TRAINERS.get(kind)(job, on_progress)


def _chosen_records(records_file: Path, split: str | None, images_are: str) -> list[Record]:
    """The records of ``split`` (all when None), with a clear error when there are none or images are missing."""
    records, _ = load_records(records_file)
    chosen = [r for r in records if split is None or r.split == split]
    if not chosen:
        raise InputError(f"no records{f' of split {split}' if split else ''} in '{records_file}'")
    missing = [image for image in dict.fromkeys(i for r in chosen for i in r.all_images) if not (records_file.parent / image).exists()]
    if missing:
        raise InputError(f"{len(missing)} {images_are} are missing, e.g. '{missing[0]}'", hint="image paths are relative to the records file")
    return chosen


def _template(config: dict[str, Any]) -> str:
    template = config.get("prompt", VQA_PROMPT)
    if not isinstance(template, str):
        raise InputError(f"'prompt' in the training config must be a text with {{q}}, got {template!r}")
    return check_template(template)


def _examples(records_file: Path, split: str, template: str = VQA_PROMPT, pairs: bool = False, retriever: Any = None) -> list[tuple[Any, str, str]]:
    """(image path, prompt, answer) of the records of a split: of one image each, or (``pairs``)
    of the bi-temporal pairs, whose image is the tuple of both dates' paths. Turns of
    conversations get their true earlier turns; a ``retriever`` adds passages to every prompt."""
    records = _chosen_records(records_file, split, "training images")
    prompts = dialogue_prompts(records, template) if any(r.conversation for r in records) else None
    chosen = [r for r in records if r.is_pair == pairs]
    shown = [prompts[r.id] if prompts else prompt_for(r, template) for r in chosen]
    images = [image_path(r, records_file) for r in chosen]
    if retriever is not None and chosen:
        found = retriever.for_records(chosen, images, shown)
        shown = [ContextPrompt(getattr(p, "question", p), getattr(p, "turns", ()), tuple(h.text for h in hits)) for p, hits in zip(shown, found)]
    return [(image, prompt, r.answer) for image, prompt, r in zip(images, shown, chosen)]


def predict_records(
    model: Any,
    records_file: str | Path,
    out: str | Path,
    split: str | None = "test",
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
    model_source: str | None = None,
    restart: bool = False,
    prompt_template: str = VQA_PROMPT,
    teacher_forcing: bool = False,
    retriever: Any = None,
) -> dict[str, Any]:
    """Answer and caption every record of ``split`` with ``model``; resumable (see the module docstring).

    Turns of a conversation (:mod:`sarlang.corpus.dialogue`) are answered turn by turn: every
    conversation's first turn, then every second turn with the model's own first answer in its
    prompt (a :class:`~sarlang.formats.prompts.ContextPrompt`), and so on.

    Parameters
    ----------
    model:
        Any :class:`VisionLanguageModel`.
    records_file:
        A build's records (image paths relative to it).
    out:
        Our predictions JSONL; LLaMA-Factory's ``generated_predictions.jsonl`` goes beside it.
    split:
        The split to answer (None: every record).
    batch_size:
        Records per call of the model.
    on_progress:
        ``on_progress(done, total)`` in records.
    model_source:
        The model's folder or spec, whose files join the resume fingerprint.
    restart:
        Discard earlier predictions in ``out`` instead of resuming them.
    prompt_template:
        How questions are asked (``{q}``), as the model was trained.
    teacher_forcing:
        Show a conversation's true earlier answers instead of the model's own.
    retriever:
        A :class:`sarlang.knowledge.retrieve.Retriever`: each prompt gets its top passages
        (recorded in the predictions' ``passages``).

    Returns
    -------
    dict
        Counts (predicted, failed, already done), the first failures, and both files' paths.

    Raises
    ------
    InputError
        No records of the split, missing images, or earlier predictions in ``out`` made with
        another model, other records or another split (pass ``restart``).
    """
    records_path = Path(records_file)
    chosen = _chosen_records(records_path, split, "images of the records")
    out_path = Path(out)
    lf_path = out_path.with_name("generated_predictions.jsonl")
    journal = out_path.with_name(f"{out_path.stem}.run.json")
    check_template(prompt_template)

    def prompt_of(record: Record) -> str:
        return prompt_for(record, prompt_template)

    extra = {**({"teacher_forcing": True} if teacher_forcing else {}), **({"retrieval": retriever.info()} if retriever is not None else {})}
    fingerprint = _prediction_fingerprint(model, model_source, chosen, records_path, prompt_of, extra)
    if restart:
        lf_path.unlink(missing_ok=True)
    from sarlang.files import resume_jsonl

    kept = resume_jsonl(out_path, journal, fingerprint, restart,
                        f"'{out_path}' holds predictions made with another model, other records or another split",
                        "pass --restart to predict afresh, or write to another --out", keep=lambda row: isinstance(row, dict) and "id" in row)
    predicted: dict[str, str] = {str(row["id"]): str(row.get("prediction") or "") for row in kept}
    todo = [r for r in chosen if r.id not in predicted]
    # a model that sees one image cannot answer about a pair: those records are left, and said
    pairs_left = [r for r in todo if r.is_pair and getattr(model, "images_per_prompt", 1) < 2]
    todo = [r for r in todo if not (r.is_pair and getattr(model, "images_per_prompt", 1) < 2)]
    info = model.info()
    settings = {k: v for k, v in info.items() if k != "id"}
    if extra:
        settings = {**settings, **extra}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # rounds: the records outside conversations and every first turn, then every second turn, ...
    rounds: dict[int, list[Record]] = {}
    for r in todo:
        rounds.setdefault(max(r.turn, 1), []).append(r)
    conversations = [r for r in chosen if r.conversation]
    failures: list[str] = []
    total = len(chosen) - len(pairs_left)
    finished = len(chosen) - len(todo) - len(pairs_left)
    failed = 0
    with out_path.open("a", encoding="utf-8") as ours:
        for number in sorted(rounds):
            ready = rounds[number]
            if number > 1:  # a turn whose earlier turn got no answer waits for the next run
                shown = dialogue_prompts(conversations, prompt_template, None if teacher_forcing else predicted)
                waiting = [r for r in ready if r.id not in shown]
                ready = [r for r in ready if r.id in shown]
                failed += len(waiting)
                failures += [f"turn {r.turn} of conversation {r.conversation} waits for an answer to the turn before it" for r in waiting[:1]]
                prompts = {r.id: shown[r.id] for r in ready}
            else:
                prompts = {r.id: prompt_of(r) for r in ready}
            passages: dict[str, tuple[Any, ...]] = {}
            if retriever is not None and ready:
                found = retriever.for_records(ready, [image_path(r, records_path) for r in ready], [prompts[r.id] for r in ready])
                for r, hits in zip(ready, found):
                    passages[r.id] = tuple(hits)
                    prompt = prompts[r.id]
                    prompts[r.id] = ContextPrompt(getattr(prompt, "question", prompt), getattr(prompt, "turns", ()), tuple(h.text for h in hits))
            batches = [ready[start : start + batch_size] for start in range(0, len(ready), batch_size)]
            jobs = [[(image_path(r, records_path), prompts[r.id]) for r in batch] for batch in batches]
            # batches are answered on the current engine (here, or by Ray actors that each load the
            # model) and written in order, so the file is the same on every engine
            for batch, (answers, batch_failures, experts) in zip(batches, map_with_model(model, model_source, answer_batch, jobs)):
                failures.extend(batch_failures)
                failed += sum(a is None for a in answers)
                lines = []
                for k, (r, a) in enumerate(zip(batch, answers)):
                    if a is None:
                        continue
                    predicted[r.id] = a
                    lines.append(json.dumps(Prediction(r.id, a, info["id"], settings, expert=experts[k] if experts else "",
                                                       passages=tuple(h.id for h in passages.get(r.id, ()))).to_dict(), ensure_ascii=False) + "\n")
                ours.write("".join(lines))
                ours.flush()
                finished += len(batch)
                if on_progress:
                    on_progress(finished, total)
    # LLaMA-Factory's file, in records order, rebuilt whole from ours (so a kill cannot unbalance them)
    written = {}
    for line in out_path.read_text(encoding="utf-8").split("\n"):  # not splitlines: answers may hold U+2028
        if not line.strip():
            continue
        row = json.loads(line)
        written[row["id"]] = row["prediction"]
    from sarlang.files import atomic_write_jsonl

    shown_all = dialogue_prompts(chosen, prompt_template, None if teacher_forcing else written) if conversations else {}
    atomic_write_jsonl(lf_path, [{"prompt": str(shown_all.get(r.id) or prompt_of(r)), "predict": written[r.id], "label": r.answer}
                                 for r in chosen if r.id in written])
    maps = _write_change_maps(model, [r for r in todo if r.is_pair], records_path, out_path) if todo else 0
    return {"predicted": len(todo) - failed, "failed": failed, "failures": failures[:5], "already_done": len(chosen) - len(todo) - len(pairs_left),
            "pairs_left": len(pairs_left), "change_maps": maps, "conversations": len({r.conversation for r in conversations}),
            "out": str(out_path), "llamafactory": str(lf_path), **({"servers": model.served()} if hasattr(model, "served") else {})}


def change_map_folder(out: str | Path) -> Path:
    """Where ``predict`` writes a model's change maps beside its predictions ``out``: ``<out stem>_change_maps/``."""
    out = Path(out)
    return out.with_name(f"{out.stem}_change_maps")


def _write_change_maps(model: Any, pairs: list[Record], records_file: Path, out: Path) -> int:
    """A model that draws change maps (``change_map((earlier, later)) -> bool array``) writes one
    PNG per pair (255 = changed, the pair's size) into :func:`change_map_folder`, named after the
    pair's change-detection record (or its first record); returns how many it wrote."""
    draw = getattr(model, "change_map", None)
    if draw is None or not pairs:
        return 0
    import numpy as np

    from sarlang.sar.io import write_png

    folder = change_map_folder(out)
    by_pair: dict[tuple[str, ...], Record] = {}
    for r in pairs:
        if r.images not in by_pair or r.application == "change_detection":
            by_pair[r.images] = r
    for images, record in by_pair.items():
        mask = np.asarray(draw(image_path(record, records_file)), dtype=bool)
        write_png(folder / f"{record.id}.png", mask.astype(np.uint8) * 255)
    return len(by_pair)


def answer_batch(model: Any, batch: list[tuple[str, str]]) -> tuple[list[str | None], list[str], list[str] | None]:
    """A model's answers to one batch of (image path, prompt), why it failed where it gave none,
    and, for a router, which expert gave each answer (its ``experts`` after the call; else None)."""
    before = len(model.failures)
    answers = model.answer(batch)
    experts = getattr(model, "experts", None)
    return answers, list(model.failures)[before:], (list(experts) if experts is not None and len(experts) == len(batch) else None)


def map_with_model(model: Any, model_source: str | None, func: Callable[[Any, T], R], items: Sequence[T]) -> Iterator[R]:
    """``func(model, item)`` for each item, in order, on the current engine (:mod:`sarlang.engines`).

    On the local engine, and for a remote model (its servers do the work, asked from here), this
    process's ``model`` answers. On Ray, actors load the model from its spec ``model_source`` (the
    ``--model`` of the command) and check it is the same model (:func:`load_same_model`).

    Raises:
        InputError: the Ray engine and no spec to load the model from.
    """
    from sarlang.engines import current, model_map

    if current().name == "local" or getattr(model, "remote", False):
        return (func(model, item) for item in items)
    if not model_source:
        raise InputError("the Ray engine loads the model on each worker from its spec, and none was given",
                         hint="pass the model's folder or spec (the --model of the command) as model_source / model_id")
    return model_map(functools.partial(load_same_model, model_source, model.info()), func, items)


def load_same_model(spec: str, expected: dict[str, Any]) -> Any:
    """The model of ``spec``, refused when its settings are not ``expected`` (the model the command
    loaded): a worker must not answer with another model than the one the outputs name."""
    from sarlang.models.base import load_model

    loaded = load_model(spec)
    if loaded.info() != expected:
        raise InputError(f"the model '{spec}' loaded on a worker differs from the one given to the run",
                         hint="pass the spec of the very model given (model_source / model_id), or use the local engine")
    return loaded


def _prediction_fingerprint(model: Any, model_source: str | None, chosen: list[Record], records_file: Path,
                            prompt_of: Callable[[Record], str], extra: dict[str, Any] | None = None) -> str:
    """SHA-256 of what the predictions depend on: the model's settings and files, the prompts and
    their images (and the turns of conversations), and how prompts are extended (``extra``)."""
    import hashlib
    import os

    digest = hashlib.sha256(json.dumps(model.info(), sort_keys=True, default=str).encode())
    if extra:
        digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    if model_source and Path(model_source).is_dir():
        for f in sorted(Path(model_source).rglob("*")):
            if f.is_file() and f.name != "checkpoint.pt":
                stat = f.stat()
                digest.update(f"{f.relative_to(model_source)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    stats: dict[str, str] = {}
    for r in chosen:
        for image in r.all_images:
            if image not in stats:
                stat = os.stat(records_file.parent / image)
                stats[image] = f"{stat.st_size}:{stat.st_mtime_ns}"
        shown = [r.image, stats[r.image]] if not r.is_pair else [list(r.images), [stats[i] for i in r.images]]
        digest.update(json.dumps([r.id, *shown[:1], prompt_of(r), *shown[1:], *([r.conversation, r.turn] if r.conversation else [])]).encode())
    return digest.hexdigest()
