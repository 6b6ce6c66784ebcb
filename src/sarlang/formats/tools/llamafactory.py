"""LLaMA-Factory's ``generated_predictions.jsonl``: ``{"prompt", "predict", "label"}`` per line, in the
order of the dataset file it was given (captions and questions mixed, possibly only the first N with
``max_samples``). SARLANG-1M's official caption script reads this file."""

from __future__ import annotations

from pathlib import Path

from sarlang.files import iter_jsonl
from sarlang.formats.predictions import Row, json_keys, question_from_prompt, text_value
from sarlang.schema import Reject

PRIORITY = 20


def detect(data: bytes, path: Path) -> bool:
    """Is this LLaMA-Factory's ``generated_predictions.jsonl`` (``predict`` and ``label`` per line)?

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    return {"predict", "label"} <= json_keys(data)


def rows(data: bytes, path: Path, rejects: list[Reject], notes: list[str]) -> list[Row]:
    """The rows of LLaMA-Factory's ``generated_predictions.jsonl`` (``predict`` and ``label`` per line).

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    source = str(path)
    found: list[Row] = []
    for number, obj in iter_jsonl(data, source, rejects):
        if not isinstance(obj, dict) or "predict" not in obj or "label" not in obj:
            rejects.append(Reject(source, number, "row lacks 'predict' or 'label'"))
            continue
        pred, label = text_value(obj["predict"]), text_value(obj["label"])
        if pred is None or label is None:
            rejects.append(Reject(source, number, "'predict' and 'label' must be strings"))
            continue
        # a label's trailing newline or spaces (LLaMA-Factory ends every label with "\n") are not ground truth
        found.append((number, pred, label.strip(), question_from_prompt(str(obj.get("prompt") or "")), ""))
    return found
