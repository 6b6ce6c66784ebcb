"""VLMEvalKit TSV (``SARLANG_<split>.tsv``): ``index``, ``image_path``, ``question`` (the prompt),
``answer``, ``category`` (the application), ``l2-category`` (the question type), ``split``; copy it
into ``$LMUData`` and VLMEvalKit takes it as a custom VQA dataset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_text
from sarlang.formats.exports import Prompt
from sarlang.schema import Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as a VLMEvalKit TSV dataset (``SARLANG_<split>.tsv``): index, image path, question, answer, categories.

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.
    """
    lines = ["\t".join(["index", "image_path", "question", "answer", "category", "l2-category", "split"])]
    for index, r in enumerate(records):
        cells = [str(index), image(r), prompt(r), r.answer, r.application, r.question_type, r.split]
        lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
    atomic_write_text(out / f"SARLANG_{split}.tsv", "\n".join(lines) + "\n")
    return [f"SARLANG_{split}.tsv"]
