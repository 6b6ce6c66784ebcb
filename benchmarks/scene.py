"""``sarlang scene`` on a simulated georeferenced scene: memory, throughput and where the objects land.

Writes a north-up GeoTIFF of SIZE x SIZE pixels (10 m, UTM 31N) whose ship-like targets the
simulator places (a third across tile borders), runs the scene pipeline over it with the
bright-target detector (``blobs:``, so the figures are the pipeline's: windowed reading,
scene-wide statistics, preprocessing, writing tiles, merging, GeoJSON), and reports wall time,
peak resident memory, megapixels and tiles per second, and how the objects found compare with
the simulator's: found once each, within a pixel's ground size, and no duplicates.

    python benchmarks/scene.py [--size 8000] [--recipe percentile] [--tile 512 --overlap 64] [--out /tmp/scene_bench] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument("--recipe", default="percentile")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("/tmp/scene_bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    raster, geojson = out / f"scene_{args.size}.tif", out / f"scene_{args.size}.geojson"
    objects = max(10, args.size * args.size // 200_000)
    sim = run_phase("from sarlang.sar.simulate import simulate_large_scene\n"
                    f"o = simulate_large_scene({str(raster)!r}, size={args.size}, objects={objects}, seed=1)\n"
                    "RESULT = {'objects': [list(x.box) for x in o]}")
    run = run_phase("from sarlang.models.base import load_model\nfrom sarlang.models.scene import run_scene\n"
                    f"RESULT = run_scene({str(raster)!r}, load_model('blobs:'), {str(geojson)!r}, tile={args.tile}, overlap={args.overlap}, "
                    f"recipe={args.recipe!r}, categories=['ship'], restart=True)")
    truth = sim["objects"]
    found = []
    for f in json.loads(geojson.read_text())["features"]:
        if f["properties"]["kind"] == "object":
            ring = f["geometry"]["coordinates"][0]
            found.append((min(p[0] for p in ring), min(p[1] for p in ring), max(p[0] for p in ring), max(p[1] for p in ring)))
    gsd, x0, y0 = 10.0, 500000.0, 4000000.0
    errors, matched = [], set()
    for x, y, w, h in truth:
        expected = (x0 + x * gsd, y0 - (y + h) * gsd, x0 + (x + w) * gsd, y0 - y * gsd)
        distances = [max(abs(a - b) for a, b in zip(expected, g)) for g in found]
        best = min(range(len(found)), key=distances.__getitem__) if found else None
        errors.append(distances[best] if best is not None else float("inf"))
        if best is not None and distances[best] <= gsd:
            matched.add(best)
    mpix = args.size * args.size / 1e6
    result = {
        "size": args.size, "megapixels": round(mpix, 1), "tiles": run["tiles"], "recipe": args.recipe,
        "simulate_seconds": sim["seconds"], "scene_seconds": run["seconds"], "peak_mib": round(run["peak_mib"]),
        "megapixels_per_s": round(mpix / run["seconds"], 2), "tiles_per_s": round(run["tiles"] / run["seconds"], 2),
        "objects_true": len(truth), "objects_found": len(found), "found_within_a_pixel": sum(e <= gsd for e in errors),
        "worst_error_m": max(errors) if errors else None, "unmatched_found": len(found) - len(matched),
        "duplicates_merged": run["duplicates_merged"],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
