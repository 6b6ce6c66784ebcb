"""Finished records a source gives (SARLANG-1M's text files) joined to a build: their splits and groups.

A record keeps the split its source gave it (SARLANG-1M's file names say train or test); any
other is split by its image, or by the image's ``group_by`` group, as the build splits scenes.
"""

from __future__ import annotations

from typing import Any

from sarlang.corpus.scenes import name_group
from sarlang.corpus.splits import hashed_split
from sarlang.schema import Record


def imported_rows(kind: str, records: list[Record], group_by: str, train_fraction: float) -> list[dict[str, Any]]:
    """The build's rows of the finished ``records`` of a source of ``kind``, each with its split."""
    rows: list[dict[str, Any]] = []
    for record in records:
        row = record.to_dict()
        group = name_group(group_by, record.image)
        if not row["split"]:
            row["split"] = hashed_split(f"{kind}:group:{group}" if group else f"{kind}:{record.image}", train_fraction)
        if group:
            row["provenance"] = {**row["provenance"], "group": f"{kind}:group:{group}"}
        rows.append(row)
    return rows
