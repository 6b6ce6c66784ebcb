"""ShareGPT ``messages`` + ``images`` JSON (``sharegpt_<split>.json``) and a LLaMA-Factory
``dataset_info.json`` entry per split (an existing ``dataset_info.json`` keeps its other entries
and its mode); each conversation holds one ``<image>`` tag per image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_json
from sarlang.formats.exports import Prompt, existing_index, image_list, messages
from sarlang.schema import Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True
#: LLaMA-Factory trains Qwen2.5-VL's grounding on its JSON boxes in pixels
BOX_CONVENTION = "qwen2.5"
#: What a bi-temporal pair becomes (recorded in export_<format>.json).
PAIRS = "both images, earlier first: two <image> tags and two entries of images"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as LLaMA-Factory ShareGPT conversations (``sharegpt_<split>.json``) registered in ``dataset_info.json``.

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.

    Raises:
        InputError: an existing index file that is not a JSON object.
    """
    info_path = out / "dataset_info.json"
    info = existing_index(info_path)  # read first: a broken index stops the export before it writes
    atomic_write_json(out / f"sharegpt_{split}.json", [messages(r, image_list(image, r), prompt(r)) for r in records])
    info[f"sarlang_{split}"] = {
        "file_name": f"sharegpt_{split}.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    atomic_write_json(info_path, info)
    return [f"sharegpt_{split}.json", "dataset_info.json"]
