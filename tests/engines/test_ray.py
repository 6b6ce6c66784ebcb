"""The Ray engine gives the local engine's outputs byte for byte (a local Ray instance on 2 CPUs):
preprocessing, building, predicting (and resuming a cut run) and scenes, on simulated data and on
../shared/data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sarlang.engines import current, using
from sarlang.errors import InputError
from tests.conftest import SHARED_DATA, run_cli

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="ray is not installed (the ray extra)")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray instance of 2 CPUs for the module (the CI machine's cores)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def same_tree(a: Path, b: Path, besides: tuple[str, ...] = ()) -> list[str]:
    """The files of two output folders, after checking they hold the same names and bytes (but
    the files named in ``besides``)."""
    names_a = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    names_b = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    assert names_a == names_b
    differ = [n for n in names_a if n not in besides and (a / n).read_bytes() != (b / n).read_bytes()]
    assert not differ, f"differ between engines: {differ[:5]}"
    return names_a


def test_build_is_byte_identical_on_a_simulated_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sarlang.corpus import dataset
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    monkeypatch.setattr(dataset, "_BATCH_SCENES", 5)  # several batches, so several Ray tasks finish in any order

    sources = ["simulate:24,size=96,seed=5"]
    options = BuildOptions(tile=64, tile_overlap=8, grounding="qwen2.5")
    # tile names hash their image's path, and simulated images live in the build: build in one place
    build_dataset(sources, tmp_path / "out", options)
    (tmp_path / "out").rename(tmp_path / "local")
    with using("ray"):
        assert current().name == "ray"
        build_dataset(sources, tmp_path / "out", options)
    assert current().name == "local"
    (tmp_path / "out").rename(tmp_path / "ray")
    names = same_tree(tmp_path / "local", tmp_path / "ray")
    assert "records.jsonl" in names and any(n.startswith("tiles/") for n in names)


def test_a_build_stopped_after_a_batch_resumes_on_ray_to_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sarlang.corpus import dataset
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    monkeypatch.setattr(dataset, "_BATCH_SCENES", 4)
    sources, options = ["simulate:16,size=80,seed=6"], BuildOptions()
    build_dataset(sources, tmp_path / "out", options)
    (tmp_path / "out").rename(tmp_path / "local")

    def stop(done: int, total: int) -> None:
        if done >= 8:
            raise KeyboardInterrupt  # as if killed after two batches were written

    with pytest.raises(KeyboardInterrupt):
        build_dataset(sources, tmp_path / "out", options, on_progress=stop)
    assert len((tmp_path / "out" / "done.txt").read_text().splitlines()) == 8
    with using("ray"):
        summary = build_dataset(sources, tmp_path / "out", options)
    assert summary["scenes_resumed"] == 8
    same_tree(tmp_path / "local", tmp_path / "out", besides=("summary.json",))
    straight, resumed = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("local", "out"))
    assert resumed.pop("scenes_resumed") == 8 and straight.pop("scenes_resumed") == 0
    assert resumed == straight  # the summary differs only in saying that the run was resumed


@pytest.mark.skipif(not (SHARED_DATA / "mstar_scenes").exists() or not (SHARED_DATA / "hrsid").exists(),
                    reason="../shared/data/mstar_scenes or hrsid is absent (real MSTAR and HRSID data)")
def test_build_is_byte_identical_on_real_data_with_rejects(tmp_path: Path) -> None:
    sources = [f"voc:{SHARED_DATA / 'mstar_scenes'}", f"masks:{SHARED_DATA / 'hrsid'}"]
    args = [a for s in sources for a in ("--source", s)]
    local = run_cli("build", *args, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    distributed = run_cli("build", *args, "--out", str(tmp_path / "ray"), "--engine", "ray")
    assert distributed.returncode == 0, distributed.stderr
    same_tree(tmp_path / "local", tmp_path / "ray")
    assert (tmp_path / "local" / "records.jsonl").stat().st_size > 100_000


def test_preprocess_is_byte_identical_with_rejects_in_input_order(tmp_path: Path) -> None:
    from sarlang.sar.io import write_png
    from sarlang.sar.preprocess import preprocess
    from sarlang.sar.recipes import load_recipe

    inputs = tmp_path / "in"
    rng = np.random.default_rng(0)
    for i in range(6):
        write_png(inputs / f"tile{i}.png", rng.integers(1, 255, (48, 40), dtype=np.uint8))
        (inputs / f"broken{i}.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    files = [str(inputs)] + ([str(p) for p in sorted((SHARED_DATA / "hrsid" / "images").iterdir())[:6]] if (SHARED_DATA / "hrsid").exists() else [])
    recipe = load_recipe("sarlang")
    local = preprocess(files, recipe, tmp_path / "local")
    with using("ray"):
        distributed = preprocess(files, recipe, tmp_path / "ray")
    assert [r.source for r in local.rejects] == [r.source for r in distributed.rejects] == [str(inputs / f"broken{i}.png") for i in range(6)]
    names = same_tree(tmp_path / "local", tmp_path / "ray")
    assert "rejects.jsonl" in names and len([n for n in names if n.endswith(".png")]) == len(local.written)


def tiny_model(bench: Path, out: Path) -> Path:
    from sarlang.models.run import train_from_config

    train_from_config({"model": "baseline", "records": str(bench / "records.jsonl"), "out": str(out), "epochs": 1, "batch_size": 16,
                       "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch"})
    return out


def test_predict_is_byte_identical_and_a_cut_run_resumes_on_ray(sim_bench: Path, tmp_path: Path) -> None:
    from sarlang.models.base import load_model
    from sarlang.models.run import predict_records

    spec = str(tiny_model(sim_bench, tmp_path / "model"))
    model = load_model(spec)
    records = sim_bench / "records.jsonl"
    predict_records(model, records, tmp_path / "local" / "p.jsonl", split=None, batch_size=8, model_source=spec)
    with using("ray"):
        result = predict_records(model, records, tmp_path / "ray" / "p.jsonl", split=None, batch_size=8, model_source=spec)
    assert result["predicted"] > 16 and result["failed"] == 0
    same_tree(tmp_path / "local", tmp_path / "ray")
    # a run killed after two batches, resumed on Ray, ends with the same files
    lines = (tmp_path / "local" / "p.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "p.jsonl").write_text("".join(lines[:16]))
    (tmp_path / "cut" / "p.run.json").write_bytes((tmp_path / "local" / "p.run.json").read_bytes())
    with using("ray", actors=1):  # one actor holding the model: the same answers
        resumed = predict_records(model, records, tmp_path / "cut" / "p.jsonl", split=None, batch_size=8, model_source=spec)
    assert resumed["already_done"] == 16
    same_tree(tmp_path / "local", tmp_path / "cut")


def test_predict_on_ray_needs_the_models_spec_and_the_same_model(sim_bench: Path, tmp_path: Path) -> None:
    from sarlang.models.base import load_model
    from sarlang.models.run import predict_records

    model = load_model("blobs:")
    with using("ray"), pytest.raises(InputError, match="loads the model on each worker"):
        predict_records(model, sim_bench / "records.jsonl", tmp_path / "p.jsonl", split=None)
    other = str(tiny_model(sim_bench, tmp_path / "model"))
    with using("ray"), pytest.raises(InputError, match="differs from the one given"):
        predict_records(model, sim_bench / "records.jsonl", tmp_path / "q.jsonl", split=None, model_source=other)


def test_a_scene_asked_of_servers_on_ray_is_asked_from_here(tmp_path: Path) -> None:
    """An API model spreads its own requests over its servers: on Ray it is not shipped to workers."""
    pytest.importorskip("rasterio", reason="rasterio is not installed (the geotiff extra)")
    from sarlang.models.api import ApiModel
    from sarlang.models.scene import run_scene
    from sarlang.sar.simulate import simulate_large_scene
    from tests.fake_openai import FakeOpenAI, Reply

    raster = tmp_path / "large.tif"
    simulate_large_scene(raster, size=600, objects=4, seed=3)
    with FakeOpenAI(lambda body, count: Reply("A SAR image of the sea.")) as server:
        model = ApiModel(server.url, "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01)
        run_scene(raster, model, tmp_path / "local" / "s.geojson", tile=256, overlap=32, recipe="percentile", categories=["ship"],
                  model_id=f"api:vlm@{server.url}")
        model.client.cache.close()
        model.client.cache = type(model.client.cache)(tmp_path / "cache2.sqlite")  # nothing cached: every tile is asked again
        asked_here = len(server.bodies)
        with using("ray"):
            run_scene(raster, model, tmp_path / "ray" / "s.geojson", tile=256, overlap=32, recipe="percentile", categories=["ship"],
                      model_id=f"api:vlm@{server.url}")
        assert model.served()[0]["answered"] == len(server.bodies) == 2 * asked_here  # by this process's client, not by workers
        model.close()
    same_tree(tmp_path / "local", tmp_path / "ray")


def test_scene_is_byte_identical(tmp_path: Path) -> None:
    pytest.importorskip("rasterio", reason="rasterio is not installed (the geotiff extra)")
    from sarlang.models.base import load_model
    from sarlang.models.scene import run_scene
    from sarlang.sar.simulate import simulate_large_scene

    raster = tmp_path / "large.tif"
    simulate_large_scene(raster, size=1200, objects=12, seed=2)
    detector = load_model("blobs:")
    run_scene(raster, detector, tmp_path / "local" / "s.geojson", tile=256, overlap=32, recipe="percentile", categories=["ship"], model_id="blobs:")
    with using("ray"):
        result = run_scene(raster, detector, tmp_path / "ray" / "s.geojson", tile=256, overlap=32, recipe="percentile", categories=["ship"],
                           model_id="blobs:")
    assert result["tiles"] == 36 and result["objects"] >= 10
    same_tree(tmp_path / "local", tmp_path / "ray")
