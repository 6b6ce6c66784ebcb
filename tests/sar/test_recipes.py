"""Preprocessing recipes and the `sarlang preprocess` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarlang.errors import InputError, SarlangError
from sarlang.sar.io import write_png
from sarlang.sar.recipes import BUILTIN_RECIPES, Recipe, apply_recipe, load_recipe
from sarlang.sar.simulate import SimulationConfig, simulate_scene
from sarlang.schema import SarImage

from ..conftest import SHARED_DATA, run_cli


def test_sarlang_recipe_on_a_simulated_scene() -> None:
    scene = simulate_scene(3, SimulationConfig(height=128, width=128))
    pixels, resolved = apply_recipe(scene.pixels, BUILTIN_RECIPES["sarlang"])
    assert pixels.shape == (128, 128, 3) and pixels.dtype == np.uint8
    assert (pixels[:, :, 0] == pixels[:, :, 2]).all()
    assert resolved["looks_estimated"] > 0 and resolved["stretch_units"] == "db"
    low, high = resolved["stretch_limits"]
    assert low < high
    # about 1% of pixels at each end of the stretch
    assert 0.003 < (pixels[:, :, 0] == 0).mean() < 0.03 and 0.003 < (pixels[:, :, 0] == 255).mean() < 0.03


def test_other_recipes() -> None:
    image = SarImage(np.random.default_rng(0).gamma(1, 0.01, (64, 64)).astype(np.float32), "intensity")
    pixels, resolved = apply_recipe(image, BUILTIN_RECIPES["sarclip"])
    assert resolved["stretch_limits"] == [-25.0, 0.0]
    grey = np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8)
    passed, _ = apply_recipe(SarImage(grey, "display8"), BUILTIN_RECIPES["none"])
    np.testing.assert_array_equal(passed, grey)
    stretched, _ = apply_recipe(image, BUILTIN_RECIPES["percentile"])
    assert stretched.shape == (64, 64, 3)
    with pytest.raises(SarlangError, match="no finite pixel"):
        apply_recipe(SarImage(np.full((8, 8), np.nan, np.float32), "intensity"), BUILTIN_RECIPES["sarlang"])


def test_recipe_files(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("name: mine\nspeckle_filter: Lee\nfilter_params: {size: 5, looks: 4}\nscale: db\nstretch: window\nlow: -20\nhigh: 5\nchannels: 1\n")
    recipe = load_recipe(tmp_path / "r.yaml")
    assert recipe.speckle_filter == "Lee" and recipe.filter_params == {"size": 5, "looks": 4}
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    (tmp_path / "bad.yaml").write_text("name: bad\nfilter: Lee\n")
    with pytest.raises(SarlangError, match="unknown recipe field"):
        load_recipe(tmp_path / "bad.yaml")
    (tmp_path / "bad2.json").write_text('{"name": "x", "speckle_filter": "Wiener"}')
    with pytest.raises(SarlangError, match="unknown speckle filter"):
        load_recipe(tmp_path / "bad2.json")
    with pytest.raises(InputError, match="no built-in recipe"):
        load_recipe("fancy")


def test_preprocess_command_resumes_and_rejects(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    grey = np.random.default_rng(0).integers(1, 255, (40, 50), dtype=np.uint8)
    for i in range(3):
        write_png(inputs / f"tile{i}.png", grey)
    (inputs / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "out"
    first = run_cli("preprocess", str(inputs), str(tmp_path / "nothing*.tif"), "--out", str(out), "--recipe", "sarlang", "--json", str(tmp_path / "s.json"))
    assert first.returncode == 0, first.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["written"] == 3 and summary["rejected"] == 2
    reasons = [json.loads(x)["reason"] for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert any("cannot read image" in r for r in reasons) and any("matches no file" in r for r in reasons)
    sidecar = json.loads((out / "tile0.json").read_text())
    assert sidecar["recipe"]["name"] == "sarlang" and sidecar["recipe"]["speckle_filter"] == "Refined Lee"
    assert len(sidecar["input"]["sha256"]) == 64 and sidecar["input"]["units"] == "display8"
    assert sidecar["output"]["shape"] == [40, 50, 3]
    second = run_cli("preprocess", str(inputs / "tile0.png"), str(inputs / "tile1.png"), "--out", str(out), "--json", str(tmp_path / "s2.json"))
    assert json.loads((tmp_path / "s2.json").read_text())["up_to_date"] == 2
    third = run_cli("preprocess", str(inputs / "tile0.png"), "--out", str(out), "--recipe", "percentile", "--json", str(tmp_path / "s3.json"))
    assert json.loads((tmp_path / "s3.json").read_text())["written"] == 1  # another recipe: redone
    assert "Traceback" not in first.stderr + second.stderr + third.stderr


def test_preprocess_user_errors() -> None:
    result = run_cli("preprocess", "x.png", "--out", "/tmp/sarlang-test-out", "--recipe", "fancy")
    assert result.returncode == 2 and "no built-in recipe" in result.stderr and "Traceback" not in result.stderr
    helped = run_cli("preprocess", "--help")
    assert "Example" in helped.stdout


@pytest.mark.skipif(not (SHARED_DATA / "mstar_chips").exists(), reason="../shared/data/mstar_chips is absent (real MSTAR chips)")
def test_preprocess_real_mstar_chips(tmp_path: Path) -> None:
    from PIL import Image

    chips = sorted((SHARED_DATA / "mstar_chips" / "0").glob("*.jp*g"))[:4]
    result = run_cli("preprocess", *map(str, chips), "--out", str(tmp_path), "--workers", "2")
    assert result.returncode == 0, result.stderr
    for chip in chips:
        out = np.asarray(Image.open(tmp_path / f"{chip.stem}.png"))
        assert out.shape == (128, 128, 3) and out.std() > 20  # a stretched picture, not a flat one
