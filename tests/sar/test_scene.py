"""``sarlang scene``: tiling a large georeferenced scene, mapping boxes to the map, merging across tiles, resuming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

rasterio = pytest.importorskip("rasterio", reason="rasterio is not installed (the geotiff extra)")

GSD, ORIGIN = 10.0, (500000.0, 4000000.0)


class BrightBlobs:
    """The bright-target detector (``blobs:``), recording which tiles it was asked about and
    answering captions and counts with fixed words, so the tiles' features can be checked."""

    config = None

    def __init__(self) -> None:
        from sarlang.models.base import load_model

        self.detector = load_model("blobs:")
        self.asked: list[str] = []

    def answer(self, batch: list[tuple[str, str]]) -> list[str]:
        self.asked += [Path(path).stem for path, _ in batch]
        found = self.detector.answer(batch)
        return [a if "boxes" in p else "A SAR image of the open sea." if "Describe" in p else "2" for (_, p), a in zip(batch, found)]


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    from sarlang.sar.simulate import simulate_large_scene

    path = tmp_path_factory.mktemp("scene") / "large.tif"
    return path, simulate_large_scene(path, size=2048, objects=24, seed=1, gsd=GSD, origin=ORIGIN)


def _objects(collection: dict) -> list[dict]:
    return [f for f in collection["features"] if f["properties"]["kind"] == "object"]


def _bounds(feature: dict) -> tuple[float, float, float, float]:
    ring = feature["geometry"]["coordinates"][0]
    return min(p[0] for p in ring), min(p[1] for p in ring), max(p[0] for p in ring), max(p[1] for p in ring)


@pytest.mark.slow
def test_objects_land_where_the_simulator_put_them_once_each(large: tuple[Path, list], tmp_path: Path) -> None:
    from sarlang.models.scene import run_scene
    from sarlang.sar.scene import scene_windows

    raster, truth = large
    windows = scene_windows(2048, 2048, 512, 64)
    cut = [o for o in truth if any(w.col < o.box[0] + o.box[2] and o.box[0] < w.col + w.width and w.row < o.box[1] + o.box[3] and o.box[1] < w.row + w.height
                                   and not (w.col <= o.box[0] and o.box[0] + o.box[2] <= w.col + w.width and w.row <= o.box[1] and o.box[1] + o.box[3] <= w.row + w.height)
                                   for w in windows)]
    assert len(cut) >= 6  # objects cut by some tile's border
    result = run_scene(raster, BrightBlobs(), tmp_path / "out.geojson", recipe="percentile", categories=["ship"])
    collection = json.loads((tmp_path / "out.geojson").read_text())
    assert collection["crs"]["properties"]["name"] == "EPSG:32631" and result["georeferenced"]
    found = [_bounds(f) for f in _objects(collection)]
    assert len(found) == len(truth) and result["duplicates_merged"] > 0
    for o in truth:
        x, y, w, h = o.box
        expected = (ORIGIN[0] + x * GSD, ORIGIN[1] - (y + h) * GSD, ORIGIN[0] + (x + w) * GSD, ORIGIN[1] - y * GSD)
        errors = [max(abs(a - b) for a, b in zip(expected, f)) for f in found]
        assert sorted(errors)[0] <= GSD and sorted(errors)[1] > GSD  # found once, within a pixel's ground size
    tiles = [f for f in collection["features"] if f["properties"]["kind"] == "tile"]
    assert len(tiles) == len(windows) == result["tiles"] and tiles[0]["properties"]["caption"] == "A SAR image of the open sea."
    assert tiles[0]["properties"]["counts"] == {"ship": 2.0}
    # the tile footprints tile the scene's map extent
    assert min(_bounds(t)[0] for t in tiles) == ORIGIN[0] and max(_bounds(t)[2] for t in tiles) == ORIGIN[0] + 2048 * GSD
    assert not (tmp_path / "out.geojson.tiles.jsonl").exists()


@pytest.mark.slow
def test_tiles_share_one_stretch_and_wgs84_output(large: tuple[Path, list], tmp_path: Path) -> None:
    from sarlang.models.scene import run_scene
    from sarlang.sar.recipes import load_recipe
    from sarlang.sar.scene import Window, scene_recipe, tile_picture

    raster, truth = large
    fixed, measured = scene_recipe(raster, load_recipe("sarlang"), 2048, 2048)
    assert fixed.stretch == "window" and measured["sample_windows"] == 64 and 3.0 < measured["looks"] < 5.5
    # the same pixels in two overlapping tiles get the same grey (per-tile percentiles would not)
    a, b = tile_picture(raster, Window(0, 0, 0, 512, 512), load_recipe("percentile")), tile_picture(raster, Window(1, 0, 448, 512, 512), load_recipe("percentile"))
    fixed_plain, _ = scene_recipe(raster, load_recipe("percentile"), 2048, 2048)
    c, d = tile_picture(raster, Window(0, 0, 0, 512, 512), fixed_plain), tile_picture(raster, Window(1, 0, 448, 512, 512), fixed_plain)
    assert np.array_equal(c[:, 448:], d[:, :64]) and not np.array_equal(a[:, 448:], b[:, :64])
    run_scene(raster, BrightBlobs(), tmp_path / "wgs.geojson", tile=1024, overlap=64, recipe="percentile", categories=["ship"], wgs84=True)
    collection = json.loads((tmp_path / "wgs.geojson").read_text())
    assert "crs" not in collection and "WGS84" in collection["properties"]["coordinates"]
    lon, lat, _, _ = _bounds(_objects(collection)[0])
    assert 2.9 < lon < 3.3 and 35.9 < lat < 36.2  # UTM 31N, 0 to 20 km south of (500 km E, 4000 km N)


@pytest.mark.slow
def test_a_killed_run_resumes_at_the_next_tile(large: tuple[Path, list], tmp_path: Path) -> None:
    from sarlang.errors import InputError
    from sarlang.models.scene import run_scene

    raster, _ = large

    class Dies(BrightBlobs):
        def answer(self, batch):
            if len(set(self.asked)) >= 5:
                raise KeyboardInterrupt
            return super().answer(batch)

    first = Dies()
    with pytest.raises(KeyboardInterrupt):
        run_scene(raster, first, tmp_path / "r.geojson", recipe="percentile", categories=["ship"])
    journal = tmp_path / "r.geojson.tiles.jsonl"
    assert len(journal.read_text().splitlines()) == 1 + 5 and not (tmp_path / "r.geojson").exists()
    with journal.open("a") as f:
        f.write('{"tile": "r0_c')  # a line cut by the kill
    second = BrightBlobs()
    run_scene(raster, second, tmp_path / "r.geojson", recipe="percentile", categories=["ship"])
    assert len(set(second.asked)) == 25 - 5 and not set(second.asked) & set(first.asked[:-1])
    whole = tmp_path / "whole.geojson"
    run_scene(raster, BrightBlobs(), whole, recipe="percentile", categories=["ship"])
    assert json.loads((tmp_path / "r.geojson").read_text())["features"] == json.loads(whole.read_text())["features"]
    # a journal of other settings is not mixed in
    Dies().asked.clear()
    with pytest.raises(KeyboardInterrupt):
        run_scene(raster, Dies(), tmp_path / "x.geojson", recipe="percentile", categories=["ship"])
    with pytest.raises(InputError, match="another run"):
        run_scene(raster, BrightBlobs(), tmp_path / "x.geojson", tile=256, recipe="percentile", categories=["ship"])


def test_a_raster_without_georeferencing_gives_pixel_coordinates(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.models.scene import run_scene

    grey = np.full((300, 300), 40, dtype=np.uint8)
    grey[100:120, 200:230] = 255
    Image.fromarray(grey).save(tmp_path / "plain.png")
    result = run_scene(tmp_path / "plain.png", BrightBlobs(), tmp_path / "p.geojson", tile=256, overlap=32, recipe="none", categories=["ship"])
    collection = json.loads((tmp_path / "p.geojson").read_text())
    assert not result["georeferenced"] and "crs" not in collection and "pixels" in collection["properties"]["coordinates"]
    assert [_bounds(f) for f in _objects(collection)] == [(200.0, 100.0, 230.0, 120.0)]


@pytest.mark.slow
def test_scene_through_the_cli_with_the_built_in_model(tmp_path: Path) -> None:
    """End to end: a built-in model trained on a grounding build answers every tile of a GeoTIFF."""
    pytest.importorskip("torch", reason="torch is not installed (the train extra)")
    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.models.run import train_from_config
    from sarlang.sar.simulate import simulate_large_scene

    build_dataset(["simulate:8,size=64,seed=5"], tmp_path / "b", BuildOptions(grounding="sarlang"))
    train_from_config({"model": "baseline", "records": str(tmp_path / "b" / "records.jsonl"), "out": str(tmp_path / "m"), "epochs": 1,
                       "batch_size": 16, "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch"})
    simulate_large_scene(tmp_path / "s.tif", size=300, objects=4, seed=2)
    result = run_cli("scene", str(tmp_path / "s.tif"), "--model", str(tmp_path / "m"), "--out", str(tmp_path / "s.geojson"),
                     "--tile", "128", "--overlap", "16", "--ask", "Is there a harbor?")
    assert result.returncode == 0, result.stderr
    assert "objects on 9 tiles" in result.stdout and "map coordinates" in result.stdout
    collection = json.loads((tmp_path / "s.geojson").read_text())
    tiles = [f["properties"] for f in collection["features"] if f["properties"]["kind"] == "tile"]
    assert len(tiles) == 9 and all(t["caption"] and set(t["answers"]) == {"Is there a harbor?"} for t in tiles)
    assert set(tiles[0]["counts"]) == set(collection["properties"]["categories"])
    for bad, message in ((["--tile", "16"], "Invalid value"), (["--overlap", "200", "--tile", "128"], "not usable")):
        failed = run_cli("scene", str(tmp_path / "s.tif"), "--model", str(tmp_path / "m"), "--out", str(tmp_path / "bad.geojson"), *bad)
        assert failed.returncode == 2 and message in failed.stderr and "Traceback" not in failed.stderr


def test_the_bright_target_detector(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.errors import InputError
    from sarlang.models.base import load_model

    grey = np.full((100, 120), 30, dtype=np.uint8)
    grey[10:20, 30:45] = 255  # a target 15 x 10
    grey[60:63, 80:83] = 255  # 9 pixels: too small
    grey[21, 37] = 255  # a bright clutter pixel touching the target: not part of it
    Image.fromarray(grey).save(tmp_path / "t.png")
    path = str(tmp_path / "t.png")
    model = load_model("blobs:")
    assert model.answer([(path, "Give the boxes of all ships as [x, y, w, h] in pixels."), (path, "How many ships are there in the image?"),
                         (path, "Is there a ship in the image?"), (path, "Describe the content of this image in one sentence.")]) == \
        ["[30, 10, 15, 10]", "1", "yes", ""]
    assert load_model("blobs:250,5").answer([(path, "How many ships are there in the image?")]) == ["2"]
    for spec, message in (("blobs:x", "whole numbers"), ("blobs:0", "grey level"), ("blobs:1,2,3", "more than two")):
        with pytest.raises(InputError, match=message):
            load_model(spec)


def test_a_tile_of_no_data_is_said_and_the_rest_answered(tmp_path: Path) -> None:
    """A swath edge of no-data (NaN) fills whole tiles: they are marked, not asked, and the run goes on."""
    from rasterio.transform import from_origin

    from sarlang.models.scene import run_scene

    rng = np.random.default_rng(0)
    pixels = (0.01 * rng.gamma(4, 0.25, size=(512, 512))).astype(np.float32)
    pixels[:, :256] = np.nan  # the left half holds no data
    pixels[300:320, 400:420] = 1.0
    with rasterio.open(tmp_path / "edge.tif", "w", driver="GTiff", width=512, height=512, count=1, dtype="float32", crs="EPSG:32631",
                       transform=from_origin(*ORIGIN, GSD, GSD), nodata=float("nan")) as dst:
        dst.write(pixels, 1)
    model = BrightBlobs()
    result = run_scene(tmp_path / "edge.tif", model, tmp_path / "e.geojson", tile=256, overlap=0, recipe="percentile", categories=["ship"])
    collection = json.loads((tmp_path / "e.geojson").read_text())
    tiles = {f["properties"]["tile"]: f["properties"] for f in collection["features"] if f["properties"]["kind"] == "tile"}
    assert {t for t, p in tiles.items() if "skipped" in p} == {"r0_c0", "r256_c0"} and collection["properties"]["tiles_without_data"] == 2
    assert set(model.asked) == {"r0_c256", "r256_c256"} and result["objects"] == 1


def test_a_tiles_count_is_a_number_or_null_with_what_the_model_said() -> None:
    """The GeoJSON's counts hold whole numbers or null, never a model's text (it goes to unread_counts)."""
    from sarlang.models.scene import read_count

    for answer, count in (("3", 3), ("three", 3), ("There are 3 ships.", 3), ("３", 3), ("twenty-one", 21), ("no", 0),
                          ("There are no ships in the image.", 0), ("4 ships and 4 cars", 4)):
        assert read_count(answer) == (count, None), answer
    for answer, why in (("2 or 3", "several numbers"), ("2.5", "not a count"), ("many", "no number"), (None, "no answer")):
        count, reason = read_count(answer)
        assert count is None and why in reason, answer
