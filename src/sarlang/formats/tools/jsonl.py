"""sarlang's own prediction JSONL (``sarlang predict``): ``{"id", "prediction"}`` per line (with the
model and its settings), joined to a records file by ``id``."""

from __future__ import annotations

from pathlib import Path

from sarlang.files import iter_jsonl
from sarlang.formats.predictions import IdRow, json_keys
from sarlang.schema import Prediction, Reject, SchemaError

PRIORITY = 90  # asked after the tools whose rows may also carry an "id"
JOIN = "id"


def detect(data: bytes, path: Path) -> bool:
    """Is this our prediction JSONL (a first line with ``id`` and ``prediction``)?

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    return {"id", "prediction"} <= json_keys(data)


def rows(data: bytes, path: Path, rejects: list[Reject], notes: list[str]) -> list[IdRow]:
    """The ``(row number, record id, prediction)`` of each line.

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    source = str(path)
    found: list[IdRow] = []
    for number, obj in iter_jsonl(data, source, rejects):
        try:
            prediction = Prediction.from_dict(obj)
        except SchemaError as exc:
            rejects.append(Reject(source, number, f"not a prediction: {exc}", id=str(obj.get("id", "")) if isinstance(obj, dict) else ""))
            continue
        found.append((number, prediction.id, prediction.prediction))
    return found
