"""Hugging Face VLMs through the real from_pretrained path: tiny Qwen2-VL, Qwen2.5-VL, LLaVA-1.5, Idefics3 and SmolVLM models built offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.errors import InputError
from sarlang.models.base import load_model
from sarlang.models.run import predict_records, train_from_config

from ..conftest import run_cli
from .tiny_vlms import tiny_idefics3, tiny_llava, tiny_qwen2_5_vl, tiny_qwen2_vl, tiny_smolvlm

pytest.importorskip("transformers")
pytest.importorskip("peft")


@pytest.fixture
def bench(sim_bench: Path) -> Path:
    return sim_bench


@pytest.mark.parametrize("family", [tiny_qwen2_vl, tiny_qwen2_5_vl, tiny_llava, tiny_idefics3, tiny_smolvlm],
                         ids=["qwen2-vl", "qwen2.5-vl", "llava", "idefics3", "smolvlm"])
@pytest.mark.slow
def test_inference_lora_adapter_and_merge(family, bench: Path, tmp_path: Path) -> None:
    base = family(tmp_path / "base")
    model = load_model(str(base))
    assert model.info()["id"].startswith("hf:")
    out = tmp_path / "base_pred.jsonl"
    result = predict_records(model, bench / "records.jsonl", out, split=None, batch_size=8)
    assert result["predicted"] == len(out.read_text().splitlines()) > 0
    losses: list[float] = []
    config = {"model": "lora", "base": str(base), "records": str(bench / "records.jsonl"), "out": str(tmp_path / "lora"),
              "max_steps": 3, "batch_size": 2, "gradient_accumulation": 2, "image_size": 64, "learning_rate": 0.01}
    train_from_config(config, on_progress=lambda step, total, loss: losses.append(loss))
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    adapter = tmp_path / "lora"
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    assert not (adapter / "model.safetensors").exists()  # the adapter is saved on its own
    # LoRA starts with B = 0 (the adapter adds nothing); only real gradient steps move it
    from safetensors.torch import load_file

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and all(float(t.abs().max()) > 0 for t in lora_b)
    with_adapter = load_model(str(adapter))
    assert "+" in with_adapter.info()["id"]
    record_image = str((bench / json.loads((bench / "records.jsonl").read_text().splitlines()[0])["image"]).resolve())
    batch = [(record_image, "Question: How many ships are there in the image?. Answer the question concisely.")]
    before_merge = with_adapter.answer(batch)
    merged = run_cli("merge", "--adapter", str(adapter), "--out", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    assert load_model(str(tmp_path / "merged")).answer(batch) == before_merge


@pytest.mark.slow
def test_bad_lora_config_and_adapter(bench: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs 'base'"):
        train_from_config({"model": "lora", "records": str(bench / "records.jsonl"), "out": str(tmp_path / "x")})
    with pytest.raises(InputError, match="unknown LoRA setting"):
        train_from_config({"model": "lora", "base": "x", "records": str(bench / "records.jsonl"), "out": str(tmp_path / "x"), "rank_of_doom": 3})
    result = run_cli("merge", "--adapter", str(tmp_path), "--out", str(tmp_path / "m"), "--base", str(tmp_path))
    assert result.returncode == 2 and "not a LoRA adapter" in result.stderr


@pytest.fixture(scope="module")
def pair_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated bi-temporal pairs (64 pixels)."""
    from sarlang.corpus.dataset import build_dataset

    out = tmp_path_factory.mktemp("pairs")
    build_dataset(["simulate-change:3,size=64"], out)
    return out


@pytest.mark.parametrize("family", [tiny_qwen2_vl, tiny_qwen2_5_vl, tiny_llava, tiny_idefics3, tiny_smolvlm],
                         ids=["qwen2-vl", "qwen2.5-vl", "llava", "idefics3", "smolvlm"])
@pytest.mark.slow
def test_two_images_in_one_prompt(family, pair_bench: Path, tmp_path: Path) -> None:
    """A pair's two dates go into one user turn (two image entries, both pictures to the
    processor): predict answers every pair record, and LoRA learns from pairs."""
    base = family(tmp_path / "base")
    model = load_model(str(base))
    assert model.images_per_prompt == 2
    result = predict_records(model, pair_bench / "records.jsonl", tmp_path / "p.jsonl", split=None, batch_size=4)
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert result["pairs_left"] == 0 and result["predicted"] == len(lines) > 0
    # the processor saw both pictures: one image's worth of tokens more than a single picture's prompt
    from sarlang.models.hf import _conversation, _packed, _shown

    record = json.loads((pair_bench / "records.jsonl").read_text().splitlines()[0])
    paths = [str(pair_bench / p) for p in record["images"]]
    rows = [_shown(paths, 32), _shown(paths[0], 32)]
    texts = [model.processor.apply_chat_template(_conversation("What changed?", images=len(r)), add_generation_prompt=True, tokenize=False) for r in rows]
    two, one = (model.processor(images=_packed(model.processor, [r]), text=[t], return_tensors="pt")["input_ids"].shape[1] for r, t in zip(rows, texts))
    assert two > one
    losses: list[float] = []
    train_from_config({"model": "lora", "base": str(base), "records": str(pair_bench / "records.jsonl"), "out": str(tmp_path / "lora"),
                       "max_steps": 2, "batch_size": 2, "gradient_accumulation": 1, "image_size": 32, "learning_rate": 0.01},
                      on_progress=lambda step, total, loss: losses.append(loss))
    assert len(losses) == 2 and all(loss > 0 for loss in losses)


@pytest.mark.slow
@pytest.mark.parametrize("family", [tiny_qwen2_vl, tiny_smolvlm], ids=["qwen2-vl", "smolvlm"])
def test_conversations_and_passages_reach_the_chat_template(family, tmp_path: Path) -> None:
    """A turn's earlier turns become real user/assistant messages (the image in the first),
    passages come before the last question; predict answers every turn of a dialogue build, a
    routes file hands questions to the HF model, and LoRA learns from conversations."""
    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.formats.prompts import ContextPrompt
    from sarlang.models.hf import _conversation

    base = family(tmp_path / "base")
    model = load_model(str(base))
    prompt = ContextPrompt("Question: Where is the largest one?. Answer the question concisely.", (("How many ships?", "3"),), ("Sentinel-1 is C band.",))
    messages = _conversation(prompt, images=1)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"][0] == {"type": "image"} and all(c["type"] == "text" for c in messages[2]["content"])
    assert messages[2]["content"][0]["text"].startswith("Knowledge:\n[1] Sentinel-1") and messages[1]["content"][0]["text"] == "3"
    text = model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.index("How many ships?") < text.index("3") < text.index("Where is the largest one?")
    build_dataset(["simulate:4,size=48,seed=3"], tmp_path / "b", BuildOptions(dialogue=3, train_fraction=0.5))
    records = tmp_path / "b" / "records.jsonl"
    result = predict_records(model, records, tmp_path / "p.jsonl", split=None, batch_size=4)
    assert result["conversations"] > 0 and result["failed"] == 0 and result["predicted"] == len((tmp_path / "p.jsonl").read_text().splitlines())
    routes = tmp_path / "routes.yaml"
    routes.write_text(f'instance_counting: "blobs:"\ndefault: "{base}"\n')
    routed = predict_records(load_model(f"route:{routes}"), records, tmp_path / "r.jsonl", split="test", batch_size=4)
    experts = {json.loads(line)["expert"] for line in (tmp_path / "r.jsonl").read_text().splitlines()}
    assert routed["failed"] == 0 and experts == {"blobs:", str(base)}
    losses: list[float] = []
    train_from_config({"model": "lora", "base": str(base), "records": str(records), "out": str(tmp_path / "lora"),
                       "max_steps": 2, "batch_size": 2, "gradient_accumulation": 1, "image_size": 32, "learning_rate": 0.01},
                      on_progress=lambda step, total, loss: losses.append(loss))
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
