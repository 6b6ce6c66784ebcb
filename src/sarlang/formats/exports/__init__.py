"""``sarlang export``: a build's records in the layouts common trainers and evaluators read.

Each format is one module of this package defining ``export(split, records, image, out,
prompt) -> files written`` (see :mod:`sarlang.registry`; other packages add formats through the
entry-point group ``sarlang.exports``): ``sarlang`` (SARLANG-1M's own CSV/JSON), ``llava``,
``sharegpt`` (+ LLaMA-Factory's ``dataset_info.json``), ``vlmevalkit`` (TSV), ``hf`` (Parquet),
``internvl`` (InternVL chat JSONL).

Every format writes one file per split into the output folder, atomically, with image paths
absolute (VLMEvalKit's default: it resolves paths from whatever folder it runs in) or relative
to the output folder (every other format's default). The trainer formats ask each question with
the prompt ``sarlang train`` and ``sarlang predict`` use (:mod:`sarlang.formats.prompts`:
SARLANG-1M's "Question: {q}. Answer the question concisely." unless another template is given),
and ``export_<format>.json`` records the prompt, the path style and the records the export came from.
"""

from __future__ import annotations

import json
import inspect
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.formats.prompts import VQA_PROMPT, check_template, prompt_for
from sarlang.files import atomic_write_json, atomic_write_jsonl, csv_text  # noqa: F401 (csv_text: the formats' CSV writer)
from sarlang.registry import Plugins
from sarlang.schema import Record, Reject

#: Every export format: the modules of this package and installed plug-ins.
EXPORTS = Plugins("export format", "sarlang.formats.exports", "export", "sarlang.exports")

Prompt = Callable[[Record], str]

class ImagePaths:
    """The image paths a format writes for a record, as the export chose them (absolute, or
    relative to the output folder): ``paths(record)`` is the record's (first) image, as every
    format writes it; ``paths.every(record)`` all of them in order (a bi-temporal pair: two),
    for the formats that show a model several images."""

    def __init__(self, build_dir: Path, out_dir: Path, absolute: bool) -> None:
        self.build_dir, self.out_dir, self.absolute = build_dir, out_dir, absolute

    def _path(self, image: str) -> str:
        if not image:
            return ""
        source = (self.build_dir / image).resolve()
        return str(source) if self.absolute else os.path.relpath(source, self.out_dir.resolve())

    def __call__(self, record: Record) -> str:
        return self._path(record.image)

    def every(self, record: Record) -> list[str]:
        return [self._path(image) for image in record.all_images]


def image_list(image: Callable[[Record], str], record: Record) -> list[str]:
    """Every image path of a record through an export's ``image`` callable (one path when it is a
    plain function, as a third-party caller may pass)."""
    every = getattr(image, "every", None)
    return every(record) if every is not None else [image(record)]


def _by_split(records: list[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[r.split or "all"].append(r)
    return dict(sorted(groups.items()))


def existing_index(path: Path) -> dict[str, Any]:
    """The entries of an index file an export adds to (LLaMA-Factory's ``dataset_info.json``,
    InternVL's meta file): {} when there is none, a clear error when it is not a JSON object."""
    if not path.exists():
        return {}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"'{path}' is not valid JSON, so this export cannot add to it: {exc}",
                         hint="repair or remove it, or export into another folder") from None
    if not isinstance(index, dict):
        raise InputError(f"'{path}' is not a JSON object of datasets, so this export cannot add to it")
    return index


def messages(r: Record, path: str | list[str], text: str) -> dict[str, Any]:
    """One ShareGPT/SARLANG-1M conversation: one image tag per image (a pair's two, in time order)
    and ``text``, then the answer."""
    paths = [path] if isinstance(path, str) else list(path)
    return {"messages": [{"role": "user", "content": "<image>" * len(paths) + text}, {"role": "assistant", "content": r.answer}],
            "images": paths}


#: What the multi-turn formats (ShareGPT, LLaVA) do with conversations (export_<format>.json).
DIALOGUE_TURNS = ("one multi-turn conversation per dialogue in the train split (the images once, in the first turn); in other splits one "
                  "entry per turn, holding the turns before it, so a tool that predicts each entry's last turn answers every turn")
#: What the single-turn formats do with them.
DIALOGUE_FLAT = "one entry per turn, whose prompt holds the earlier turns as text (sarlang.formats.prompts.ContextPrompt's layout)"


def dialogue_entries(split: str, records: list[Record]) -> list[list[Record]]:
    """The entries of a multi-turn format, each a list of records whose last one is answered:
    a record outside a conversation alone; a conversation whole in ``train``, else each of its
    prefixes (see :data:`DIALOGUE_TURNS`), at the place of its first turn."""
    turns: dict[str, list[Record]] = {}
    for r in records:
        if r.conversation:
            turns.setdefault(r.conversation, []).append(r)
    out: list[list[Record]] = []
    for r in records:
        if not r.conversation:
            out.append([r])
        elif turns.get(r.conversation):
            conversation = sorted(turns.pop(r.conversation), key=lambda t: t.turn)
            out += [conversation] if split == "train" else [conversation[: k + 1] for k in range(len(conversation))]
    return out


def bare_prompt(prompt: str) -> str:
    """A turn's own prompt, without the earlier turns a :class:`~sarlang.formats.prompts.ContextPrompt` carries."""
    return getattr(prompt, "question", prompt)


def _mask_conventions(records: list[Record], asked: str | None) -> str | None:
    """The mask convention(s) of the exported segmentation records (None without any)."""
    found = sorted({str(r.provenance.get("convention", "as built")) for r in records if r.application == "referring_segmentation"})
    return (asked or ", ".join(found)) if found else None


def export_records(build_dir: str | Path, fmt: str, out_dir: str | Path, absolute_paths: bool | None = None,
                   rejects: list[Reject] | None = None, prompt_template: str = VQA_PROMPT, box_convention: str | None = None,
                   mask_convention: str | None = None) -> list[str]:
    """Write a build's records in a trainer's or evaluator's format, one file per split.

    Parameters
    ----------
    build_dir:
        A build folder or a records file.
    fmt:
        ``sarlang``, ``llava``, ``sharegpt``, ``vlmevalkit``, ``hf``, ``internvl``, or a format
        another package registered.
    out_dir:
        The output folder (created).
    absolute_paths:
        Absolute image paths, or relative to ``out_dir``; None takes the format's default
        (absolute for VLMEvalKit, relative otherwise).
    rejects:
        Receives the lines of the records file that are not records (also ``out_dir/rejects.jsonl``).
    prompt_template:
        How the trainer formats ask a question (``{q}``), recorded in ``export_<format>.json``.
    box_convention:
        The box convention of visual-grounding questions and answers
        (:mod:`sarlang.formats.boxes`); None takes the format's native one (``BOX_CONVENTION`` in
        its module: normalised for LLaVA, Qwen2.5-VL's JSON for LLaMA-Factory's ShareGPT), or the
        build's where the format has none.
    mask_convention:
        The mask convention of referring-segmentation questions and answers
        (:mod:`sarlang.formats.masks`: ``polygon`` or ``rle``); None keeps the build's.

    Returns
    -------
    list[str]
        The files written, relative to ``out_dir``.

    Raises
    ------
    InputError
        An unknown format, a bad template, or records that cannot be read.
    """
    from sarlang import __version__
    from sarlang.formats.records import load_records, records_file

    check_template(prompt_template)
    if absolute_paths is None:
        absolute_paths = fmt == "vlmevalkit"

    export = EXPORTS.get(fmt)
    # a format that shows a model the prompt says so (SHOWS_PROMPT = True in its module)
    shows_prompt = bool(getattr(inspect.getmodule(export), "SHOWS_PROMPT", False))
    records_path = records_file(build_dir)
    base = records_path.parent
    records, bad = load_records(records_path)
    convention = box_convention or getattr(inspect.getmodule(export), "BOX_CONVENTION", None)
    if convention:
        from sarlang.formats.boxes import in_convention

        records = [in_convention(r, convention) for r in records]
    if mask_convention:
        from sarlang.formats.masks import in_mask_convention

        records = [in_mask_convention(r, mask_convention) for r in records]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if rejects is not None:
        rejects.extend(bad)
    if bad:
        atomic_write_jsonl(out / "rejects.jsonl", [r.to_dict() for r in bad])
        written.append("rejects.jsonl")
    for split, group in _by_split(records).items():
        if any(r.conversation for r in group):
            from sarlang.formats.prompts import dialogue_prompts

            prompts = dialogue_prompts(group, prompt_template)
            written += export(split, group, ImagePaths(base, out, absolute_paths), out, lambda r: prompts[r.id])
        else:
            written += export(split, group, ImagePaths(base, out, absolute_paths), out, lambda r: prompt_for(r, prompt_template))
    atomic_write_json(out / f"export_{fmt}.json", {
        "format": fmt, "records": str(records_path.resolve()), "image_paths": "absolute" if absolute_paths else "relative",
        "vqa_prompt": prompt_template if shows_prompt else None,
        "caption_prompt": "each caption record's own prompt" if shows_prompt else None,
        "box_convention": convention or "as built",
        "mask_convention": _mask_conventions(records, mask_convention),
        "pairs": (getattr(inspect.getmodule(export), "PAIRS", "only the first image of a pair (this format shows one image)")
                  if any(r.is_pair for r in records) else None),
        "dialogue": (getattr(inspect.getmodule(export), "DIALOGUE", DIALOGUE_FLAT) if any(r.conversation for r in records) else None),
        "sarlang_version": __version__,
    })
    return sorted(set(written + [f"export_{fmt}.json"]))
