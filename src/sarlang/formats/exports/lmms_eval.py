"""An lmms-eval task folder (Zhang et al., "LMMs-Eval: Reality check on the evaluation of large
multimodal models", 2024): ``sarlang_<split>.yaml`` per split, ``utils.py`` and the split's
questions in ``data/<split>.parquet``, loaded with ``datasets``' local Parquet builder (no hub, so
offline). Run it with ``lmms-eval --include_path OUT --tasks sarlang_test --model ...``.

Only the VQA records are in the task (captions and box answers have their own metrics in
``sarlang eval``). ``utils.py`` scores with sarlang's strict and official rules (it imports
sarlang) and aggregates micro, macro and per application. The YAML holds the Parquet file's
absolute path: export again after moving the folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_path, atomic_write_text, require
from sarlang.formats.exports import Prompt, image_list
from sarlang.formats.predictions import task_of
from sarlang.schema import VQA_APPLICATIONS, VQA_MODES, Record

#: The questions are shown in the prompt template (recorded in export_<format>.json).
SHOWS_PROMPT = True

#: Parquet columns of a task's documents.
COLUMNS = ("id", "image", "images", "application", "question_type", "question", "prompt", "answer", "split")
#: What a bi-temporal pair becomes (recorded in export_<format>.json).
PAIRS = "both images, earlier first: the images column (JSON list) and doc_to_visual returns both"

#: ``utils.py`` of every task folder (it imports sarlang's rules when lmms-eval runs it).
UTILS = Path(__file__).parent / "templates" / "lmms_eval_utils.py.tmpl"

#: Greedy decoding, long enough for SARLANG's short answers.
MAX_NEW_TOKENS = 64


def task_yaml(split: str, data_file: Path) -> str:
    """The task's YAML (written by hand: lmms-eval's ``!function`` tags are not plain YAML)."""
    from sarlang import __version__

    metrics = [f"{mode}_{key}" for mode in VQA_MODES for key in ("micro", "macro", *VQA_APPLICATIONS)]
    lines = [
        f"# SARLANG VQA, split {split}: written by sarlang {__version__} (sarlang export --to lmms-eval)",
        f"task: sarlang_{split}",
        "dataset_path: parquet",
        "dataset_kwargs:",
        "  data_files:",
        f"    {json.dumps(split)}: {json.dumps(str(data_file.resolve()))}",
        f"test_split: {json.dumps(split)}",
        "output_type: generate_until",
        "doc_to_visual: !function utils.doc_to_visual",
        "doc_to_text: !function utils.doc_to_text",
        "doc_to_target: !function utils.doc_to_target",
        "process_results: !function utils.process_results",
        "generation_kwargs:",
        f"  max_new_tokens: {MAX_NEW_TOKENS}",
        "  temperature: 0",
        "  do_sample: false",
        "metric_list:",
        *[line for m in metrics for line in (f"  - metric: {m}", f"    aggregation: !function utils.{m}", "    higher_is_better: true")],
        "lmms_eval_specific_kwargs:",
        "  default:",
        '    pre_prompt: ""',
        '    post_prompt: ""',
        "metadata:",
        "  version: 1.0",
    ]
    return "\n".join(lines) + "\n"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """A split's VQA records as an lmms-eval task (``sarlang_<split>.yaml``, ``utils.py``, ``data/<split>.parquet``).

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.
    """
    pa = require("pyarrow", "parquet", "lmms-eval export (Parquet, pyarrow)")
    pq = require("pyarrow.parquet", "parquet", "lmms-eval export (Parquet, pyarrow)")
    questions = [r for r in records if task_of(r) == "vqa"]
    if not questions:
        return []
    rows = {c: [] for c in COLUMNS}
    for r in questions:
        paths = image_list(image, r)
        every = json.dumps(paths, ensure_ascii=False) if len(paths) > 1 else ""
        for column, value in zip(COLUMNS, (r.id, image(r), every, r.application, r.question_type, r.question, prompt(r), r.answer, r.split)):
            rows[column].append(value)
    data = out / "data" / f"{split}.parquet"
    with atomic_path(data) as tmp:
        pq.write_table(pa.table(rows, schema=pa.schema([(c, pa.string()) for c in COLUMNS])), tmp)
    atomic_write_text(out / f"sarlang_{split}.yaml", task_yaml(split, data))
    atomic_write_text(out / "utils.py", UTILS.read_text(encoding="utf-8"))
    return [f"data/{split}.parquet", f"sarlang_{split}.yaml", "utils.py"]
