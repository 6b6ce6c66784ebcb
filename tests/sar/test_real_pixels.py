"""Every default of the pixel commands on real 8-bit SAR as distributed (HRSID, MSTAR, the Ottawa
pair, a mosaic of HRSID tiles with a zero border): zeros in the dark sea, saturation at 255, JPEG
blocks, grey stored as RGB, constant borders; and the looks estimator's fallbacks, on pixels
whose answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarlang.sar import filters as F
from tests.conftest import SHARED_DATA, hrsid_mosaic, real_8bit_rasters, run_cli

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent (real SAR samples)")
RECIPES = ("sarlang", "sarclip", "percentile", "none")


def _quantised(looks: int, mean_dn: float, shape: tuple[int, int] = (512, 512), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gamma speckle of ``looks`` looks over dark water and brighter textured land, as float
    intensity and as the intensity of its 8-bit amplitude picture (rounded, clipped at 255)."""
    rng = np.random.default_rng(seed)
    truth = np.ones(shape)
    truth[:, shape[1] // 2:] *= 3.0 * rng.gamma(3, 1 / 3, size=(shape[0], shape[1] - shape[1] // 2))
    intensity = truth * rng.gamma(looks, 1 / looks, size=shape)
    dn = np.clip(np.round(np.sqrt(intensity) * mean_dn), 0, 255)
    return intensity.astype(np.float32), (dn**2).astype(np.float32)


@pytest.mark.parametrize("looks", [1, 2, 4, 8])
def test_quantised_zeros_are_data_not_no_data(looks: int) -> None:
    """An 8-bit picture whose every block holds a zero (dark sea rounded down) is measured on
    those blocks, as close to the float image's estimate as documented (2%; 3.2% at 8 looks)."""
    intensity, quantised = _quantised(looks, 10.0)
    quantised[5::16, 9::16] = 0.0  # one dim pixel rounded down to 0 in every 16 x 16 block, as in HRSID's sea
    reference = F.estimate_looks(intensity)
    found = F.estimate_looks(quantised)
    assert reference.rule == "homogeneous blocks"
    assert found.rule == "homogeneous blocks, quantised zeros kept" and found.fell_back and found.blocks > 100
    assert found.looks == pytest.approx(reference.looks, rel=0.02 if looks <= 4 else 0.035) and found.looks == pytest.approx(looks, rel=0.1)
    # before this rule the same picture had no block to measure
    assert F.estimate_looks(np.where(quantised == 0, np.nan, quantised)).rule == "assumed 1 look"


def test_saturated_and_constant_blocks_are_not_homogeneous() -> None:
    _, quantised = _quantised(4, 60.0)
    quantised[:128, :128] = 255.0**2  # a saturated area: constant, so it would rank most homogeneous
    quantised[-64:, :] = 0.0  # a no-data border
    found = F.estimate_looks(quantised)
    assert np.isfinite(found.looks) and found.looks == pytest.approx(4, rel=0.15)
    for image, reason in ((np.zeros((64, 64), np.float32), "no block"), (np.full((64, 64), 7.0, np.float32), "no block"),
                          (np.ones((10, 12), np.float32), "smaller than one")):
        found = F.estimate_looks(image)
        assert found.looks == 1.0 and found.rule == "assumed 1 look" and reason in found.reason
        assert "assumed 1 look" in found.describe()


def test_float_scenes_keep_their_estimate() -> None:
    """The first rule is what it always was on float speckle (the fallbacks change nothing there)."""
    intensity, _ = _quantised(4, 10.0, seed=3)
    found = F.estimate_looks(intensity)
    assert found.rule == "homogeneous blocks" and found.looks == F.estimate_enl(intensity) == pytest.approx(4, rel=0.1)


@needs_shared
@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_preprocess_every_recipe_on_real_8bit_sar(recipe: str, tmp_path: Path) -> None:
    files = {**real_8bit_rasters(), "mosaic": hrsid_mosaic(tmp_path / "mosaic.tif")}
    result = run_cli("preprocess", *map(str, files.values()), "--recipe", recipe, "--out", str(tmp_path / "out"), "--json", str(tmp_path / "s.json"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["written"] + summary["rejected"] == len(files)
    assert recipe == "sarclip" or (summary["written"] == len(files) and summary["rejected"] == 0), summary
    from PIL import Image

    if recipe == "sarclip":  # a fixed window of calibrated dB: refused on uncalibrated 8-bit values, with the reason
        assert summary["written"] == 0 and summary["rejected"] == len(files), summary
        assert all("not calibrated" in r["reason"] for r in summary["rejects"])
        return
    for name, path in files.items():
        picture = np.asarray(Image.open(tmp_path / "out" / f"{path.stem}.png"))
        assert picture.std() > 5, (name, recipe)  # a picture, not a flat grey
        sidecar = json.loads((tmp_path / "out" / f"{path.stem}.json").read_text())
        if recipe == "sarlang":
            assert sidecar["resolved"]["looks_rule"] in F.LOOKS_RULES[:2] and 0.5 < sidecar["resolved"]["looks_estimated"] < 50
    if recipe == "sarlang" and any(rule != F.LOOKS_RULES[0] for rule in summary["looks_rules"]):
        assert "number of looks:" in result.stdout  # a fallback is said


@needs_shared
@pytest.mark.slow
def test_despeckle_defaults_on_real_8bit_sar(tmp_path: Path) -> None:
    from sarlang.sar.io import read_sar

    files = {**real_8bit_rasters(), "mosaic": hrsid_mosaic(tmp_path / "mosaic.tif")}
    for name, path in files.items():
        out = tmp_path / f"{name}.tif"
        result = run_cli("despeckle", str(path), str(out))
        assert result.returncode == 0 and "Traceback" not in result.stderr, (name, result.stderr)
        assert "looks estimated" in result.stdout
        filtered = read_sar(out).data
        assert np.isfinite(filtered).all() and filtered.std() > 0, name


@needs_shared
@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_scene_on_a_mosaic_of_real_hrsid_tiles(recipe: str, tmp_path: Path) -> None:
    """The README's ``sarlang scene`` on real 8-bit SAR with a zero border, each recipe."""
    mosaic = hrsid_mosaic(tmp_path / "mosaic.tif")
    result = run_cli("scene", str(mosaic), "--model", "blobs:", "--categories", "ship", "--recipe", recipe, "--out", str(tmp_path / "s.geojson"))
    if recipe == "sarclip":
        assert result.returncode == 2 and "not calibrated" in result.stderr and "Traceback" not in result.stderr, result.stderr
        return
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    collection = json.loads((tmp_path / "s.geojson").read_text())
    assert collection["properties"]["objects"] > 0 or recipe == "none"  # min..max per tile leaves the sea dark for blobs:
    assert all(isinstance(v, int) for f in collection["features"] if f["properties"]["kind"] == "tile" for v in f["properties"]["counts"].values())
    if recipe == "sarlang":
        measured = collection["properties"]["scene_statistics"]
        assert 0.5 < measured["looks"] < 50 and sum(measured["looks_rules"].values()) == measured["sample_windows"]
        assert "number of looks" in result.stdout
