"""ShareGPT ``messages`` + ``images`` JSON (``sharegpt_<split>.json``) and a LLaMA-Factory
``dataset_info.json`` entry per split (an existing ``dataset_info.json`` keeps its other entries
and its mode); each conversation holds one ``<image>`` tag per image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_json
from sarlang.formats.exports import DIALOGUE_TURNS, Prompt, bare_prompt, dialogue_entries, existing_index, image_list, messages
from sarlang.schema import Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True
#: LLaMA-Factory trains Qwen2.5-VL's grounding on its JSON boxes in pixels
BOX_CONVENTION = "qwen2.5"
#: What a bi-temporal pair becomes (recorded in export_<format>.json).
PAIRS = "both images, earlier first: two <image> tags and two entries of images"
DIALOGUE = DIALOGUE_TURNS


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as LLaMA-Factory ShareGPT conversations (``sharegpt_<split>.json``) registered in ``dataset_info.json``.

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.

    Raises:
        InputError: an existing index file that is not a JSON object.
    """
    info_path = out / "dataset_info.json"
    info = existing_index(info_path)  # read first: a broken index stops the export before it writes
    atomic_write_json(out / f"sharegpt_{split}.json", [_conversation(turns, image, prompt) for turns in dialogue_entries(split, records)])
    info[f"sarlang_{split}"] = {
        "file_name": f"sharegpt_{split}.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    atomic_write_json(info_path, info)
    return [f"sharegpt_{split}.json", "dataset_info.json"]


def _conversation(turns: list[Record], image: Callable[[Record], str], prompt: Prompt) -> dict:
    """One ShareGPT entry: a record's single turn, or the turns of a conversation (the image tags in the first)."""
    if len(turns) == 1 and not turns[0].conversation:
        return messages(turns[0], image_list(image, turns[0]), prompt(turns[0]))
    paths = image_list(image, turns[0])
    said = []
    for k, r in enumerate(turns):
        said += [{"role": "user", "content": ("<image>" * len(paths) if k == 0 else "") + bare_prompt(prompt(r))},
                 {"role": "assistant", "content": r.answer}]
    return {"messages": said, "images": paths}
