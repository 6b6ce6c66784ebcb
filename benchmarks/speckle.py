"""Throughput of sarlang's speckle filters against findpeaks and straightforward scipy versions, in one run.

For each filter: sarlang's MPix/s on a 4096 x 4096 float32 intensity image (single-look speckle
over a two-level scene; best of 3 runs after a warm-up that compiles the kernels), findpeaks'
on a crop (it is pure Python per pixel; scaled to MPix/s), and a straightforward scipy version
(uniform/median/generic filters) on the full image, or on a crop where it is per-pixel Python.
Prints the ratios. Targets (issue 3, this 2-core machine): Lee >= 100 MPix/s, Refined Lee >= 20,
Frost and Gamma Map >= 30; Lee and Frost >= 1000x findpeaks.

``--large`` also filters a 20,000 x 20,000 scene from disk in blocks (sarlang.sar.blocks) and
reports the peak memory of the process (target: under 2 GiB).

    python benchmarks/speckle.py [--size 4096] [--crop 96] [--large] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage

from sarlang.sar import filters as F

LOOKS = 1.0


def scene(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = np.where((np.arange(size)[:, None] // 256 + np.arange(size)[None, :] // 256) % 2 == 0, 1.0, 8.0)
    return (truth * rng.gamma(LOOKS, 1 / LOOKS, (size, size))).astype(np.float32)


def best_time(func: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


# --- straightforward scipy versions of the same definitions ----------------------------------


def scipy_moments(img: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    x = img.astype(np.float64)
    mean = ndimage.uniform_filter(x, k, mode="reflect")
    var = np.maximum(ndimage.uniform_filter(x * x, k, mode="reflect") - mean * mean, 0)
    return mean, var


def scipy_lee(img: np.ndarray, k: int = 3, looks: float = LOOKS) -> np.ndarray:
    mean, var = scipy_moments(img, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.clip(1 - (mean * mean / looks) / var, 0, 1)
    return mean + np.nan_to_num(w) * (img - mean)


def scipy_kuan(img: np.ndarray, k: int = 3, looks: float = LOOKS) -> np.ndarray:
    mean, var = scipy_moments(img, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.clip((1 - (mean * mean / looks) / var) / (1 + 1 / looks), 0, 1)
    return mean + np.nan_to_num(w) * (img - mean)


def scipy_gamma_map(img: np.ndarray, k: int = 3, looks: float = LOOKS) -> np.ndarray:
    mean, var = scipy_moments(img, k)
    cu2 = 1 / looks
    with np.errstate(divide="ignore", invalid="ignore"):
        ci2 = var / (mean * mean)
        alpha = (1 + cu2) / (ci2 - cu2)
        b = alpha - looks - 1
        d = mean * mean * b * b + 4 * alpha * looks * mean * img
        mapped = (b * mean + np.sqrt(np.maximum(d, 0))) / (2 * alpha)
    return np.where(ci2 <= cu2, mean, np.where(ci2 >= 2 * cu2, img, mapped))


def scipy_frost(img: np.ndarray, k: int = 3, damping: float = 2.0) -> np.ndarray:
    offsets = np.hypot(*np.meshgrid(np.arange(k) - k // 2, np.arange(k) - k // 2, indexing="ij")).ravel()

    def pixel(window: np.ndarray) -> float:
        m = window.mean()
        b = damping * window.var() / (m * m) if m > 0 else 0.0
        w = np.exp(-b * offsets)
        return float((w * window).sum() / w.sum())

    return ndimage.generic_filter(img.astype(np.float64), pixel, size=k, mode="reflect")


SCIPY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], bool]] = {
    # name: (function, runs on the full image)
    "Boxcar": (lambda a: ndimage.uniform_filter(a, 3), True),
    "Median": (lambda a: ndimage.median_filter(a, 3), True),
    "Lee": (scipy_lee, True),
    "Kuan": (scipy_kuan, True),
    "Gamma Map": (scipy_gamma_map, True),
    "Frost": (scipy_frost, False),
}


def findpeaks_functions() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    try:
        from findpeaks.filters import frost, kuan, lee, lee_sigma, mean, median
    except ImportError:
        return {}
    cu = 1 / np.sqrt(LOOKS)
    return {
        "Boxcar": lambda a: mean.mean_filter(a, win_size=3),
        "Median": lambda a: median.median_filter(a, win_size=3),
        "Lee": lambda a: lee.lee_filter(a, win_size=3, cu=cu),
        "Kuan": lambda a: kuan.kuan_filter(a, win_size=3, cu=cu),
        "Frost": lambda a: frost.frost_filter(a, damping_factor=2.0, win_size=3),
        "Lee Sigma": lambda a: lee_sigma.lee_sigma_filter(a, num_looks=1, num_cores=1),
    }


def ours(name: str) -> Callable[[np.ndarray], np.ndarray]:
    params = {} if name in ("Boxcar", "Median", "Frost") else {"looks": LOOKS}
    return lambda a: F.speckle_filter(a, name, **params)


TARGETS = {"Lee": 100.0, "Refined Lee": 20.0, "Frost": 30.0, "Gamma Map": 30.0}


def run_large(side: int = 20_000, block: int = 2048) -> dict[str, Any]:
    import rasterio
    from rasterio.windows import Window

    from sarlang.sar.blocks import filter_raster

    with tempfile.TemporaryDirectory(dir=os.environ.get("SARLANG_BENCH_TMP")) as tmp:
        src = os.path.join(tmp, "scene.tif")
        profile = {"driver": "GTiff", "height": side, "width": side, "count": 1, "dtype": "float32", "tiled": True,
                   "blockxsize": 512, "blockysize": 512, "BIGTIFF": "YES"}
        t0 = time.perf_counter()
        with rasterio.open(src, "w", **profile) as dst:
            for r in range(0, side, block):
                for c in range(0, side, block):
                    h, w = min(block, side - r), min(block, side - c)
                    tile = np.random.default_rng(r * side + c).gamma(LOOKS, 1 / LOOKS, (h, w)).astype(np.float32)
                    dst.write(tile, 1, window=Window(c, r, w, h))
        t_write = time.perf_counter() - t0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        filter_raster(src, os.path.join(tmp, "filtered.tif"), "Lee", block=block, looks=LOOKS)
        t_filter = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"side": side, "seconds_write_input": t_write, "seconds_filter": t_filter, "peak_rss_mib": peak, "rss_before_mib": rss_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--crop", type=int, default=96, help="side of the crop findpeaks and per-pixel scipy run on")
    parser.add_argument("--large", action="store_true", help="also filter a 20,000 x 20,000 scene from disk in blocks")
    parser.add_argument("--large-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.large_child:  # a fresh process, so its peak memory is the large run's alone
        print(json.dumps(run_large()))
        return

    img = scene(args.size)
    crop = img[: args.crop, : args.crop].copy()
    fp = findpeaks_functions()
    results: dict[str, Any] = {}
    print(f"image {args.size}x{args.size} float32; findpeaks and per-pixel scipy on a {args.crop}x{args.crop} crop; MPix/s")
    print(f"{'filter':12s} {'sarlang':>9s} {'scipy':>9s} {'findpeaks':>10s} {'x scipy':>9s} {'x findpeaks':>12s}  target")
    for name in F.FILTERS:
        func = ours(name)
        func(crop)  # compile
        ours_rate = img.size / best_time(lambda: func(img)) / 1e6
        row: dict[str, Any] = {"sarlang_mpix_s": ours_rate}
        if name in SCIPY:
            scipy_func, full = SCIPY[name]
            sample = img if full else crop
            row["scipy_mpix_s"] = sample.size / best_time(lambda: scipy_func(sample), repeats=1 if not full else 3) / 1e6
        if name in fp:
            sample64 = crop.astype(np.float64)
            row["findpeaks_mpix_s"] = crop.size / best_time(lambda: fp[name](sample64.copy()), repeats=1) / 1e6
        target = TARGETS.get(name)
        scipy_ratio = ours_rate / row["scipy_mpix_s"] if "scipy_mpix_s" in row else None
        fp_ratio = ours_rate / row["findpeaks_mpix_s"] if "findpeaks_mpix_s" in row else None
        row.update(x_scipy=scipy_ratio, x_findpeaks=fp_ratio, target_mpix_s=target)
        results[name] = row
        verdict = "" if target is None else (f">= {target:g}: " + ("met" if ours_rate >= target else "NOT met"))
        if name in ("Lee", "Frost") and fp_ratio is not None:
            verdict += f"; >= 1000x findpeaks: {'met' if fp_ratio >= 1000 else 'NOT met'}"
        print(f"{name:12s} {ours_rate:9.1f} {row.get('scipy_mpix_s', float('nan')):9.2f} {row.get('findpeaks_mpix_s', float('nan')):10.4f} "
              f"{(scipy_ratio or float('nan')):9.1f} {(fp_ratio or float('nan')):12.0f}  {verdict}")
    if args.large:
        import subprocess
        import sys

        child = subprocess.run([sys.executable, __file__, "--large-child"], capture_output=True, text=True, check=True)
        large = json.loads(child.stdout.strip().splitlines()[-1])
        results["large_scene"] = large
        print(f"20,000 x 20,000 scene, Lee in 2048-pixel blocks from disk: {large['seconds_filter']:.1f} s, "
              f"peak memory of that process {large['peak_rss_mib']:.0f} MiB (target < 2048 MiB: {'met' if large['peak_rss_mib'] < 2048 else 'NOT met'})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
