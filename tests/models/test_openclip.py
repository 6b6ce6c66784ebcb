"""The OpenCLIP adapter: a tiny OpenCLIP model built from a config, saved and loaded offline,
embeds and classifies like OpenCLIP itself; bad specs and checkpoints are clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sarlang.errors import InputError, MissingDependencyError
from sarlang.models.base import load_model

from ..conftest import run_cli

TINY = {"embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def _open_clip():
    """open_clip, or a skip naming why it cannot be used here."""
    from sarlang.models.openclip import _open_clip

    try:
        return _open_clip()
    except MissingDependencyError as exc:
        pytest.skip(f"OpenCLIP cannot be imported here: {exc}")


def _tiny_checkpoint(folder: Path, config: dict, name: str) -> tuple[Path, Path]:
    """A model-config JSON and the state dict of a model built from it, randomly initialised."""
    import torch

    open_clip = _open_clip()
    spec = folder / f"{name}.json"
    spec.write_text(json.dumps(config))
    open_clip.factory._MODEL_CONFIGS[f"test-{name}"] = config
    torch.manual_seed(len(name))
    model = open_clip.create_model(f"test-{name}", device="cpu")
    weights = folder / f"{name}.pt"
    torch.save(model.state_dict(), weights)
    return spec, weights


def test_specs_and_files_are_checked_before_anything_loads(tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"x")
    (tmp_path / "w.txt").write_bytes(b"x")
    for spec, message in ((f"openclip:ViT-B-32@{tmp_path / 'none.pt'}", "does not exist"),
                          (f"openclip:ViT-B-32@{tmp_path / 'w.txt'}", "not a checkpoint OpenCLIP reads"),
                          (f"openclip:@{tmp_path / 'w.pt'}", "is not openclip:ARCH@CHECKPOINT"),
                          (f"openclip:{tmp_path / 'none.json'}@{tmp_path / 'w.pt'}", "model config .* does not exist"),
                          (f"openclip:{tmp_path}", "has no open_clip_config.json"),
                          ("openclip:", "names no OpenCLIP model")):
        with pytest.raises(InputError, match=message):
            load_model(spec)


def test_a_missing_or_broken_open_clip_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    (tmp_path / "w.pt").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "open_clip", None)  # import open_clip now raises ImportError
    with pytest.raises(MissingDependencyError, match="OpenCLIP") as caught:
        load_model(f"openclip:ViT-B-32@{tmp_path / 'w.pt'}")
    assert "sarlang[openclip]" in caught.value.hint
    for name in ("ship", "car"):
        (tmp_path / "images" / name).mkdir(parents=True)
        Image.new("L", (8, 8)).save(tmp_path / "images" / name / "1.png")
    result = run_cli("eval", "zeroshot", "--model", f"openclip:{tmp_path / 'none.json'}@{tmp_path / 'w.pt'}", "--images", str(tmp_path / "images"))
    assert result.returncode != 0 and "model config" in result.stderr and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_a_tiny_openclip_model_loads_embeds_and_classifies(tmp_path: Path) -> None:
    import torch

    open_clip = _open_clip()
    spec, weights = _tiny_checkpoint(tmp_path, TINY, "tiny")
    model = load_model(f"openclip:{spec}@{weights}")
    assert model.info()["parameters"] > 1000
    # the same vectors as OpenCLIP's own model with those weights (a randomly initialised one differs)
    reference, _, preprocess = open_clip.create_model_and_transforms("test-tiny", device="cpu")
    reference.load_state_dict(torch.load(weights, weights_only=True))
    reference.eval()
    texts = ["a SAR image of a ship.", "a SAR image of a car."]
    with torch.no_grad():
        expected = reference.encode_text(open_clip.get_tokenizer("test-tiny")(texts), normalize=True).numpy()
    assert np.allclose(model.embed_texts(texts), expected, atol=1e-5)
    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for name in ("ship", "car"):
        (images / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(images / name / f"{i}.png")
    paths = sorted(str(p) for p in images.rglob("*.png"))
    with torch.no_grad():
        pixels = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths])
        expected = reference.encode_image(pixels, normalize=True).numpy()
    assert np.allclose(model.embed_images(paths, batch_size=3), expected, atol=1e-5)
    with pytest.raises(InputError, match="does not answer"):
        model.answer([(paths[0], "What is it?")])
    # saved in OpenCLIP's folder layout, it loads again as openclip:DIR with the same vectors
    model.save(tmp_path / "saved")
    again = load_model(f"openclip:{tmp_path / 'saved'}")
    assert np.allclose(again.embed_images(paths), expected, atol=1e-5)
    result = run_cli("eval", "zeroshot", "--model", f"openclip:{spec}@{weights}", "--images", str(images), "--json", str(tmp_path / "z.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "z.json").read_text())
    assert scores["n"] == 4 and 0 <= scores["top1"] <= 1 and len(scores["confusion"]) == 2


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path: Path) -> None:
    wider = {**TINY, "vision_cfg": {**TINY["vision_cfg"], "width": 48}}
    spec, _ = _tiny_checkpoint(tmp_path, TINY, "tiny")
    _, other = _tiny_checkpoint(tmp_path, wider, "wider")
    with pytest.raises(InputError, match="does not fit OpenCLIP"):
        load_model(f"openclip:{spec}@{other}")
    with pytest.raises(InputError, match="not an OpenCLIP architecture"):
        load_model(f"openclip:NoSuchNet@{other}")
