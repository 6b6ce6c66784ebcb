"""The scene simulator, tiling at several resolutions, and block filtering of large rasters."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sarlang.errors import SarlangError
from sarlang.sar import filters as F
from sarlang.sar.simulate import CLASS_DB, LANDCOVER_CLASSES, SimulationConfig, simulate_scene
from sarlang.sar.tiling import multilook, tile_scene
from sarlang.schema import SarImage, Scene, SceneObject


def test_simulator_is_deterministic_and_labels_lie_inside() -> None:
    a = simulate_scene(7)
    b = simulate_scene(7)
    assert np.array_equal(a.pixels.data, b.pixels.data) and [o.box for o in a.objects] == [o.box for o in b.objects]
    assert not np.array_equal(a.pixels.data, simulate_scene(8).pixels.data)
    for seed in range(6):
        scene = simulate_scene(seed)
        for o in scene.objects:
            x, y, w, h = o.box
            assert 0 <= x and 0 <= y and x + w <= scene.width and y + h <= scene.height and w > 0 and h > 0
            assert o.mask.shape == (int(h), int(w)) and o.mask.any()
        assert scene.landcover.shape == (scene.height, scene.width)


def test_simulator_behaves_like_sar() -> None:
    """Homogeneous areas have ENL close to the looks; classes have their backscatter; ships sit on water."""
    for looks in (1.0, 4.0):
        scene = simulate_scene(11, SimulationConfig(height=512, width=512, looks=looks, max_ships=0, harbor_probability=0, airfield_probability=0))
        data = scene.pixels.data.astype(np.float64)
        water = scene.landcover == LANDCOVER_CLASSES.index("water")
        labelled = np.zeros_like(water)
        for o in scene.objects:
            x, y, w, h = (int(v) for v in o.box)
            labelled[y : y + h, x : x + w] = True
        from scipy import ndimage

        calm = ndimage.binary_erosion(water & ~labelled, iterations=3)
        values = data[calm]
        # water texture is nearly flat (Gamma shape 60), so ENL is the looks, a little lower
        assert values.mean() ** 2 / values.var() == pytest.approx(looks, rel=0.12)
        for name in ("water", "vegetation", "urban"):
            where = (scene.landcover == LANDCOVER_CLASSES.index(name)) & ~labelled
            if where.sum() > 500:
                assert 10 * np.log10(data[where].mean()) == pytest.approx(CLASS_DB[name], abs=1.0), name
    ships = 0
    for seed in range(10):
        scene = simulate_scene(seed)
        for o in scene.objects:
            if o.category == "ship":
                ships += 1
                x, y, w, h = (int(v) for v in o.box)
                cover = scene.landcover[y : y + h, x : x + w][o.mask]
                assert (cover == LANDCOVER_CLASSES.index("water")).mean() > 0.9
    assert ships > 10


def test_object_sizes_follow_gsd() -> None:
    fine = simulate_scene(2, SimulationConfig(gsd=1.0, height=600, width=600))
    coarse = simulate_scene(2, SimulationConfig(gsd=20.0, height=600, width=600))
    assert any(o.category == "car" for s in range(5) for o in simulate_scene(s, SimulationConfig(gsd=1.0, height=300, width=300)).objects)
    assert not any(o.category == "car" for o in coarse.objects)  # 4.5 m cars are under 2 pixels at 20 m
    assert all(max(o.box[2], o.box[3]) >= 2 for o in fine.objects + coarse.objects)
    with pytest.raises(SarlangError):
        simulate_scene(0, SimulationConfig(height=8, width=8))


def test_tiling_levels_boxes_and_visibility_rule() -> None:
    data = np.ones((64, 64), np.float32)
    mask = np.ones((10, 20), dtype=bool)
    scene = Scene("", 64, 64, objects=[SceneObject("ship", (24.0, 4.0, 20.0, 10.0), mask), SceneObject("car", (30.0, 40.0, 3.0, 2.0))],
                  gsd=1.5, pixels=SarImage(data, "intensity"), id="s")
    tiles = tile_scene(scene, tile_size=32, levels=(1, 2))
    level1 = {t.id: t for t in tiles if "_L1_" in t.id}
    assert len(level1) == 4 and {t.gsd for t in tiles} == {1.5, 3.0}
    # the ship spans x 24..44: 8 of its 20 columns in the left tile (40% < 50%: dropped), 12 in the right (kept, truncated)
    assert [o.category for o in level1["s_L1_r0_c0"].objects] == []
    right = level1["s_L1_r0_c32"].objects
    assert right[0].box == (0.0, 4.0, 12.0, 10.0) and right[0].attributes["truncated"] and right[0].mask.shape == (10, 12)
    level2 = [t for t in tiles if "_L2_" in t.id]
    assert len(level2) == 1 and level2[0].pixels.shape == (32, 32)
    ship2 = [o for o in level2[0].objects if o.category == "ship"][0]
    assert ship2.box == (12.0, 2.0, 10.0, 5.0)
    assert not [o for o in level2[0].objects if o.category == "car"]  # 1.5x1 pixels at level 2: under min_size


def test_multilook_reduces_speckle() -> None:
    img = np.random.default_rng(0).gamma(1, 1, (256, 256)).astype(np.float32)
    looked = multilook(img, 4)
    assert looked.shape == (64, 64)
    assert looked.mean() ** 2 / looked.var() == pytest.approx(16, rel=0.2)


def test_block_filtering_equals_whole_image(tmp_path: Path) -> None:
    rasterio = pytest.importorskip("rasterio")
    warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)
    from sarlang.sar.blocks import filter_raster
    from sarlang.sar.io import read_sar, write_geotiff

    img = simulate_scene(4, SimulationConfig(height=300, width=333)).pixels.data.copy()
    img[100:104, 50:60] = np.nan
    write_geotiff(tmp_path / "in.tif", SarImage(img, "intensity"))
    for name in F.FILTERS:
        used = filter_raster(tmp_path / "in.tif", tmp_path / "out.tif", name, block=64)
        blocks = read_sar(tmp_path / "out.tif").data
        params = {k: v for k, v in used.items() if k != "percentile98"}
        whole = F.lee_sigma(img, percentile98=used["percentile98"], **params) if name == "Lee Sigma" else F.speckle_filter(img, name, **params)
        np.testing.assert_allclose(blocks, whole, rtol=1e-5, atol=1e-9, err_msg=name)
        assert not (tmp_path / ".out.tif.part").exists()


def test_despeckle_command_keeps_georeferencing(tmp_path: Path) -> None:
    pytest.importorskip("rasterio")
    from sarlang.sar.io import read_sar, write_geotiff

    from ..conftest import run_cli

    img = simulate_scene(5, SimulationConfig(height=200, width=260)).pixels.data
    crs = 'PROJCS["WGS 84 / UTM zone 33N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    write_geotiff(tmp_path / "in.tif", SarImage(img, "intensity", crs=crs, transform=(2.0, 0.0, 500000.0, 0.0, -2.0, 4600000.0)))
    result = run_cli("despeckle", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--filter", "Refined Lee", "--block", "64")
    assert result.returncode == 0, result.stderr
    out = read_sar(tmp_path / "out.tif")
    assert out.gsd == 2.0 and out.transform == (2.0, 0.0, 500000.0, 0.0, -2.0, 4600000.0)
    assert np.nanvar(out.data) < np.nanvar(img)
    missing = run_cli("despeckle", str(tmp_path / "nope.tif"), str(tmp_path / "x.tif"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
