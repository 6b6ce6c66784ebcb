"""Benchmark records on disk: loading our JSONL or SARLANG-1M's CSV and JSON, and the one Parquet schema.

Parquet (a build's ``records.parquet``, ``export --to hf``) has one schema, derived from
:class:`~sarlang.schema.Record`: a string column per field, ``caption_kind`` null for questions,
and ``provenance`` as its JSON text exactly as ``records.jsonl`` holds it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.formats.exported import load_json_records, read_vlmevalkit_tsv
from sarlang.formats.sarlang1m import read_sarlang_csv
from sarlang.files import atomic_path, iter_jsonl, read_bytes
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
    """Records from a build folder or a records file, by its suffix.

    Parameters
    ----------
    path:
        A build folder (its ``records.jsonl``), our ``.jsonl``, SARLANG-1M's ``.csv``/``.json``,
        or an export read back (``llava_*.json``, ``sharegpt_*.json``, ``SARLANG_*.tsv``).

    Returns
    -------
    tuple
        The records, and a :class:`Reject` for each line that is not one (or repeats an id).

    Raises
    ------
    InputError
        A missing, empty or unknown file, or one holding no usable record.
    """
    p = records_file(path)
    if not p.exists():
        raise InputError(f"records '{p}' do not exist", hint="give a build folder (sarlang build writes records.jsonl) or a records file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".jsonl":
            records, rejects = read_records_jsonl(p)
        elif suffix == ".csv":
            records, rejects = read_sarlang_csv(p)
        elif suffix == ".json":
            records, rejects = load_json_records(p)
        elif suffix == ".tsv":
            records, rejects = read_vlmevalkit_tsv(p)
        else:
            raise InputError(
                f"records file '{p}' has an unknown suffix '{suffix}'",
                hint="use a build folder, our .jsonl records, SARLANG-1M's .csv / .json text files, or an export "
                     "(llava_*.json, sharegpt_*.json, SARLANG_*.tsv)",
            )
    except SchemaError as exc:
        raise InputError(str(exc)) from None
    named = re.search(r"(?:^|_)(train|val|test)$", p.stem.lower())
    if named and suffix != ".jsonl":  # an export or SARLANG-1M file of one split says which in its name
        records = [r if r.split else dataclasses.replace(r, split=named.group(1)) for r in records]
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


#: The Parquet columns: every field of a record, provenance last (as JSON text).
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record))
_PROVENANCE_MARK = ', "provenance": '


def _parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in RECORD_COLUMNS])


def provenance_text(provenance: Any) -> str:
    """A record's provenance as the JSON text ``records.jsonl`` holds it."""
    return json.dumps(provenance or {}, ensure_ascii=False)


def records_table(rows: list[dict[str, Any]]) -> Any:
    """Records (JSON-ready dicts) as a pyarrow table of the one Parquet schema."""
    import pyarrow as pa

    encoded: dict[int, str] = {}  # provenance is shared by all records of a scene: encode it once
    provenance = []
    for r in rows:
        p = r.get("provenance")
        if not p:
            text = "{}"
        else:
            text = encoded.get(id(p))  # rows keep their provenance alive, so ids are not reused
            if text is None:
                text = encoded[id(p)] = provenance_text(p)
        provenance.append(text)
    data = {c: [r.get(c) for r in rows] for c in RECORD_COLUMNS if c not in ("provenance", "images")}
    data["images"] = [json.dumps(list(r["images"]), ensure_ascii=False) if r.get("images") else "" for r in rows]
    data["provenance"] = provenance
    return pa.table(data, schema=_parquet_schema())


def write_records_parquet(jsonl: Path, parquet: Path) -> str:
    """``records.jsonl`` as ``records.parquet`` (the one schema), atomically; returns what was written.

    The plain columns go through pyarrow's multi-threaded JSON reader; provenance is cut from
    each line's end (every writer of records puts it last), checked by parsing it once per
    distinct text, and otherwise taken from the parsed line.
    """
    try:
        import pyarrow as pa
        import pyarrow.json as pajson
        import pyarrow.parquet as pq
    except ImportError:
        return "not written: pyarrow is not installed (pip install 'sarlang[parquet]')"
    if jsonl.stat().st_size == 0:
        parquet.unlink(missing_ok=True)
        return "not written: no records"
    plain = pa.schema([(name, pa.string()) for name in RECORD_COLUMNS if name not in ("provenance", "images")])
    options = pajson.ParseOptions(explicit_schema=plain, unexpected_field_behavior="ignore", newlines_in_values=False)
    table = pajson.read_json(jsonl, read_options=pajson.ReadOptions(block_size=1 << 24), parse_options=options)
    checked: dict[str, bool] = {}
    provenance: list[str] = []
    images: list[str] = []
    with jsonl.open("r", encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            # a pair's images (JSON text in the table), from the parsed line: rare enough to parse
            listed = json.loads(line).get("images") if "\"images\": [" in line else None
            images.append(json.dumps(listed, ensure_ascii=False) if listed else "")
            at = line.rfind(_PROVENANCE_MARK)
            text = line[at + len(_PROVENANCE_MARK) : -1] if at >= 0 and line.endswith("}") else ""
            ok = checked.get(text)
            if ok is None:
                try:
                    value = json.loads(text)
                    ok = isinstance(value, dict) and provenance_text(value) == text
                except ValueError:
                    ok = False
                checked[text] = ok
            provenance.append(text if ok else provenance_text(json.loads(line).get("provenance")))
    table = table.select([n for n in RECORD_COLUMNS if n not in ("provenance", "images")])
    table = table.append_column("images", pa.array(images, pa.string())).append_column("provenance", pa.array(provenance, pa.string()))
    with atomic_path(parquet) as tmp:
        pq.write_table(table, tmp)
    return parquet.name
