"""SAR-CLIP: trained a few steps from the pretrained towers, saved, loaded, and scored by the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed (pip install 'sarlang[towers]')")
pytest.importorskip("sentence_transformers", reason="the embedding extra is not installed")

from sarlang.errors import InputError  # noqa: E402
from sarlang.models.base import load_model  # noqa: E402
from sarlang.models.run import train_from_config  # noqa: E402

from ..conftest import run_cli  # noqa: E402

# training SAR-CLIP from the pretrained towers takes about half a minute
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip_model(sim_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clip")
    train_from_config({"model": "clip", "records": str(sim_bench / "records.jsonl"), "out": str(out), "epochs": 2,
                       "batch_size": 4, "image_size": 32, "embed_dim": 16})
    return out


def test_clip_trains_saves_and_loads(clip_model: Path, sim_bench: Path) -> None:
    from sarlang.models.clip import ClipConfig, ClipModel

    model = load_model(str(clip_model))
    assert isinstance(model, ClipModel) and model.info()["id"] == "sarlang-clip-v1"
    fresh = ClipModel(ClipConfig(image_size=32, embed_dim=16))
    # the bridges and the unfrozen tower learned; the temperature moved from its start
    trained, start = model.network.state_dict(), fresh.network.state_dict()
    assert not torch.equal(trained["image_proj.weight"], start["image_proj.weight"])
    assert not torch.equal(trained["tower.blocks.15._project_conv.weight"], start["tower.blocks.15._project_conv.weight"])
    assert torch.equal(trained["tower.stem.0.weight"], start["tower.stem.0.weight"])
    assert model.info()["learned_temperature"] != pytest.approx(0.07)
    images = [str(p) for p in sorted((sim_bench / "images").glob("*.png"))[:3]]
    vectors = model.embed_images(images)
    assert vectors.shape == (3, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    with pytest.raises(InputError, match="does not answer questions"):
        model.answer([(images[0], "How many ships are there?")])


def test_retrieval_and_zeroshot_commands(clip_model: Path, sim_bench: Path, tmp_path: Path) -> None:
    result = run_cli("eval", "retrieval", "--model", str(clip_model), "--records", str(sim_bench), "--split", "all",
                     "--json", str(tmp_path / "r.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "r.json").read_text())
    assert set(scores["i2t"]) == {"R@1", "R@5", "R@10"} and 0 <= scores["mR"] <= 1 and scores["images"] == 6
    for name in ("ship", "car"):
        for i in range(3):
            path = tmp_path / "chips" / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((np.random.default_rng(i).random((32, 32)) * 255).astype(np.uint8)).save(path)
    result = run_cli("eval", "zeroshot", "--model", str(clip_model), "--images", str(tmp_path / "chips"), "--json", str(tmp_path / "z.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "z.json").read_text())
    assert {"top1", "top5", "mean_per_class", "n", "confusion"} <= set(scores) and scores["n"] == 6
    assert sum(map(sum, scores["confusion"])) == 6 and scores["classes"] == ["car", "ship"]
    (tmp_path / "names.txt").write_text("car=a car\nplane=a plane\n")
    bad = run_cli("eval", "zeroshot", "--model", str(clip_model), "--images", str(tmp_path / "chips"), "--classes", str(tmp_path / "names.txt"))
    assert bad.returncode == 2 and "does not match the class folders" in bad.stderr and "Traceback" not in bad.stderr
    not_clip = run_cli("eval", "zeroshot", "--model", f"prior:{sim_bench}", "--images", str(tmp_path / "chips"))
    assert not_clip.returncode == 2 and "does not embed images and texts" in not_clip.stderr


def test_a_checkpoint_of_another_architecture_is_a_clear_error(clip_model: Path, tmp_path: Path) -> None:
    import shutil

    from sarlang.models.baseline import BaselineModel
    from sarlang.models.clip import ClipModel

    with pytest.raises(InputError, match="is not a saved baseline model"):
        BaselineModel.load(clip_model)
    other = tmp_path / "other"
    shutil.copytree(clip_model, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "embed_dim": 8}))
    with pytest.raises(InputError, match="do not fit SAR-CLIP"):
        ClipModel.load(other)
    (other / "config.json").write_text(json.dumps({**config, "architecture": "sarlang-baseline-v3"}))
    with pytest.raises(InputError, match="not a sarlang-clip-v1 checkpoint"):
        ClipModel.load(other)


def test_broken_zeroshot_inputs_are_clear_errors(clip_model: Path, sim_bench: Path, tmp_path: Path) -> None:
    import shutil

    build = tmp_path / "build"
    shutil.copytree(sim_bench, build)
    with (build / "objects.jsonl").open("a") as handle:
        handle.write('{"image": "images/cut')  # a line cut by a kill
    cut = run_cli("eval", "zeroshot", "--model", str(clip_model), "--images", str(build), "--split", "all")
    assert cut.returncode == 2 and "objects.jsonl' line" in cut.stderr and "Traceback" not in cut.stderr
    ignored = run_cli("eval", "zeroshot", "--model", str(clip_model), "--images", str(sim_bench), "--classes", str(tmp_path / "n.txt"))
    assert ignored.returncode == 2 and "a build names its classes itself" in ignored.stderr
    for i in range(2):
        path = tmp_path / "chips" / "ship" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(path)
    missing = run_cli("eval", "zeroshot", "--model", str(clip_model), "--images", str(tmp_path / "chips"), "--classes", str(tmp_path / "none.txt"))
    assert missing.returncode == 2 and "classes file" in missing.stderr and "Traceback" not in missing.stderr


def test_a_locked_trunk_trains_only_the_head_and_bridges(sim_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """frozen_blocks 17 locks the whole trunk: its features are computed once, the head and the bridges learn."""
    from sarlang.models.clip import FROZEN_ALL, ClipConfig, ClipModel
    from sarlang.models.towers import ImageTower

    seen = []
    trunk = ImageTower.trunk
    monkeypatch.setattr(ImageTower, "trunk", lambda self, grey: seen.append(len(grey)) or trunk(self, grey))
    model = train_from_config({"model": "clip", "records": str(sim_bench / "records.jsonl"), "out": str(tmp_path / "locked"), "epochs": 2,
                               "batch_size": 4, "image_size": 32, "embed_dim": 16, "frozen_blocks": FROZEN_ALL})
    # the training pictures (fewer than 64: one batch) went through the trunk twice in all, upright
    # and mirrored, not once per step
    assert len(seen) == 2 and seen[0] == seen[1] >= 2
    start = ClipModel(ClipConfig(image_size=32, embed_dim=16)).network.state_dict()
    trained = model.network.state_dict()
    assert all(torch.equal(trained[k], start[k]) for k in start if k.startswith(("tower.stem.", "tower.blocks.")))
    assert not torch.equal(trained["tower.head.0.weight"], start["tower.head.0.weight"])
    assert not torch.equal(trained["image_proj.weight"], start["image_proj.weight"])
    # what it learned is what it embeds with, through the whole tower
    images = [str(p) for p in sorted((sim_bench / "images").glob("*.png"))[:3]]
    assert np.allclose(load_model(str(tmp_path / "locked")).embed_images(images), model.embed_images(images), atol=1e-6)
    with torch.no_grad():
        from sarlang.models.baseline.config import load_picture

        grey = torch.from_numpy(np.stack([load_picture(p, 32) for p in images]))[:, None]
        assert np.allclose(model.network.from_trunk(model.network.tower.trunk(grey)).numpy(), model.embed_images(images), atol=1e-6)
