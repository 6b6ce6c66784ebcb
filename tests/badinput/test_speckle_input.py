"""Speckle filtering of whole scenes: statistics from the whole raster, no dependence on --block, clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sarlang.sar import filters as F
from sarlang.sar.simulate import SimulationConfig, simulate_scene
from sarlang.schema import SarImage

from ..conftest import run_cli

rasterio = pytest.importorskip("rasterio")
warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)


@pytest.fixture(scope="module")
def scene_with_nodata_corner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sarlang.sar.io import write_geotiff

    img = simulate_scene(7, SimulationConfig(height=260, width=300)).pixels.data.copy()
    img[:90, :120] = np.nan  # a no-data corner, as at the edge of a real swath
    img[200:, 250:] *= 6.0  # the far corner is brighter: a first-block estimate would differ
    path = tmp_path_factory.mktemp("scene") / "in.tif"
    write_geotiff(path, SarImage(img, "intensity"))
    return path


@pytest.mark.parametrize("name", F.FILTERS)
def test_output_is_bit_identical_across_block_sizes(name: str, scene_with_nodata_corner: Path, tmp_path: Path) -> None:
    from sarlang.sar.blocks import filter_raster
    from sarlang.sar.io import read_sar

    outputs, used = [], []
    for block in (64, 100, 4096):
        used.append(filter_raster(scene_with_nodata_corner, tmp_path / f"{block}.tif", name, block=block))
        outputs.append(read_sar(tmp_path / f"{block}.tif").data)
    assert used[0] == used[1] == used[2]
    for other in outputs[1:]:
        np.testing.assert_array_equal(outputs[0], other, err_msg=name)
    assert np.isnan(outputs[0][:80, :110]).all() and np.isfinite(outputs[0][150:, 150:]).all()


def test_the_looks_come_from_windows_spread_over_the_whole_scene() -> None:
    from sarlang.sar.blocks import sample_windows

    windows = sample_windows(10_000, 8_000)
    assert len(windows) == 16
    assert {r for r, _, _, _ in windows} == {0, 3162, 6325, 9488} and max(c + w for _, c, _, w in windows) == 8_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "Lee", "--size", "4"], "is even"),
        (["--filter", "Boxcar", "--size", "401"], "larger than the 260x300 image"),
        (["--filter", "Frost", "--size", "0"], "positive whole number"),
    ],
)
def test_bad_windows_are_clear_errors(args: list[str], message: str, scene_with_nodata_corner: Path, tmp_path: Path) -> None:
    result = run_cli("despeckle", str(scene_with_nodata_corner), str(tmp_path / "o.tif"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "o.tif").exists()


def test_a_display_picture_is_filtered_as_amplitude_and_says_so(tmp_path: Path) -> None:
    """An 8-bit picture (as HRSID and MSTAR ship) is read as amplitude, as the recipes read it,
    and the command says so; a reading that does not exist is a clear error."""
    from sarlang.sar.io import read_sar, write_png

    pixels = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    write_png(tmp_path / "shown.png", pixels)
    result = run_cli("despeckle", str(tmp_path / "shown.png"), str(tmp_path / "o.tif"), "--filter", "Boxcar", "--size", "1")
    assert result.returncode == 0 and "read as amplitude" in result.stdout, result.stderr
    np.testing.assert_allclose(read_sar(tmp_path / "o.tif").data, pixels.astype(np.float32) ** 2)  # amplitude squared, unfiltered
    result = run_cli("despeckle", str(tmp_path / "shown.png"), str(tmp_path / "p.tif"), "--display8-as", "colour")
    assert result.returncode == 2 and "not 'colour'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p.tif").exists()


def test_recipes_refuse_even_windows_too() -> None:
    img = simulate_scene(1, SimulationConfig(height=64, width=64)).pixels
    with pytest.raises(F.SarlangError, match="is even"):
        F.speckle_filter(img, "Lee", size=4)
