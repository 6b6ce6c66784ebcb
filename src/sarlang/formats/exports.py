"""``sarlang export``: a build's records in the layouts common trainers and evaluators read.

Every format writes one file per split into the output folder, atomically, with image paths
absolute (VLMEvalKit's default: it resolves paths from whatever folder it runs in) or relative
to the output folder (every other format's default). The trainer formats (LLaVA, ShareGPT,
VLMEvalKit) ask each question with the prompt ``sarlang train`` and ``sarlang predict`` use
(:mod:`sarlang.formats.prompts`: SARLANG-1M's "Question: {q}. Answer the question concisely."
unless another template is given), and ``export_<format>.json`` records the prompt, the path
style and the records the export came from:

``sarlang``     SARLANG-1M's own text layout: ``Caption_<split>.csv`` (``Image Name``, ``Caption``),
                ``VQA_<split>.csv`` (``Image Name``, ``Question``, ``Answer``) and ``<split>.json``
                (``messages`` + ``images``).
``llava``       LLaVA JSON: ``llava_<split>.json``, a list of ``{"id", "image", "conversations"}``
                with ``<image>\\n`` before the question.
``sharegpt``    ShareGPT/``messages`` + ``images`` JSON (``sharegpt_<split>.json``) and a
                LLaMA-Factory ``dataset_info.json`` entry per split; each conversation holds one
                ``<image>`` tag per image.
``vlmevalkit``  VLMEvalKit TSV (``SARLANG_<split>.tsv``): ``index``, ``image_path``, ``question``,
                ``answer``, ``category`` (the application), ``l2-category`` (the question type), ``split``.
``hf``          Hugging Face ``datasets`` Parquet (``data/<split>-00000-of-00001.parquet``), which
                ``datasets.load_dataset("parquet", data_files=...)`` opens.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.formats.prompts import VQA_PROMPT, check_template, prompt_for
from sarlang.files import atomic_path, atomic_write_json, atomic_write_jsonl, atomic_write_text, require
from sarlang.schema import Record, Reject

EXPORT_FORMATS: tuple[str, ...] = ("sarlang", "llava", "sharegpt", "vlmevalkit", "hf")


def _image_path(record: Record, build_dir: Path, out_dir: Path, absolute: bool) -> str:
    if not record.image:
        return ""
    source = (build_dir / record.image).resolve()
    return str(source) if absolute else os.path.relpath(source, out_dir.resolve())


def _by_split(records: list[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[r.split or "all"].append(r)
    return dict(sorted(groups.items()))


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


Prompt = Callable[[Record], str]


def _messages(r: Record, path: str, text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "<image>" + text}, {"role": "assistant", "content": r.answer}], "images": [path]}


def export_sarlang(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """SARLANG-1M's own layout, with its raw questions (its CSV and JSON hold no prompt wrapper)."""
    written = []
    captions = [r for r in records if r.is_caption]
    questions = [r for r in records if not r.is_caption]
    if captions:
        atomic_write_text(out / f"Caption_{split}.csv", _csv([["Image Name", "Caption"]] + [[image(r), r.answer] for r in captions]))
        written.append(f"Caption_{split}.csv")
    if questions:
        atomic_write_text(out / f"VQA_{split}.csv", _csv([["Image Name", "Question", "Answer"]] + [[image(r), r.question, r.answer] for r in questions]))
        written.append(f"VQA_{split}.csv")
    atomic_write_json(out / f"{split}.json", [_messages(r, image(r), r.question) for r in records])
    return written + [f"{split}.json"]


def export_llava(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    rows = [{"id": r.id, "image": image(r), "conversations": [{"from": "human", "value": "<image>\n" + prompt(r)}, {"from": "gpt", "value": r.answer}]} for r in records]
    atomic_write_json(out / f"llava_{split}.json", rows)
    return [f"llava_{split}.json"]


def export_sharegpt(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    atomic_write_json(out / f"sharegpt_{split}.json", [_messages(r, image(r), prompt(r)) for r in records])
    info_path = out / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    info[f"sarlang_{split}"] = {
        "file_name": f"sharegpt_{split}.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    atomic_write_json(info_path, info)
    return [f"sharegpt_{split}.json", "dataset_info.json"]


def export_vlmevalkit(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    lines = ["\t".join(["index", "image_path", "question", "answer", "category", "l2-category", "split"])]
    for index, r in enumerate(records):
        cells = [str(index), image(r), prompt(r), r.answer, r.application, r.question_type, r.split]
        lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
    atomic_write_text(out / f"SARLANG_{split}.tsv", "\n".join(lines) + "\n")
    return [f"SARLANG_{split}.tsv"]


def export_hf(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    pq = require("pyarrow.parquet", "parquet", "Parquet export (pyarrow)")
    from sarlang.formats.records import records_table

    rows = []
    for r in records:
        row = r.to_dict()
        row["image"] = image(r)
        rows.append(row)
    path = out / "data" / f"{split}-00000-of-00001.parquet"
    with atomic_path(path) as tmp:
        pq.write_table(records_table(rows), tmp)
    return [str(path.relative_to(out))]


EXPORTERS = {"sarlang": export_sarlang, "llava": export_llava, "sharegpt": export_sharegpt, "vlmevalkit": export_vlmevalkit, "hf": export_hf}


def export_records(build_dir: str | Path, fmt: str, out_dir: str | Path, absolute_paths: bool | None = None,
                   rejects: list[Reject] | None = None, prompt_template: str = VQA_PROMPT) -> list[str]:
    """Write the records of ``build_dir`` (or a records file) in format ``fmt`` into ``out_dir``; returns the files written.

    ``absolute_paths`` None takes the format's default (absolute for VLMEvalKit, else relative).
    ``prompt_template`` (with ``{q}``) is how the trainer formats ask each question.
    Lines of the records file that are not records are left out of the export and appended to
    ``rejects`` with their reasons (and written to ``out_dir/rejects.jsonl``), never dropped unseen.
    """
    from sarlang import __version__
    from sarlang.formats.records import load_records, records_file

    check_template(prompt_template)
    if absolute_paths is None:
        absolute_paths = fmt == "vlmevalkit"

    if fmt not in EXPORTERS:
        raise InputError(f"unknown export format '{fmt}'", hint=f"use one of {', '.join(EXPORT_FORMATS)}")
    records_path = records_file(build_dir)
    base = records_path.parent
    records, bad = load_records(records_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if rejects is not None:
        rejects.extend(bad)
    if bad:
        atomic_write_jsonl(out / "rejects.jsonl", [r.to_dict() for r in bad])
        written.append("rejects.jsonl")
    for split, group in _by_split(records).items():
        written += EXPORTERS[fmt](split, group, lambda r: _image_path(r, base, out, absolute_paths), out,
                                  lambda r: prompt_for(r, prompt_template))
    atomic_write_json(out / f"export_{fmt}.json", {
        "format": fmt, "records": str(records_path.resolve()), "image_paths": "absolute" if absolute_paths else "relative",
        "vqa_prompt": prompt_template if fmt in ("llava", "sharegpt", "vlmevalkit") else None,
        "caption_prompt": "each caption record's own prompt" if fmt in ("llava", "sharegpt", "vlmevalkit") else None,
        "sarlang_version": __version__,
    })
    return sorted(set(written + [f"export_{fmt}.json"]))
