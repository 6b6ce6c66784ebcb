"""Loading benchmark records: our JSONL, or SARLANG-1M's CSV and JSON text files."""

from __future__ import annotations

from pathlib import Path

from sarlang.errors import InputError
from sarlang.formats.sarlang1m import read_sarlang_csv, read_sarlang_json
from sarlang.formats.textio import iter_jsonl, read_bytes
from sarlang.schema import Record, Reject, SchemaError


def read_records_jsonl(path: Path) -> tuple[list[Record], list[Reject]]:
    """Our records JSONL: one :class:`Record` object per line; bad lines become rejects."""
    source = str(path)
    rejects: list[Reject] = []
    records: list[Record] = []
    for number, value in iter_jsonl(read_bytes(path, "records file"), source, rejects):
        try:
            records.append(Record.from_dict(value))
        except SchemaError as exc:
            rejects.append(Reject(source, number, f"not a record: {exc}", id=str(value.get("id", "")) if isinstance(value, dict) else ""))
    return records, rejects


def records_file(path: str | Path) -> Path:
    """A build folder's ``records.jsonl``, or ``path`` itself when it is a records file."""
    p = Path(path)
    return p / "records.jsonl" if p.is_dir() else p


def load_records(path: str | Path) -> tuple[list[Record], list[Reject]]:
    """Records from ``path`` by its suffix (``.jsonl`` ours, ``.csv``/``.json`` SARLANG-1M's).

    Records whose id was already seen are rejected (the first one is kept).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".jsonl":
            records, rejects = read_records_jsonl(p)
        elif suffix == ".csv":
            records, rejects = read_sarlang_csv(p)
        elif suffix == ".json":
            records, rejects = read_sarlang_json(p)
        else:
            raise InputError(
                f"records file '{p}' has an unknown suffix '{suffix}'",
                hint="use our .jsonl records or SARLANG-1M's .csv / .json text files",
            )
    except SchemaError as exc:
        raise InputError(str(exc)) from None
    seen: set[str] = set()
    unique: list[Record] = []
    for record in records:
        if record.id in seen:
            rejects.append(Reject(str(p), 0, "duplicate record id (the first one is kept)", id=record.id))
            continue
        seen.add(record.id)
        unique.append(record)
    if not unique:
        raise InputError(f"records file '{p}' holds no usable record ({len(rejects)} rejected)")
    return unique, rejects
