"""Hugging Face ``datasets`` Parquet (``data/<split>-00000-of-00001.parquet``) in the one records
schema of :mod:`sarlang.formats.records`, which ``datasets.load_dataset("parquet", data_files=...)`` opens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sarlang.files import atomic_path, require
from sarlang.formats.exports import Prompt, image_list
from sarlang.schema import Record

#: What a bi-temporal pair becomes (recorded in export_<format>.json).
PAIRS = "both images, earlier first: the images column holds their paths as a JSON list"


def export(split: str, records: list[Record], image: Callable[[Record], str], out: Path, prompt: Prompt) -> list[str]:
    """Records as a Hugging Face ``datasets`` Parquet file, ``<split>.parquet``, with the prompt the model sees.

    Arguments and result: the export contract of :mod:`sarlang.formats.exports`.
    """
    pq = require("pyarrow.parquet", "parquet", "Parquet export (pyarrow)")
    from sarlang.formats.records import records_table

    rows = []
    for r in records:
        row = r.to_dict()
        row["image"] = image(r)
        if r.is_pair:
            row["images"] = image_list(image, r)
        rows.append(row)
    path = out / "data" / f"{split}-00000-of-00001.parquet"
    with atomic_path(path) as tmp:
        pq.write_table(records_table(rows), tmp)
    return [str(path.relative_to(out))]
