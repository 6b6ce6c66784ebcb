"""The model interface: the built-in baseline (train, save, load, resume, predict) and API models."""

from __future__ import annotations

import subprocess
import sys

import json
import re
from pathlib import Path

import numpy as np
import pytest

from sarlang.errors import InputError
from sarlang.models.base import VQA_PROMPT, load_model, prompt_for
from sarlang.models.run import predict_records, train_from_config

from ..conftest import run_cli

torch = pytest.importorskip("torch")


@pytest.fixture
def bench(sim_bench: Path) -> Path:
    return sim_bench


def tiny(bench: Path, out: Path, **extra) -> dict:
    return {"model": "baseline", "records": str(bench / "records.jsonl"), "out": str(out), "epochs": 2, "batch_size": 16,
            "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch", **extra}


def test_prompts() -> None:
    from sarlang.schema import Record

    q = Record("1", "a.png", "instance_counting", "How many ships are there in the image?", "3")
    assert prompt_for(q) == "Question: How many ships are there in the image?. Answer the question concisely." == VQA_PROMPT.format(q=q.question)
    c = Record("2", "a.png", "image_description", "Describe the content of this image in one sentence.", "x", caption_kind="concise")
    assert prompt_for(c) == "Describe the content of this image in one sentence."


@pytest.mark.slow
def test_train_save_load_is_deterministic_and_predicts(bench: Path, tmp_path: Path) -> None:
    a = train_from_config(tiny(bench, tmp_path / "a"))
    b = train_from_config(tiny(bench, tmp_path / "b"))
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    loaded = load_model(str(tmp_path / "a"))
    batch = [(str(bench / "images" / "sim000003_g2.png"), "Question: How many ships are there in the image?. Answer the question concisely.")]
    assert loaded.answer(batch) == a.answer(batch) == b.answer(batch)
    assert isinstance(loaded.answer(batch)[0], str)
    info = loaded.info()
    assert info["id"] == "sarlang-baseline-v3" and info["parameters"] > 1000 and info["encoder"] == "scratch"
    # a model saved by the earlier architecture (v2: the from-scratch encoder, no encoder settings) still loads
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    for key in ("encoder", "encoder_learning_rate", "frozen_blocks"):
        config.pop(key)
    (tmp_path / "a" / "config.json").write_text(json.dumps({**config, "architecture": "sarlang-baseline-v2"}))
    assert load_model(str(tmp_path / "a")).answer(batch) == a.answer(batch)


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint(bench: Path, tmp_path: Path) -> None:
    straight = train_from_config(tiny(bench, tmp_path / "straight", epochs=3))
    train_from_config(tiny(bench, tmp_path / "resumed", epochs=3))  # finished run: a rerun resumes at epoch 3 and changes nothing
    first = (tmp_path / "resumed" / "model.safetensors").read_bytes()
    again = train_from_config(tiny(bench, tmp_path / "resumed", epochs=3))
    assert (tmp_path / "resumed" / "model.safetensors").read_bytes() == first
    batch = [(str(bench / "images" / "sim000004_g2.png"), "Describe the content of this image in one sentence.")]
    assert again.answer(batch) == straight.answer(batch)
    with pytest.raises(InputError, match="other settings"):
        train_from_config(tiny(bench, tmp_path / "resumed", epochs=4))


@pytest.mark.slow
def test_training_interrupted_mid_run_resumes_to_the_same_weights(bench: Path, tmp_path: Path) -> None:
    """A kill in epoch 2 (after epoch 1's checkpoint) and a resume give the uninterrupted run's weights, byte for byte."""
    straight = train_from_config(tiny(bench, tmp_path / "straight", epochs=3))
    steps: list[int] = []

    class Killed(Exception):
        pass

    def kill_in_the_second_epoch(done: int, total: int, loss: float) -> None:
        steps.append(done)
        if done > total // 3:  # past the end of epoch 1 of 3
            raise Killed

    with pytest.raises(Killed):
        train_from_config(tiny(bench, tmp_path / "resumed", epochs=3), on_progress=kill_in_the_second_epoch)
    assert (tmp_path / "resumed" / "checkpoint.pt").exists() and not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed_steps: list[int] = []
    train_from_config(tiny(bench, tmp_path / "resumed", epochs=3), on_progress=lambda done, total, loss: resumed_steps.append(done))
    assert resumed_steps[0] == steps[-1]  # it went on from the checkpoint, not from the start
    assert (tmp_path / "resumed" / "model.safetensors").read_bytes() == (tmp_path / "straight" / "model.safetensors").read_bytes()
    del straight


@pytest.mark.slow
def test_predict_writes_both_formats_and_resumes(bench: Path, tmp_path: Path) -> None:
    model = train_from_config(tiny(bench, tmp_path / "m"))
    out = tmp_path / "pred" / "predictions.jsonl"
    first = predict_records(model, bench / "records.jsonl", out, split="test", batch_size=8)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert first["predicted"] == len(rows) > 0 and {"id", "prediction", "model", "settings"} <= set(rows[0])
    lf = [json.loads(x) for x in (out.parent / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(lf) == len(rows) and {"prompt", "predict", "label"} == set(lf[0])
    # a kill mid-run: drop the last rows and cut a line in half
    text = out.read_text().splitlines()
    out.write_text("\n".join(text[:-3]) + "\n" + text[-3][:20])
    again = predict_records(model, bench / "records.jsonl", out, split="test", batch_size=8)
    assert again["predicted"] == 3 and again["already_done"] == len(rows) - 3
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [r["id"] for r in rows]
    # the scorer reads both files
    scored = run_cli("eval", "vqa", str(out), "--records", str(bench / "records.jsonl"))
    assert scored.returncode == 0, scored.stderr
    scored = run_cli("eval", "captions", str(out.parent / "generated_predictions.jsonl"), "--no-meteor")
    assert scored.returncode == 0, scored.stderr


def test_bad_configs_and_models(bench: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown model setting"):
        train_from_config(tiny(bench, tmp_path / "x", dropout=0.5))
    with pytest.raises(InputError, match="must be int"):
        train_from_config(tiny(bench, tmp_path / "x", epochs="many"))
    with pytest.raises(InputError, match="lacks records"):
        train_from_config({"model": "baseline", "out": "x"})
    with pytest.raises(InputError, match="unknown model"):
        train_from_config(tiny(bench, tmp_path / "x", model="gpt"))
    with pytest.raises(InputError, match="is not a model"):
        load_model(str(tmp_path))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"architecture": "llama"}')
    with pytest.raises(InputError, match="unknown architecture"):
        load_model(str(tmp_path / "other"))
    train_from_config(tiny(bench, tmp_path / "small"))
    config = json.loads((tmp_path / "small" / "config.json").read_text())
    config["width"] = 64  # weights of another shape
    (tmp_path / "small" / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="do not fit"):
        load_model(str(tmp_path / "small"))
    (tmp_path / "cfg.yaml").write_text("model: baseline\nrecords: nowhere.jsonl\nout: m\ncolour: red\n")
    result = run_cli("train", "--config", str(tmp_path / "cfg.yaml"))
    assert result.returncode == 2 and "unknown model setting" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("predict", "--model", str(tmp_path), "--records", str(bench / "records.jsonl"), "--out", str(tmp_path / "p.jsonl"))
    assert result.returncode == 2 and "is not a model" in result.stderr


def test_object_maps_turn_with_their_images() -> None:
    from sarlang.models.baseline import BaselineConfig, dihedral_view
    from sarlang.models.baseline.training import object_maps

    config = BaselineConfig(image_size=64, grid_stride=16, categories=["car", "ship"])
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.uniform(0, 1, 2)
        image = np.zeros((64, 64), np.float32)
        image[int(y * 64), int(x * 64)] = 1.0  # the object's centre pixel
        object_map = object_maps({"a.png": [("ship", x, y), ("plane", 0.5, 0.5)]}, config)["a.png"]
        assert object_map.shape == (2, 4, 4) and object_map.sum() == object_map[1].sum() == 1  # a category not learned is left out
        for turns in range(4):
            for flip in (False, True):
                view, turned = dihedral_view(image, object_map, turns, flip)
                row, col = np.unravel_index(view.argmax(), view.shape)
                assert turned[1, row // 16, col // 16] == 1


def _object_counts(bench: Path) -> tuple[list[str], dict[str, dict[str, int]]]:
    rows = [json.loads(line) for line in (bench / "objects.jsonl").read_text().splitlines()]
    categories = sorted({o["category"] for row in rows for o in row["objects"]})
    return categories, {str((bench / row["image"]).resolve()): {c: sum(o["category"] == c for o in row["objects"]) for c in categories} for row in rows}


@pytest.mark.slow
def test_object_head_learns_the_build_objects(bench: Path, tmp_path: Path) -> None:
    from sarlang.models.baseline import load_picture

    categories, truth = _object_counts(bench)
    model = train_from_config(tiny(bench, tmp_path / "o", epochs=25, image_size=64, learning_rate=0.004))
    assert model.config.categories == categories
    assert json.loads((tmp_path / "o" / "config.json").read_text())["categories"] == categories
    train_images = sorted({str((bench / json.loads(line)["image"]).resolve()) for line in (bench / "records.jsonl").read_text().splitlines()
                           if json.loads(line)["split"] == "train"})
    pictures = torch.from_numpy(np.stack([load_picture(p, 64) for p in train_images]))[:, None]
    with torch.no_grad():
        _, density = model.network.encoder(pictures)
    counts = np.array([[truth[p][c] for c in categories] for p in train_images], dtype=float)
    learned = np.abs(density.sum((2, 3)).numpy() - counts).mean()
    mean_guess = np.abs(counts.mean(0) - counts).mean()
    assert mean_guess > 1  # the counts vary, so guessing their mean is a real baseline
    assert learned < 0.5 * mean_guess, (learned, mean_guess)
    # the saved model answers as the trained one
    batch = [(train_images[0], "Question: How many ships are there in the image?. Answer the question concisely.")]
    assert load_model(str(tmp_path / "o")).answer(batch) == model.answer(batch)


@pytest.mark.slow
def test_object_settings_are_checked(bench: Path, tmp_path: Path) -> None:
    with_objects = train_from_config(tiny(bench, tmp_path / "with"))
    without = train_from_config(tiny(bench, tmp_path / "without", objects="none"))
    assert without.config.categories == [] and without.info()["parameters"] < with_objects.info()["parameters"]
    with pytest.raises(InputError, match="do not exist"):
        train_from_config(tiny(bench, tmp_path / "x", objects="nowhere/objects.jsonl"))
    (tmp_path / "bad.jsonl").write_text('{"image": "images/sim000003_g2.png", "width": 64}\n')
    with pytest.raises(InputError, match="malformed row"):
        train_from_config(tiny(bench, tmp_path / "x", objects=str(tmp_path / "bad.jsonl")))
    # a box of NaN (json allows it through Python's parser) would turn into no cell, or a crash, later
    (tmp_path / "nan.jsonl").write_text('{"image": "images/sim000003_g2.png", "width": 64, "height": 64, '
                                        '"objects": [{"category": "ship", "box": [NaN, 1, 2, 2]}]}\n')
    with pytest.raises(InputError, match="malformed row.*positive finite"):
        train_from_config(tiny(bench, tmp_path / "x", objects=str(tmp_path / "nan.jsonl")))
    with pytest.raises(InputError, match="no object labels"):
        train_from_config(tiny(bench, tmp_path / "x", objects="none", categories=["ship"]))
    with pytest.raises(InputError, match="grid_stride"):
        train_from_config(tiny(bench, tmp_path / "x", grid_stride=4))


def test_api_model_against_a_local_server(bench: Path, tmp_path: Path) -> None:
    from ..corpus.test_llm import CaptionServer
    from sarlang.models.api import ApiModel

    server = CaptionServer()
    try:
        model = ApiModel(server.url, "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01)
        out = tmp_path / "api.jsonl"
        result = predict_records(model, bench / "records.jsonl", out, split="test", batch_size=16)
        asked = len(server.bodies)
        predict_records(model, bench / "records.jsonl", tmp_path / "again.jsonl", split="test")  # all cached
        model.close()
    finally:
        server.close()
    assert asked == result["predicted"] == len(server.bodies)
    content = server.bodies[0]["messages"][0]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,") and content[1]["type"] == "text"
    assert all(json.loads(x)["model"].startswith("api:vlm@") for x in out.read_text().splitlines())


def test_shipped_configs_are_valid() -> None:
    from sarlang.models.baseline import BaselineConfig
    from sarlang.models.hf import LoraSettings
    from sarlang.models.run import TRAIN_KEYS, read_config

    from ..conftest import ROOT

    lora = read_config(ROOT / "configs" / "lora.yaml")
    assert lora["model"] == "lora" and LoraSettings.from_dict({k: v for k, v in lora.items() if k not in TRAIN_KEYS}).rank == 8
    baseline = read_config(ROOT / "configs" / "baseline.yaml")
    assert BaselineConfig.from_dict({k: v for k, v in baseline.items() if k not in TRAIN_KEYS}).epochs == 8
    accelerate = (ROOT / "configs" / "accelerate" / "multi_gpu.yaml").read_text()
    assert "distributed_type: MULTI_GPU" in accelerate and "mixed_precision: bf16" in accelerate


def test_api_failures_are_reported_and_retried_not_scored(bench: Path, tmp_path: Path) -> None:
    import socket

    from sarlang.models.api import ApiModel

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = ApiModel(f"http://127.0.0.1:{port}/v1", "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01, retries=1, timeout=2.0)
    out = tmp_path / "api.jsonl"
    result = predict_records(model, bench / "records.jsonl", out, split="test", batch_size=16)
    model.close()
    assert result["predicted"] == 0 and result["failed"] > 0 and "connection failed" in result["failures"][0]
    assert out.read_text() == "" and (tmp_path / "generated_predictions.jsonl").read_text() == ""


@pytest.mark.slow
def test_predict_refuses_to_resume_with_another_model_or_split(bench: Path, tmp_path: Path) -> None:
    one = train_from_config(tiny(bench, tmp_path / "one"))
    two = train_from_config(tiny(bench, tmp_path / "two", width=16))
    out = tmp_path / "pred" / "predictions.jsonl"
    predict_records(one, bench / "records.jsonl", out, split="test", batch_size=8, model_source=str(tmp_path / "one"))
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n")  # interrupted
    with pytest.raises(InputError, match="another model, other records or another split"):
        predict_records(two, bench / "records.jsonl", out, split="test", batch_size=8, model_source=str(tmp_path / "two"))
    with pytest.raises(InputError, match="another model"):
        predict_records(one, bench / "records.jsonl", out, split="train", batch_size=8, model_source=str(tmp_path / "one"))
    result = predict_records(two, bench / "records.jsonl", out, split="test", batch_size=8, model_source=str(tmp_path / "two"), restart=True)
    assert result["already_done"] == 0 and len(out.read_text().splitlines()) == len(lines)
    assert {json.loads(x)["settings"]["width"] for x in out.read_text().splitlines()} == {16}
    # the same model and split resume
    out.write_text("\n".join(out.read_text().splitlines()[:2]) + "\n")
    again = predict_records(two, bench / "records.jsonl", out, split="test", batch_size=8, model_source=str(tmp_path / "two"))
    assert again["already_done"] == 2


@pytest.mark.parametrize(
    ("setting", "message"),
    [({"epochs": 0}, "'epochs' must be at least 1"), ({"learning_rate": float("nan")}, "'learning_rate' must be above 0"),
     ({"learning_rate": -0.001}, "'learning_rate' must be above 0"), ({"batch_size": 0}, "'batch_size' must be at least 1"),
     ({"weight_decay": float("inf")}, "'weight_decay' must be at least 0")],
)
def test_impossible_training_settings_are_clear_errors(bench: Path, tmp_path: Path, setting: dict, message: str) -> None:
    from sarlang.models.hf import LoraSettings

    with pytest.raises(InputError, match=re.escape(message)):
        train_from_config(tiny(bench, tmp_path / "x", **setting))
    lora = {k: v for k, v in setting.items() if k != "weight_decay"}
    if lora:
        with pytest.raises(InputError, match=re.escape(message.replace("model", "LoRA"))):
            LoraSettings.from_dict(lora)
    (tmp_path / "train.json").write_text(json.dumps(tiny(bench, tmp_path / "x", **setting)))
    result = run_cli("train", "--config", str(tmp_path / "train.json"))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_model_backend_is_one_module_of_the_package() -> None:
    """Backends are found by the registry: each module of sarlang.models with claims() and load()."""
    from sarlang.models.base import MODELS

    backends = dict(MODELS.each())
    assert set(backends) == {"api", "baseline", "blobs", "clip", "hf", "logratio", "openclip", "prior", "route"}
    assert backends["api"]("api:gpt-4o@http://localhost:1/v1") and not backends["baseline"]("api:x@y")


@pytest.mark.slow
def test_the_pretrained_encoder_fine_tunes_above_its_frozen_blocks(bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed")
    from sarlang.models.baseline import BaselineModel
    from sarlang.models.towers import ImageTower

    model = train_from_config(tiny(bench, tmp_path / "v3", encoder="efficientnet-lite0", frozen_blocks=2, epochs=1, glimpse_size=32))
    assert model.info()["encoder"] == "efficientnet-lite0" and model.info()["architecture"] == "sarlang-baseline-v3"
    # glimpses: their side is the median longer side of the training boxes, in original pixels
    from sarlang.models.baseline.training import object_labels

    records = bench / "records.jsonl"
    labels = object_labels("auto", records, bench, {str(p.resolve()) for p in (bench / "images").glob("*.png")})
    from PIL import Image

    sides = [max(o[3] * Image.open(path).width, o[4] * Image.open(path).height) for path, found in labels.items() for o in found]
    assert model.config.glimpse_pixels == pytest.approx(float(np.median(sides)))
    assert not torch.equal(model.network.encoder.glimpse_head[1].weight, BaselineModel(model.config, model.vocab).network.encoder.glimpse_head[1].weight)
    imagenet = ImageTower("stride32").state_dict()  # glimpses read the whole tower; the grid stops at stride 16
    tuned = {k.removeprefix("encoder.tower."): v for k, v in model.network.state_dict().items() if k.startswith("encoder.tower.")}
    assert tuned.keys() == imagenet.keys()
    # the stem and block 0 kept their ImageNet weights, as did every batch-norm statistic; later blocks learned
    assert all(torch.equal(tuned[k], imagenet[k]) for k in imagenet if k.startswith(("stem.", "blocks.0.")) or "running_" in k)
    assert not torch.equal(tuned["blocks.10._project_conv.weight"], imagenet["blocks.10._project_conv.weight"])
    again = BaselineModel.load(tmp_path / "v3")
    questions = [(str(p), "How many cars are in the image?") for p in sorted((bench / "images").glob("*.png"))[:3]]
    assert again.answer(questions) == model.answer(questions)


def test_auto_falls_back_to_the_scratch_encoder_without_the_towers(bench: Path, tmp_path: Path) -> None:
    config = tiny(bench, tmp_path / "auto", encoder="auto", epochs=1)
    code = ("import sys; sys.modules['efficientnet_lite_pytorch'] = None\n"
            "from sarlang.models.run import train_from_config\n"
            f"print('ENCODER', train_from_config({config!r}).info()['encoder'])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ENCODER scratch" in result.stdout and "sarlang[towers]" in result.stderr


def test_found_objects_and_their_glimpses() -> None:
    from sarlang.models.baseline.config import BaselineConfig, glimpse
    from sarlang.models.baseline.network import find_objects, glimpse_shares

    counts = torch.zeros(2, 8, 8)
    counts[0, 1, 1], counts[0, 1, 2] = 0.6, 0.3  # one object spread over two cells
    counts[0, 6, 5] = 1.0  # another, fuller
    counts[0, 4, 7] = 0.2  # too little to be one
    found = find_objects(counts)
    # the fullest first, each at its neighbourhood's count-weighted centroid (fractions of the side)
    assert found[1] == [] and len(found[0]) == 2
    assert found[0][0] == pytest.approx((5.5 / 8, 6.5 / 8))
    assert found[0][1] == pytest.approx(((1.5 * 0.6 + 2.5 * 0.3) / 0.9 / 8, 1.5 / 8))
    assert len(find_objects(counts, limit=1)[0]) == 1
    share = torch.full((2, 3, 8, 8), 1 / 3)
    probabilities = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    shared = glimpse_shares(share, [[(1.5 / 8, 1.5 / 8), (6.5 / 8, 6.5 / 8)], []], probabilities)
    # cells within 1.5 cells of a glimpse take its categories; the rest, and the image without glimpses, keep theirs
    assert torch.equal(shared[0, :, 0, 0], probabilities[0]) and torch.equal(shared[0, :, 2, 2], probabilities[0])
    assert torch.equal(shared[0, :, 7, 7], probabilities[1]) and torch.equal(shared[0, :, 5, 5], probabilities[1])
    assert torch.equal(shared[0, :, 0, 4], share[0, :, 0, 4]) and torch.equal(shared[1], share[1])
    grey = np.arange(100 * 60, dtype=np.uint8).reshape(60, 100)
    crop = glimpse(grey, 0.5, 0.5, 20, 20)
    assert crop.shape == (20, 20) and np.allclose(crop * 255, grey[20:40, 40:60])
    # past the edge is black; turned and mirrored as asked
    assert glimpse(grey, 0.0, 0.0, 20, 20)[:10].max() == 0
    assert np.array_equal(glimpse(grey, 0.5, 0.5, 20, 20, turns=1, flip=True), np.ascontiguousarray(np.rot90(crop, 1)[:, ::-1]))
    with pytest.raises(InputError, match="glimpses need the pretrained encoder"):
        BaselineConfig.from_dict({"encoder": "scratch", "glimpse_size": 64})
    assert BaselineConfig.from_dict({"encoder": "scratch"}).resolved().glimpse_size == 0
    tower = BaselineConfig.from_dict({"encoder": "efficientnet-lite0"})
    # glimpses when a tenth or more of the pictures are shrunk at least twofold (MSTAR: scenes among chips)
    assert tower.resolved().glimpse_size == 128 and tower.resolved([594.0] * 3 + [128.0] * 10).glimpse_size == 128
    assert tower.resolved([128.0] * 10 + [600.0]).glimpse_size == 0 and tower.resolved([200.0] * 10).glimpse_size == 0
    # a model saved before glimpses loads without them
    assert BaselineConfig.from_dict({"architecture": "sarlang-baseline-v3", "encoder": "efficientnet-lite0"}).glimpse_size == 0


@pytest.mark.slow
def test_a_locked_grid_trunk_is_computed_once(bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """frozen_blocks 12 freezes every block under the grid: each picture's trunk features are
    computed once (the labelled ones in their eight views), and the layers above still learn."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed")
    from sarlang.models.baseline import BaselineModel
    from sarlang.models.baseline.network import PretrainedEncoder

    seen = []
    trunk = PretrainedEncoder.trunk
    monkeypatch.setattr(PretrainedEncoder, "trunk", lambda self, images: seen.append(len(images)) or trunk(self, images))
    model = train_from_config(tiny(bench, tmp_path / "locked", encoder="efficientnet-lite0", frozen_blocks=12, glimpse_size=0))
    pictures = len({r["image"] for r in map(json.loads, (bench / "records.jsonl").read_text().splitlines()) if r["split"] == "train"})
    assert sum(seen) == 8 * pictures  # all labelled: eight views each, in batches, once for both epochs
    start = BaselineModel(model.config, model.vocab).network.state_dict()
    trained = model.network.state_dict()
    assert all(torch.equal(trained[k], start[k]) for k in start if k.startswith("encoder.tower."))
    assert not torch.equal(trained["encoder.project.0.weight"], start["encoder.project.0.weight"])
    questions = [(str(p), "How many cars are in the image?") for p in sorted((bench / "images").glob("*.png"))[:2]]
    assert BaselineModel.load(tmp_path / "locked").answer(questions) == model.answer(questions)
    # features that would not fit in memory are computed at every step instead, and it says so
    from sarlang.models.baseline import training

    monkeypatch.setattr(training, "TRUNK_CACHE_BYTES", 0)
    seen.clear()
    with caplog.at_level("WARNING", logger="sarlang"):
        train_from_config(tiny(bench, tmp_path / "uncached", encoder="efficientnet-lite0", frozen_blocks=12, glimpse_size=0))
    assert "would not fit" in caplog.text and len(seen) > 2


def test_category_tokens_keep_the_words_that_tell_categories_apart() -> None:
    from sarlang.models.baseline.network import category_names
    from sarlang.models.baseline.text import Vocabulary

    vocab = Vocabulary.build(["class 3 target class 3 targets class 7 target class 7 targets", "ship ships car cars"], 1)
    three, seven = vocab.encode("3") + vocab.encode("3"), vocab.encode("7") + vocab.encode("7")
    assert category_names(["class 3 target", "class 7 target"], vocab, distinct=True) == [three, seven]
    assert category_names(["class 3 target", "class 7 target"], vocab) == [vocab.encode("class 3 target class 3 targets"),
                                                                           vocab.encode("class 7 target class 7 targets")]
    # names with nothing in common, or a single category, keep every word
    assert category_names(["ship", "car"], vocab, distinct=True) == [vocab.encode("ship ships"), vocab.encode("car cars")]
    assert category_names(["class 3 target"], vocab, distinct=True) == [vocab.encode("class 3 target class 3 targets")]


def test_the_categories_a_question_names_are_marked() -> None:
    from sarlang.models.baseline import BaselineConfig
    from sarlang.models.baseline.network import BaselineNetwork, decode, mentions
    from sarlang.models.baseline.text import Vocabulary

    vocab = Vocabulary.build(["is there a class 3 target ? class 3 targets class 7 target class 7 targets how many 3.0 [ ]"], 1)
    config = BaselineConfig.from_dict({"categories": ["class 3 target", "class 7 target"], "encoder": "scratch", "image_size": 32,
                                       "width": 32, "heads": 2, "layers": 1}).resolved()
    net = BaselineNetwork(config, vocab)
    prompts = [vocab.encode("is there a class 3 target ?"), vocab.encode("how many targets ? [ 3.0 ]")]
    marked = mentions(net, prompts)
    assert marked.tolist() == [[1.0, 0.0], [0.0, 0.0]]  # "3.0" is a coordinate, not class 3
    memory = torch.zeros(2, 5, 32)
    tokens = torch.tensor([prompts[0][:3], prompts[1][:3]])
    with torch.no_grad():
        net.eval()
        plain, pointed = decode(net, memory, tokens), decode(net, memory, tokens, marked)
    assert not torch.allclose(plain[0], pointed[0]) and torch.allclose(plain[1], pointed[1])
    # the category token with the most estimated objects is marked; with less than a tenth of an object, none
    density = torch.zeros(2, 2, 2, 2)
    density[0, 1, 0, 0], density[0, 0, 1, 1], density[1, 0, 0, 0] = 1.5, 0.6, 0.05
    with torch.no_grad():
        slots = net.memory(torch.zeros(2, 4, 32), density)[:, -2:]
        mark = net.most.clone()
        net.most.zero_()
        unmarked = net.memory(torch.zeros(2, 4, 32), density)[:, -2:]
    assert torch.allclose(slots[0, 1] - unmarked[0, 1], mark, atol=1e-5) and torch.allclose(slots[0, 0], unmarked[0, 0]) and torch.allclose(slots[1], unmarked[1])
    # a model saved before marks nothing
    old = BaselineConfig.from_dict({k: v for k, v in config.__dict__.items() if k not in ("mark_mentions", "mark_most", "distinct_names", "glimpse_size")})
    old_net = BaselineNetwork(old, vocab)
    assert mentions(old_net, prompts) is None and not hasattr(old_net, "most")


def test_the_decoder_can_write_a_category_name_by_pointing_at_its_token() -> None:
    """copy_names: the next word mixes the vocabulary with pointing at a category token, whose
    distinct singular words get the pointer's probability (a pointer-generator)."""
    from sarlang.models.baseline import BaselineConfig
    from sarlang.models.baseline.network import BaselineNetwork, decode
    from sarlang.models.baseline.text import Vocabulary

    vocab = Vocabulary.build(["what is the predominant category ? class 3 target class 3 targets class 7 target class 7 targets"], 1)
    config = BaselineConfig.from_dict({"categories": ["class 3 target", "class 7 target"], "encoder": "scratch", "image_size": 32,
                                       "width": 32, "heads": 2, "layers": 1}).resolved()
    net = BaselineNetwork(config, vocab).eval()
    three, seven = vocab.encode("3")[0], vocab.encode("7")[0]
    assert net.copy_to[0, three] == 1.0 and net.copy_to[1, seven] == 1.0 and net.copy_to.sum().item() == 2.0
    tokens = torch.tensor([vocab.encode("what is the predominant category ?")])
    memory = torch.zeros(1, 6, 32)
    direction = torch.randn(32)
    memory[0, -2], memory[0, -1] = -direction, direction  # the second category's token is where the pointer looks
    with torch.no_grad():
        net.copy_query.weight.zero_()
        net.copy_query.bias.copy_(direction * 10)
        mixed = decode(net, memory, tokens)
        assert torch.allclose(mixed.exp().sum(-1), torch.ones(1, tokens.shape[1]), atol=1e-4)  # log-probabilities
        net.copy_gate.weight.zero_()
        net.copy_gate.bias.fill_(30.0)  # all weight on pointing
        pointed = decode(net, memory, tokens)
    assert pointed[0, -1].argmax().item() == seven and pointed[0, -1, seven].exp().item() > 0.99
    # a model saved before copied names writes from the vocabulary alone, and classifies glimpses upright only
    old = BaselineConfig.from_dict({k: v for k, v in config.__dict__.items() if k not in ("copy_names", "glimpse_views")})
    assert old.glimpse_views == 1 and not hasattr(BaselineNetwork(old, vocab), "copy_gate")
    with pytest.raises(InputError, match="glimpse_views must be 1, 2, 4 or 8"):
        BaselineConfig.from_dict({"glimpse_views": 3})


@pytest.mark.slow
def test_glimpses_are_classified_in_their_dihedral_views() -> None:
    """glimpse_views 8: the class probabilities of a glimpse are the mean over its eight turned and
    mirrored views, so they do not change when the glimpse is turned or mirrored."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed")
    from sarlang.models.baseline import BaselineConfig
    from sarlang.models.baseline.network import BaselineNetwork
    from sarlang.models.baseline.text import Vocabulary

    vocab = Vocabulary.build(["a b"], 1)
    config = BaselineConfig.from_dict({"categories": ["a", "b", "c"], "encoder": "efficientnet-lite0", "image_size": 32,
                                       "glimpse_size": 32, "width": 32, "heads": 2, "layers": 1}).resolved()
    net = BaselineNetwork(config, vocab).eval()  # ImageNet weights: an untrained tower's features are all about zero
    torch.manual_seed(0)
    crops = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        net.encoder.glimpse_head[1].weight.mul_(30.0)  # an untrained head says about a third each whatever it sees
        upright = net.glimpse_probabilities(crops, 1)
        every = net.glimpse_probabilities(crops, 8)
        turned = net.glimpse_probabilities(crops.rot90(1, (-2, -1)).flip(-1), 8)
        single = torch.softmax(net.encoder.glimpse_logits(crops.rot90(3, (-2, -1))), 1)
    assert torch.allclose(upright, torch.softmax(net.encoder.glimpse_logits(crops), 1), atol=1e-6)
    assert torch.allclose(every, turned, atol=1e-5) and not torch.allclose(every, upright, atol=1e-4)
    assert torch.allclose(every.sum(1), torch.ones(2), atol=1e-5) and not torch.allclose(every, single, atol=1e-4)
