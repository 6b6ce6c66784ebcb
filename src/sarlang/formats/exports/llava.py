"""LLaVA JSON: ``llava_<split>.json``, a list of ``{"id", "image", "conversations"}`` with ``<image>\\n``
before the prompt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_json
from sarlang.formats.exports import DIALOGUE_TURNS, Prompt, bare_prompt, dialogue_entries, image_list
from sarlang.schema import Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True
#: LLaVA-1.5's referring data write boxes as [x1, y1, x2, y2] fractions of the image
BOX_CONVENTION = "norm"
#: What a bi-temporal pair becomes (LLaVA-OneVision's multi-image layout).
PAIRS = "both images, earlier first: image is a list and the prompt holds one <image> per image"
DIALOGUE = DIALOGUE_TURNS


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as LLaVA conversations (``llava_<split>.json``).

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.
    """
    rows = []
    for turns in dialogue_entries(split, records):
        r = turns[-1]
        paths = image_list(image, r)
        said = []
        for k, t in enumerate(turns):
            text = prompt(t) if len(turns) == 1 and not t.conversation else bare_prompt(prompt(t))
            said += [{"from": "human", "value": ("<image>\n" * len(paths) if k == 0 else "") + text}, {"from": "gpt", "value": t.answer}]
        rows.append({"id": r.id if len(turns) == 1 else (r.conversation if split == "train" else r.id),
                     "image": paths[0] if len(paths) == 1 else paths, "conversations": said})
    atomic_write_json(out / f"llava_{split}.json", rows)
    return [f"llava_{split}.json"]
