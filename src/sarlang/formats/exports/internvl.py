"""InternVL chat fine-tuning data: ``internvl_<split>.jsonl`` and its entry in ``internvl_meta.json``.

Each JSONL line is ``{"id", "image", "conversations": [{"from": "human", "value": "<image>\\n" +
prompt}, {"from": "gpt", "value": answer}]}`` as InternVL's ``internvl_chat`` fine-tuning reads
it; the meta file gives each split's ``root`` (the folder image paths are relative to),
``annotation``, ``data_augment``, ``repeat_time`` and ``length``, and keeps the entries of other
datasets already in it. (Chen et al., "InternVL: Scaling up Vision Foundation Models and Aligning
for Generic Visual-Linguistic Tasks", CVPR 2024, doi:10.1109/CVPR52733.2024.02283.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_json, atomic_write_text
from sarlang.formats.exports import Prompt, existing_index, image_list
from sarlang.schema import Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True
#: What a bi-temporal pair becomes (InternVL's multi-image layout).
PAIRS = "both images, earlier first: image is a list and the prompt names Image-1 and Image-2"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as InternVL chat JSONL (``internvl_<split>.jsonl``) and their entry in ``internvl_meta.json``.

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.

    Raises:
        InputError: an existing index file that is not a JSON object.
    """
    meta_path = out / "internvl_meta.json"
    meta = existing_index(meta_path)  # read first: a broken index stops the export before it writes
    lines = []
    for r in records:
        paths = image_list(image, r)
        tags = "".join(f"Image-{k + 1}: <image>\n" for k in range(len(paths))) if len(paths) > 1 else "<image>\n"
        lines.append(json.dumps({"id": r.id, "image": paths[0] if len(paths) == 1 else paths, "conversations": [
            {"from": "human", "value": tags + prompt(r)}, {"from": "gpt", "value": r.answer}]}, ensure_ascii=False))
    atomic_write_text(out / f"internvl_{split}.jsonl", "".join(line + "\n" for line in lines))
    meta[f"sarlang_{split}"] = {"root": str(out.resolve()), "annotation": str((out / f"internvl_{split}.jsonl").resolve()),
                                "data_augment": False, "repeat_time": 1, "length": len(lines)}
    atomic_write_json(meta_path, meta)
    return [f"internvl_{split}.jsonl", "internvl_meta.json"]
