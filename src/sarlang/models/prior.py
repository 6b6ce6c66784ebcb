"""The blind prior: answers every question with the most common training answer, never looking at the image.

The baseline every VQA table needs beside its models (the "per-question prior" of Antol et al.,
"VQA: Visual Question Answering", ICCV 2015, doi:10.1109/ICCV.2015.279): a model that beats it
reads the image; one that does not answers from the language of the questions alone. It answers
a prompt with the most common answer its question got in the training split (questions compared
without SARLANG-1M's wrapper, case and end punctuation); a question never seen gets the most
common answer of its application (:func:`sarlang.formats.sarlang1m.infer_application`); a caption
prompt gets the most common caption asked with it. Ties go to the answer seen first.

Specs: ``prior:RECORDS`` (a build folder or records file; its ``train`` split is counted) or a
folder this backend saved (``config.json`` with ``"architecture": "sarlang-prior"`` and
``prior.json``). ``sarlang predict --model prior:BUILD`` writes its predictions like any model's.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.files import atomic_write_json, read_bytes
from sarlang.formats.prompts import prompt_for, question_of, unwrap_question
from sarlang.formats.sarlang1m import infer_application
from sarlang.models.base import VisionLanguageModel, read_model_config

ARCHITECTURE = "sarlang-prior"


def question_key(prompt: str) -> str:
    """A prompt's question as the prior compares it: unwrapped, lower-cased, without end punctuation."""
    return re.sub(r"[\s?.!]+$", "", unwrap_question(prompt)).lower()


class PriorModel(VisionLanguageModel):
    """Most common training answers, by question and by application (see the module docstring).

    Args:
        by_question: Question key -> its most common training answer.
        by_application: Application -> its most common training answer.
        source: Where the answers were counted (for ``info``).
    """

    def __init__(self, by_question: dict[str, str], by_application: dict[str, str], source: str = "") -> None:
        self.by_question = dict(by_question)
        self.by_application = dict(by_application)
        self.source = source

    @classmethod
    def count(cls, records_path: str | Path, split: str = "train") -> PriorModel:
        """The prior of the ``split`` records of a build folder or records file.

        Raises:
            InputError: the records cannot be read or hold no record of ``split``.
        """
        from sarlang.formats.records import load_records

        records, _ = load_records(records_path)
        chosen = [r for r in records if r.split == split]
        if not chosen:
            raise InputError(f"'{records_path}' has no {split} records to count answers in",
                             hint="give the build the model would have been trained on")
        by_question: dict[str, Counter] = {}
        by_application: dict[str, Counter] = {}
        for r in chosen:
            by_question.setdefault(question_key(prompt_for(r)), Counter())[r.answer] += 1
            by_application.setdefault(r.application, Counter())[r.answer] += 1
        return cls({k: c.most_common(1)[0][0] for k, c in by_question.items()},
                   {k: c.most_common(1)[0][0] for k, c in by_application.items()}, str(records_path))

    def answer(self, batch: Sequence[tuple[str, str]]) -> list[str | None]:
        """The prior's answer to each (image path, prompt); the image is never opened."""
        answers: list[str | None] = []
        for _, shown in batch:
            prompt = question_of(shown)  # the prior reads the question alone, not a context before it
            known = self.by_question.get(question_key(prompt))
            if known is None:
                known = self.by_application.get(infer_application(unwrap_question(prompt))[0], "")
            answers.append(known)
        return answers

    def save(self, directory: str | Path) -> None:
        """``config.json`` (the architecture) and ``prior.json`` (the answer tables), each written atomically."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "prior.json", {"by_question": self.by_question, "by_application": self.by_application, "source": self.source})
        atomic_write_json(out / "config.json", {"architecture": ARCHITECTURE})

    @classmethod
    def load(cls, directory: str | Path) -> PriorModel:
        """The prior saved in ``directory``.

        Raises:
            InputError: ``prior.json`` is missing or is not the prior's tables.
        """
        path = Path(directory) / "prior.json"
        try:
            data = json.loads(read_bytes(path, "prior"))
            return cls(dict(data["by_question"]), dict(data["by_application"]), str(data.get("source", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"'{path}' is not a saved prior: {exc!r}") from None

    def info(self) -> dict[str, Any]:
        """The id, how many questions it knows, and where they were counted."""
        return {"id": ARCHITECTURE, "questions": len(self.by_question), "source": self.source}


def claims(spec: str) -> bool:
    """``prior:RECORDS``, or a folder this backend saved."""
    return spec.startswith("prior:") or (not spec.startswith("api:") and read_model_config(Path(spec)).get("architecture") == ARCHITECTURE)


def load(spec: str) -> PriorModel:
    """The prior of ``prior:RECORDS`` (counted now) or of a saved folder.

    Raises:
        InputError: records that cannot be read or hold no train split, or a broken saved prior.
    """
    if spec.startswith("prior:"):
        return PriorModel.count(spec.removeprefix("prior:"))
    return PriorModel.load(spec)
