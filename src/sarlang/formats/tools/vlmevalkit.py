"""VLMEvalKit's result file (``<model>_<dataset>.xlsx``, or ``.tsv`` with ``PRED_FORMAT=tsv``): the
dataset TSV's columns (``index``, ``question``, ``answer``, ...) plus ``prediction``. Reading
``.xlsx`` needs openpyxl (``pip install 'sarlang[xlsx]'``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.files import require
from sarlang.formats.predictions import Row, question_from_prompt
from sarlang.schema import Reject

PRIORITY = 10


def detect(data: bytes, path: Path) -> bool:
    """Is this VLMEvalKit's result table (an xlsx file, or a TSV with ``index`` and ``prediction``)?

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    if path.suffix.lower() == ".xlsx" or data[:4] == b"PK\x03\x04":
        return True
    first = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    return b"\t" in first and {"index", "prediction"} <= {c.strip().strip('"').lower() for c in first.decode("utf-8", "replace").split("\t")}


def rows(data: bytes, path: Path, rejects: list[Reject], notes: list[str]) -> list[Row]:
    """VLMEvalKit's result table (xlsx or tsv): one row per dataset row with its ``prediction``."""
    if path.suffix.lower() == ".xlsx" or data[:4] == b"PK\x03\x04":
        table = _xlsx_rows(data, path)
    else:
        text = data.decode("utf-8-sig", errors="replace")
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))
    if not table:
        raise InputError(f"'{path}' holds no rows")
    header = [str(c or "").strip().lower() for c in table[0]]
    if "prediction" not in header or "index" not in header:
        raise InputError(f"'{path}' is not a VLMEvalKit result: no 'index' and 'prediction' columns (found {header})")
    col = {name: header.index(name) for name in header}
    found: list[Row] = []
    for number, cells in enumerate(table[1:], start=2):
        cells = [("" if c is None else str(c)) for c in cells] + [""] * (len(header) - len(cells))
        if not any(c.strip() for c in cells):
            continue
        label = cells[col["answer"]] if "answer" in col else None
        question = cells[col["question"]] if "question" in col else ""
        image = cells[col["image_path"]] if "image_path" in col else ""
        found.append((number, cells[col["prediction"]], None if label is None else label.strip(), question_from_prompt(question), image))
    return found


def _xlsx_rows(data: bytes, path: Path) -> list[list[Any]]:
    openpyxl = require("openpyxl", "xlsx", "reading VLMEvalKit's .xlsx results (openpyxl)",
                       hint="pip install 'sarlang[xlsx]', or run VLMEvalKit with PRED_FORMAT=tsv")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a broken file
        raise InputError(f"cannot read '{path}' as an Excel workbook: {exc}") from None
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]
