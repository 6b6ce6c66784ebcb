"""SARLANG-1M's own layout: ``Caption_<split>.csv`` (``Image Name``, ``Caption``), ``VQA_<split>.csv``
(``Image Name``, ``Question``, ``Answer``) and ``<split>.json`` (``messages`` + ``images``), with raw
questions (SARLANG-1M's files hold no prompt wrapper)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_json, atomic_write_text
from sarlang.formats.exports import Prompt, csv_text, image_list, messages
from sarlang.schema import Record

#: What a bi-temporal pair becomes (recorded in export_<format>.json).
PAIRS = "both images in <split>.json (two <image> tags); the CSVs, one image per row, name the earlier date only"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """SARLANG-1M's own layout, with its raw questions (its CSV and JSON hold no prompt wrapper)."""
    written = []
    captions = [r for r in records if r.is_caption]
    questions = [r for r in records if not r.is_caption]
    if captions:
        atomic_write_text(out / f"Caption_{split}.csv", csv_text([["Image Name", "Caption"]] + [[image(r), r.answer] for r in captions]))
        written.append(f"Caption_{split}.csv")
    if questions:
        atomic_write_text(out / f"VQA_{split}.csv", csv_text([["Image Name", "Question", "Answer"]] + [[image(r), r.question, r.answer] for r in questions]))
        written.append(f"VQA_{split}.csv")
    atomic_write_json(out / f"{split}.json", [messages(r, image_list(image, r), r.question) for r in records])
    return written + [f"{split}.json"]
