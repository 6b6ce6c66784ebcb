"""Each export format, loaded back the way its tool loads it; statistics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sarlang.build.dataset import build_dataset
from sarlang.formats.exports import export_records
from sarlang.formats.records import load_records

from ..conftest import run_cli


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    build_dataset(["simulate:6,size=96,gsd=2"], out)
    return out


def test_sharegpt_and_dataset_info(built: Path, tmp_path: Path) -> None:
    written = export_records(built, "sharegpt", tmp_path)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert "dataset_info.json" in written
    for name, entry in info.items():
        data = json.loads((tmp_path / entry["file_name"]).read_text())
        assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages", "images": "images"}
        for item in data:
            tags = sum(m["content"].count("<image>") for m in item["messages"])
            assert tags == len(item["images"]) == 1  # LLaMA-Factory's rule
            assert (tmp_path / item["images"][0]).resolve().exists()


def test_llava_vlmevalkit_and_sarlang_layouts(built: Path, tmp_path: Path) -> None:
    records, _ = load_records(built / "records.jsonl")
    export_records(built, "llava", tmp_path / "llava")
    llava = json.loads((tmp_path / "llava" / "llava_train.json").read_text())
    assert llava[0]["conversations"][0]["value"].startswith("<image>\n") and llava[0]["conversations"][1]["from"] == "gpt"
    export_records(built, "vlmevalkit", tmp_path / "vlm")
    with (tmp_path / "vlm" / "SARLANG_test.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert set(rows[0]) == {"index", "image_path", "question", "answer", "category", "l2-category", "split"}
    assert len(rows) == sum(1 for r in records if r.split == "test")
    export_records(built, "sarlang", tmp_path / "s1m")
    again, rejects = load_records(tmp_path / "s1m" / "VQA_train.csv")
    assert not rejects and len(again) == sum(1 for r in records if r.split == "train" and not r.is_caption)
    assert {r.application for r in again} >= {"object_identification", "instance_counting", "region_referring"}
    captions, _ = load_records(tmp_path / "s1m" / "Caption_train.csv")
    assert all(c.is_caption for c in captions)


def test_hf_parquet_loads_with_datasets(built: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    export_records(built, "hf", tmp_path)
    loaded = datasets.load_dataset("parquet", data_files={"train": str(tmp_path / "data" / "train-00000-of-00001.parquet")}, split="train")
    records, _ = load_records(built / "records.jsonl")
    assert loaded.num_rows == sum(1 for r in records if r.split == "train")
    assert set(loaded.column_names) >= {"id", "image", "application", "question", "answer", "split"}
    whole = datasets.load_dataset("parquet", data_files=str(built / "records.parquet"), split="train")
    assert whole.num_rows == len(records)


def test_cli_export_and_stats(built: Path, tmp_path: Path) -> None:
    result = run_cli("export", str(built), "--to", "llava", "--out", str(tmp_path / "x"))
    assert result.returncode == 0, result.stderr
    bad = run_cli("export", str(built), "--to", "pdf")
    assert bad.returncode == 2 and "unknown export format" in bad.stderr
    stats = run_cli("stats", str(built), "--out", str(tmp_path / "stats"))
    assert stats.returncode == 0, stats.stderr
    data = json.loads((tmp_path / "stats" / "stats.json").read_text())
    assert data["question_types"] >= 10 and "object_identification" in data["by_application"]
    assert all(0 < d["majority_share"] <= 1 for d in data["answer_distributions"].values())
    assert "| question type |" in (tmp_path / "stats" / "stats.md").read_text()
    for command in ("build", "export", "stats"):
        assert "Example" in run_cli(command, "--help").stdout
