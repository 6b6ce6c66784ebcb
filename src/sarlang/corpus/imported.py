"""SARLANG-1M's own text files in a build: finished records, given the build's splits and caption kinds.

A split given both as CSV and as JSON (SARLANG-1M's ``Text`` folder, ``sarlang export --to
sarlang``) is read once, from the JSON, whose prompts tell concise from detailed captions; the
split comes from the file name, else from the record's image (or its ``group_by`` group).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sarlang.corpus.scenes import name_group
from sarlang.corpus.splits import hashed_split
from sarlang.errors import InputError
from sarlang.schema import Reject


def _caption_kind(prompt: str, caption: str, file_name: str) -> str:
    """Concise or detailed: from the prompt when it says ("in detail", "one sentence"), else by length."""
    from sarlang.formats.prompts import caption_kind_from_prompt

    return caption_kind_from_prompt(prompt) or ("detailed" if "test1" not in file_name and len(caption.split()) > 30 else "concise")


def sarlang1m_rows(path: str, out: Path, options: Any, rejects: list[Reject], notes: list[str]) -> list[dict[str, Any]]:
    from sarlang.formats.records import load_records

    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in (".csv", ".json")) if p.is_dir() else [p]
    if not files:
        raise InputError(f"no SARLANG-1M CSV or JSON files in '{p}'")
    # SARLANG-1M (and our export) gives each split twice, as CSV and as JSON conversations: read
    # the JSON of a split when there is one (its prompts tell concise from detailed captions)
    def split_of(f: Path) -> str:
        name = f.stem.lower()
        return "train" if "train" in name else ("test" if "test" in name else "")

    json_splits = {(f.parent, split_of(f)) for f in files if f.suffix.lower() == ".json" and split_of(f)}
    skipped = [f for f in files if f.suffix.lower() == ".csv" and (f.parent, split_of(f)) in json_splits]
    if skipped:
        notes.append(f"{len(skipped)} CSV files hold the same split as a JSON file and were not read again: "
                     + ", ".join(f.name for f in skipped[:4]))
    rows: list[dict[str, Any]] = []
    for f in (f for f in files if f not in skipped):
        try:
            records, file_rejects = load_records(f)
        except InputError as exc:
            rejects.append(Reject(str(f), 0, str(exc)))
            continue
        rejects.extend(file_rejects)
        name = f.stem.lower()
        file_split = "train" if "train" in name else ("test" if "test" in name else "")
        for record in records:
            row = record.to_dict()
            group = name_group(options.group_by, record.image)
            row["split"] = file_split or hashed_split(f"sarlang1m:group:{group}" if group else f"sarlang1m:{record.image}",
                                                      options.train_fraction)
            if group:
                row["provenance"] = {**row["provenance"], "group": f"sarlang1m:group:{group}"}
            row["source"] = "sarlang1m"
            if record.is_caption and record.caption_kind is None:
                row["caption_kind"] = _caption_kind(record.question, record.answer, name)
            rows.append(row)
    return rows
