"""VLMEvalKit TSV (``SARLANG_<split>.tsv``): ``index``, ``image_path``, ``question`` (the prompt),
``answer``, ``category`` (the application), ``l2-category`` (the question type), ``split``; copy it
into ``$LMUData`` and VLMEvalKit takes it as a custom VQA dataset. Beside it goes
``sarlang_vlmevalkit.py``, the dataset class VLMEvalKit needs to score such a TSV (with sarlang's
strict and official rules; its docstring says how to register it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_write_text
from sarlang.formats.exports import Prompt, csv_text, image_list
from sarlang.schema import Record

#: The dataset class file written beside the TSVs.
DATASET_CLASS = Path(__file__).parent / "templates" / "vlmevalkit_dataset.py.tmpl"

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True
#: What a bi-temporal pair becomes (recorded in export_<format>.json).
PAIRS = "both images, earlier first: image_path holds the list ['earlier', 'later'], as VLMEvalKit's multi-image datasets do"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as a VLMEvalKit TSV dataset (``SARLANG_<split>.tsv``): index, image path, question, answer, categories.

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.
    """
    # a cell holding a tab, a quote or a line break (\r too, where pandas would start a row) is quoted
    rows = [["index", "image_path", "question", "answer", "category", "l2-category", "split"]]
    # a pair's two paths as the list text VLMEvalKit's multi-image datasets hold (its toliststr reads it)
    rows += [[str(index), image(r) if not r.is_pair else repr(image_list(image, r)), prompt(r), r.answer, r.application, r.question_type, r.split]
             for index, r in enumerate(records)]
    atomic_write_text(out / f"SARLANG_{split}.tsv", csv_text(rows, delimiter="\t"))
    # the class lists every TSV of the folder, this split's and those written before
    names = sorted(p.stem for p in out.glob("SARLANG_*.tsv"))
    atomic_write_text(out / "sarlang_vlmevalkit.py", DATASET_CLASS.read_text(encoding="utf-8").replace("__DATASETS__", repr(tuple(names))))
    return [f"SARLANG_{split}.tsv", "sarlang_vlmevalkit.py"]
