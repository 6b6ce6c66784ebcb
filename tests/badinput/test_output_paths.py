"""Output paths every command checks before any work: one line and exit 2, never a traceback or lost scores."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ..conftest import EXAMPLES, run_cli

CAPTIONS = str(EXAMPLES / "captions/generated_predictions_model_a.jsonl")
VQA = str(EXAMPLES / "vqa/VQA_result_model_b.csv")


def _cases(tmp: Path) -> list[tuple[list[str], str]]:
    a_file = tmp / "a_file.txt"
    a_file.write_text("x")
    folder = tmp / "folder"
    folder.mkdir(exist_ok=True)
    return [
        (["eval", "captions", CAPTIONS, "--no-meteor", "--json", str(folder)], "is a folder"),
        (["eval", "captions", CAPTIONS, "--no-meteor", "--json", str(a_file / "scores.json")], "is a file"),
        (["eval", "vqa", VQA, "--rejects", str(folder)], "is a folder"),
        (["eval", "vqa", VQA, "--json", str(a_file / "deeper" / "s.json")], "is a file"),
        (["build", "--source", "simulate:2,size=32", "--out", str(a_file)], "is a file"),
        (["preprocess", str(EXAMPLES), "--out", str(a_file)], "is a file"),
        (["export", str(tmp), "--to", "llava", "--out", str(a_file)], "is a file"),
        (["stats", str(tmp / "records.jsonl"), "--out", str(a_file / "x")], "is a file"),
        (["review", "export", str(tmp), "--out", str(folder)], "is a folder"),
        (["despeckle", str(tmp / "in.tif"), str(folder)], "is a folder"),
        (["demo", "--out", str(a_file)], "is a file"),
    ]


@pytest.mark.slow
def test_unusable_output_paths_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "records.jsonl").write_text(json.dumps({"id": "a", "image": "x.png", "application": "others", "question": "q", "answer": "a"}) + "\n")
    for args, message in _cases(tmp_path):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


@pytest.mark.skipif(os.geteuid() == 0 and not Path("/proc/self").exists(), reason="needs /proc to find an unwritable folder as root")
def test_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    # root may write anywhere a mode allows nothing, so use a folder no one can create files in
    target = Path("/proc/self/sarlang-out") if os.geteuid() == 0 else tmp_path / "ro" / "out"
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(stat.S_IRUSR | stat.S_IXUSR)
    result = run_cli("eval", "vqa", VQA, "--json", str(target / "s.json"))
    assert result.returncode == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = run_cli("eval", "vqa", VQA, "--json", str(out), "--rejects", str(tmp_path / "r.jsonl"))
    assert result.returncode == 0, result.stderr
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    out.chmod(0o640)  # a file replaced in place keeps the mode its owner gave it
    assert run_cli("eval", "vqa", VQA, "--json", str(out)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_an_export_keeps_the_mode_of_the_dataset_info_it_adds_to(tmp_path: Path) -> None:
    from sarlang.corpus.dataset import build_dataset
    from sarlang.formats.exports import export_records

    build_dataset(["simulate:2,size=32"], tmp_path / "b")
    info = tmp_path / "x" / "dataset_info.json"
    info.parent.mkdir()
    info.write_text('{"mine": {"file_name": "mine.json"}}')
    info.chmod(0o664)
    export_records(tmp_path / "b", "sharegpt", tmp_path / "x")
    assert stat.S_IMODE(info.stat().st_mode) == 0o664
    entries = json.loads(info.read_text())
    assert "mine" in entries and any(k.startswith("sarlang_") for k in entries)
    mask = os.umask(0)
    os.umask(mask)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask for p in (tmp_path / "x").glob("sharegpt_*.json"))


def test_a_broken_index_file_an_export_adds_to_is_a_clear_error(tmp_path: Path) -> None:
    from sarlang.corpus.dataset import build_dataset

    build_dataset(["simulate:2,size=32"], tmp_path / "b")
    for fmt, index in (("sharegpt", "dataset_info.json"), ("internvl", "internvl_meta.json")):
        out = tmp_path / fmt
        out.mkdir()
        (out / index).write_text('{"mine": ')  # torn
        result = run_cli("export", str(tmp_path / "b"), "--to", fmt, "--out", str(out))
        assert result.returncode == 2 and "is not valid JSON" in result.stderr and "Traceback" not in result.stderr
        assert (out / index).read_text() == '{"mine": '  # left as it was
        assert sorted(p.name for p in out.iterdir()) == [index]  # and nothing half-exported beside it
