"""Each export format, loaded back the way its tool loads it; statistics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sarlang.corpus.dataset import build_dataset
from sarlang.formats.exports import export_records
from sarlang.formats.records import load_records

from ..conftest import run_cli


@pytest.fixture
def built(sim_bench: Path) -> Path:
    return sim_bench


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


@pytest.mark.slow
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


def test_one_parquet_schema_for_the_build_and_the_hf_export(built: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    export_records(built, "hf", tmp_path)
    build_table = pq.read_table(built / "records.parquet")
    export_table = pq.read_table(tmp_path / "data" / "train-00000-of-00001.parquet")
    assert build_table.schema == export_table.schema
    # every column holds exactly what records.jsonl holds, provenance as its JSON text
    lines = (built / "records.jsonl").read_text(encoding="utf-8").splitlines()
    rows = build_table.to_pylist()
    assert len(rows) == len(lines)
    for row, line in zip(rows, lines):
        record = json.loads(line)
        assert json.loads(row.pop("provenance")) == record.pop("provenance")
        # a pair's images as JSON text; "" for a record of one image (its JSON has no images)
        assert row.pop("images") == (json.dumps(record.pop("images"), ensure_ascii=False) if "images" in record else "")
        assert row == record
    train = [r for r in rows if r["split"] == "train"]
    assert export_table.column("provenance").to_pylist() == [r["provenance"] for r in pq.read_table(built / "records.parquet").to_pylist() if r["split"] == "train"]
    assert len(train) == export_table.num_rows


def test_rewriting_a_builds_records_keeps_parquet_and_summary_current(built: Path, tmp_path: Path) -> None:
    import shutil

    pq = pytest.importorskip("pyarrow.parquet")
    from sarlang.corpus.dataset import rewrite_records

    copy = tmp_path / "b"
    shutil.copytree(built, copy)
    rows = [json.loads(line) for line in (copy / "records.jsonl").read_text().splitlines()]
    extra = dict(rows[0], id="added-1", answer="An added caption.", provenance={"generator": "llm", "flags": ["a [bracket], \"quote\""]})
    rewrite_records(copy, rows + [extra])
    assert pq.read_table(copy / "records.parquet").num_rows == len(rows) + 1
    summary = json.loads((copy / "summary.json").read_text())
    assert summary["records"] == len(rows) + 1
    assert sum(summary["by_application"].values()) == len(rows) + 1
    last = pq.read_table(copy / "records.parquet").to_pylist()[-1]
    assert json.loads(last["provenance"]) == extra["provenance"]


def _round_trip_rows(folder: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    return sorted((Path(r["image"]).name, r["question"] if r["application"] != "image_description" else "", r["answer"], r["application"],
                   r["caption_kind"], r["split"]) for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["voc:mstar", "simulate:12,size=64,gsd=2+6"])
def test_sarlang_export_builds_back_to_the_same_benchmark(source: str, tmp_path: Path) -> None:

    from ..conftest import SHARED_DATA

    if source == "voc:mstar":
        if not (SHARED_DATA / "mstar_scenes").exists():
            pytest.skip("../shared/data/mstar_scenes is absent (real MSTAR scenes)")
        source = f"voc:{SHARED_DATA / 'mstar_scenes'}"
    build_dataset([source], tmp_path / "built")
    export_records(tmp_path / "built", "sarlang", tmp_path / "exported")
    summary = build_dataset([f"sarlang1m:{tmp_path / 'exported'}"], tmp_path / "back")
    # the same questions, answers, applications, caption kinds and splits: no caption read twice
    assert _round_trip_rows(tmp_path / "back") == _round_trip_rows(tmp_path / "built")
    assert any("were not read again" in note for note in summary["notes"])
    assert summary["rejected"] == 0, "the export's own export_sarlang.json is not a records file"
