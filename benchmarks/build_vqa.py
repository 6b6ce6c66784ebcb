"""Records per second of `sarlang build` on 100,000 synthetic COCO-style scenes, in one run.

Writes a COCO detection file with 100,000 images (SARDet-100K's six categories, about 2.3
objects per image, its density) and an empty placeholder file per image (the builder checks
that images exist; it never reads their pixels), then times ``build_dataset`` end to end:
reading the annotations, generating captions and the seven applications, writing
``records.jsonl`` and ``records.parquet``. Target (issue 4): at least 50,000 records/s on this
2-core machine, so a SARDet-100K-sized build (about 1M records) takes under a minute.

    python benchmarks/build_vqa.py [--scenes 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

CATEGORIES = ["aircraft", "ship", "car", "tank", "bridge", "harbor"]


def write_coco(root: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    images, annotations = [], []
    (root / "JPEGImages").mkdir(parents=True)
    ann_id = 0
    for i in range(n):
        name = f"{i:07d}.jpg"
        (root / "JPEGImages" / name).touch()
        size = rng.choice([512, 800, 1024])
        images.append({"id": i, "file_name": name, "width": size, "height": size})
        k = min(int(rng.expovariate(1 / 2.3)) + (1 if rng.random() < 0.7 else 0), 30)
        main = rng.randrange(len(CATEGORIES))
        for _ in range(k):
            cat = main if rng.random() < 0.7 else rng.randrange(len(CATEGORIES))
            w, h = rng.uniform(8, 120), rng.uniform(8, 120)
            annotations.append({"id": ann_id, "image_id": i, "category_id": cat + 1, "bbox": [rng.uniform(0, size - w), rng.uniform(0, size - h), w, h]})
            ann_id += 1
    (root / "Annotations").mkdir()
    categories = [{"id": i + 1, "name": c} for i, c in enumerate(CATEGORIES)]
    (root / "Annotations" / "train.json").write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    from sarlang.corpus.dataset import build_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "coco"
        t0 = time.perf_counter()
        write_coco(root, args.scenes)
        print(f"wrote {args.scenes} COCO scenes in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        summary = build_dataset([f"coco:{root}"], Path(tmp) / "out")
        seconds = time.perf_counter() - t0
    rate = summary["records"] / seconds
    print(f"build: {summary['records']} records from {summary['scenes']} scenes in {seconds:.1f} s = {rate:,.0f} records/s "
          f"(target >= 50,000: {'met' if rate >= 50_000 else 'NOT met'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"scenes": summary["scenes"], "records": summary["records"], "seconds": seconds, "records_per_s": rate}, indent=2))


if __name__ == "__main__":
    main()
