"""The InternVL chat export: one file in formats/exports/, found by the registry."""

from __future__ import annotations

import json
from pathlib import Path

from sarlang.corpus.dataset import build_dataset
from sarlang.formats.exports import EXPORTS, export_records
from sarlang.formats.prompts import prompt_for
from sarlang.formats.records import load_records

from ..conftest import run_cli


def test_internvl_jsonl_and_meta(tmp_path: Path) -> None:
    assert "internvl" in EXPORTS.names()
    build_dataset(["simulate:3,size=32"], tmp_path / "b", )
    records, _ = load_records(tmp_path / "b")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "internvl_meta.json").write_text('{"other": {"annotation": "other.jsonl"}}')
    written = export_records(tmp_path / "b", "internvl", tmp_path / "x")
    splits = sorted({r.split for r in records})
    assert {f"internvl_{s}.jsonl" for s in splits} <= set(written)
    meta = json.loads((tmp_path / "x" / "internvl_meta.json").read_text())
    assert "other" in meta
    for split in splits:
        rows = [json.loads(line) for line in (tmp_path / "x" / f"internvl_{split}.jsonl").read_text().splitlines()]
        mine = [r for r in records if r.split == split]
        assert meta[f"sarlang_{split}"]["length"] == len(rows) == len(mine)
        for row, record in zip(rows, mine):
            assert row["id"] == record.id and row["conversations"][1]["value"] == record.answer
            assert row["conversations"][0]["value"] == "<image>\n" + prompt_for(record)
            assert (tmp_path / "x" / row["image"]).resolve() == (tmp_path / "b" / record.image).resolve()
    assert json.loads((tmp_path / "x" / "export_internvl.json").read_text())["vqa_prompt"].startswith("Question: {q}")
    assert run_cli("export", str(tmp_path / "b"), "--to", "internvl", "--out", str(tmp_path / "cli")).returncode == 0
