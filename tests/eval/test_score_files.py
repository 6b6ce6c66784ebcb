"""The library writes the score files that ``eval compare`` reads, without the CLI."""

from __future__ import annotations

from pathlib import Path

from sarlang.eval.captions import score_captions
from sarlang.eval.compare import compare_score_files
from sarlang.files import atomic_write_json, json_safe
from sarlang.formats.predictions import load_eval_items

from ..conftest import EXAMPLES


def test_caption_score_files_from_python_compare(tmp_path: Path) -> None:
    paths = []
    for model in ("model_a", "model_b"):
        loaded = load_eval_items(EXAMPLES / f"captions/generated_predictions_{model}.jsonl", task="captions")
        scores = score_captions([it.prediction for it in loaded.items], [list(it.references) for it in loaded.items], meteor=False)
        result = loaded.score_file(scores.to_json(), loaded.items[0].image or model, scores.per_sample)
        assert result["summary"]["scored"] == len(loaded.items) and len(result["per_sample"]["id"]) == len(loaded.items)
        atomic_write_json(tmp_path / f"{model}.json", json_safe(result))
        paths.append(tmp_path / f"{model}.json")
    compared = compare_score_files(*paths)
    assert compared["kind"] == "captions" and "CIDEr" in compared["metrics"]
