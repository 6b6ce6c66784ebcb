"""SARLANG-1M's ``VQA_result.csv``: no header; image, predicted answer, question, ground truth (VQA only).
Joined to records by image and question."""

from __future__ import annotations

from pathlib import Path

from sarlang.files import iter_csv
from sarlang.formats.predictions import Row
from sarlang.schema import Reject

PRIORITY = 90  # the fallback for a file that is not JSON
#: how rows meet their records: by image and question (the file has both)
JOIN = "image_question"
#: the file holds answers only
CAPTIONS = False

_CSV_HEADER_WORDS = {"image", "image name", "predicted", "prediction", "question", "ground truth", "answer", "gt"}


def detect(data: bytes, path: Path) -> bool:
    """Is this SARLANG-1M's result CSV (image, question, answer, prediction)?

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    return not head.startswith(b"{") and (path.suffix.lower() == ".csv" or b"," in head.split(b"\n", 1)[0])


def rows(data: bytes, path: Path, rejects: list[Reject], notes: list[str]) -> list[Row]:
    """The rows of SARLANG-1M's result CSV (image, question, answer, prediction).

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    source = str(path)
    found: list[Row] = []
    for number, row in iter_csv(data, source, rejects):
        if len(row) != 4:
            rejects.append(Reject(source, number, f"row has {len(row)} columns; VQA_result.csv rows have 4 (image, predicted, question, ground truth)"))
            continue
        if not found and number == 1 and {c.strip().lower() for c in row} <= _CSV_HEADER_WORDS:
            notes.append("the first row looks like a header and was skipped (SARLANG-1M's VQA_result.csv has none)")
            continue
        image, pred, question, label = row
        found.append((number, pred, label.strip(), question, image.strip()))
    return found
