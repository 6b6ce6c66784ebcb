"""LLaVA JSON: ``llava_<split>.json``, a list of ``{"id", "image", "conversations"}`` with ``<image>\\n``
before the prompt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_json
from sarlang.formats.exports import Prompt
from sarlang.schema import Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True
#: LLaVA-1.5's referring data write boxes as [x1, y1, x2, y2] fractions of the image
BOX_CONVENTION = "norm"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as LLaVA conversations (``llava_<split>.json``).

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.
    """
    rows = [{"id": r.id, "image": image(r), "conversations": [{"from": "human", "value": "<image>\n" + prompt(r)}, {"from": "gpt", "value": r.answer}]} for r in records]
    atomic_write_json(out / f"llava_{split}.json", rows)
    return [f"llava_{split}.json"]
