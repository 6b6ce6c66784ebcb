"""The local and the Ray engine on this machine: throughput of ``preprocess``, ``build``, ``predict``
and ``scene``, and whether their outputs are byte-identical.

Each stage runs as the ``sarlang`` command twice in one run, ``--engine local`` then ``--engine
ray`` (a local Ray instance on this machine's cores, its start-up included), into the same output
path so that paths written into the outputs agree, and the two output folders are compared file
by file. On one machine the two should be on a par (Ray's gain is spreading over a cluster's
nodes); the ratio shows what Ray costs here.

    python benchmarks/engines.py [--scenes 600] [--images 300] [--scene-size 4096] [--out /tmp/engines_bench] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SARLANG = str(Path(sys.executable).parent / "sarlang")


def run(args: list[str], cwd: Path) -> float:
    """Seconds the command took (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run([SARLANG, *args], cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"sarlang {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return took


def identical(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def both_engines(name: str, args: list[str], folder: str, cwd: Path, items: int, unit: str) -> dict:
    """Run ``args`` (writing into ``folder``) on each engine; times, throughput, and whether the outputs agree."""
    times = {}
    for engine in ("local", "ray"):
        shutil.rmtree(cwd / folder, ignore_errors=True)
        (cwd / folder).mkdir()
        times[engine] = run([*args, "--engine", engine], cwd)
        shutil.rmtree(cwd / f"{name}_{engine}", ignore_errors=True)
        (cwd / folder).rename(cwd / f"{name}_{engine}")
    same = identical(cwd / f"{name}_local", cwd / f"{name}_ray")
    row = {"stage": name, "items": items, "unit": unit, "local_s": round(times["local"], 2), "ray_s": round(times["ray"], 2),
           "local_per_s": round(items / times["local"], 1), "ray_per_s": round(items / times["ray"], 1),
           "ray_over_local_time": round(times["ray"] / times["local"], 2), "byte_identical": same}
    print(f"{name:10s} {items:6d} {unit:8s} local {times['local']:7.1f} s ({row['local_per_s']:7.1f}/s)   "
          f"ray {times['ray']:7.1f} s ({row['ray_per_s']:7.1f}/s)   ray/local {row['ray_over_local_time']:.2f}   identical: {same}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=600, help="simulated scenes to build (128 pixels)")
    parser.add_argument("--images", type=int, default=300, help="images to preprocess (512 x 512 intensity)")
    parser.add_argument("--scene-size", type=int, default=4096, help="side of the large scene, pixels")
    parser.add_argument("--out", type=Path, default=Path("/tmp/engines_bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = args.out.resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "raw").mkdir(parents=True)
    print(f"{os.cpu_count()} cores; sarlang commands from {SARLANG}", flush=True)

    rng = np.random.default_rng(0)
    from sarlang.sar.io import write_png

    for i in range(args.images):
        speckled = rng.gamma(4.0, 0.25, (512, 512)) * np.exp(rng.normal(0, 0.3, (512, 512)))
        write_png(work / "raw" / f"img{i:05d}.png", np.clip(speckled * 60, 1, 255).astype(np.uint8))
    rows = [both_engines("preprocess", ["preprocess", "raw", "--out", "pre"], "pre", work, args.images, "images")]
    rows.append(both_engines("build", ["build", "--source", f"simulate:{args.scenes},size=128,seed=1", "--out", "bench"], "bench", work,
                             args.scenes, "scenes"))
    shutil.copytree(work / "build_local", work / "bench")
    config = {"model": "baseline", "records": "bench/records.jsonl", "out": "model", "epochs": 1, "batch_size": 32, "image_size": 64,
              "width": 64, "heads": 2, "layers": 1, "encoder": "scratch"}
    (work / "train.json").write_text(json.dumps(config))
    run(["train", "--config", "train.json"], work)
    test = sum(1 for line in (work / "bench" / "records.jsonl").read_text().splitlines() if '"split": "test"' in line)
    rows.append(both_engines("predict", ["predict", "--model", "model", "--records", "bench/records.jsonl", "--out", "pred/p.jsonl",
                                         "--batch-size", "32"], "pred", work, test, "records"))
    from sarlang.sar.simulate import simulate_large_scene

    simulate_large_scene(work / "large.tif", size=args.scene_size, objects=args.scene_size * args.scene_size // 200_000, seed=1)
    from sarlang.sar.scene import scene_windows

    tiles = len(scene_windows(args.scene_size, args.scene_size, 512, 64))
    rows.append(both_engines("scene", ["scene", "large.tif", "--model", "blobs:", "--out", "sc/s.geojson", "--categories", "ship",
                                       "--recipe", "percentile"], "sc", work, tiles, "tiles"))
    if args.json:
        args.json.write_text(json.dumps({"cores": os.cpu_count(), "stages": rows}, indent=1))


if __name__ == "__main__":
    main()
