"""SAR-CLIP on real data: zero-shot classification of MSTAR chips it never saw, retrieval on HRSID.

1. Builds ``../shared/data/mstar_chips`` (``folders:`` source; splits hashed per image), trains
   SAR-CLIP (``model: clip``) on the train split's captions, and scores zero-shot classification
   (``sarlang eval zeroshot``, SAR templates) and caption retrieval on the test split. Target
   (issue 12): zero-shot top-1 at least 90%.
2. Builds the HRSID tiles (``masks:`` sources), trains SAR-CLIP on their train captions together
   with the chips', and reports retrieval R@K over the HRSID test captions.

Each training and scoring runs in its own process; wall time and peak memory are reported.

    python benchmarks/sar_clip.py [--data ../shared/data] [--out /tmp/sar_clip] [--epochs 16] [--frozen-blocks 17] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402


def cli(*args: str) -> dict:
    """Run ``sarlang ARGS --json F`` and return its JSON, wall time and the command."""
    out = Path(args[args.index("--json") + 1])
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "sarlang"), *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"sarlang {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return {"seconds": round(time.perf_counter() - started, 1), **json.loads(out.read_text())}


def train(records: Path, out: Path, epochs: int, frozen_blocks: int | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    config = {"model": "clip", "records": str(records), "out": str(out), "epochs": epochs}
    if frozen_blocks is not None:
        config["frozen_blocks"] = frozen_blocks
    return run_phase(f"from sarlang.models.run import train_from_config\nRESULT = {{'info': train_from_config({config!r}).info()}}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/tmp/sar_clip"))
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--frozen-blocks", type=int, default=None, help="tower blocks kept frozen (default: the model's; 17 locks the trunk)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    for folder in ("mstar_chips", "hrsid", "hrsid_official"):
        if not (args.data / folder).is_dir():
            sys.exit(f"{args.data} lacks {folder}/ (see ../shared/data/README.md)")
    out = args.out.resolve()
    chips = out / "chips"
    run_phase(f"from sarlang.corpus.dataset import build_dataset\nRESULT = build_dataset(['folders:{args.data / 'mstar_chips'}'], {str(chips)!r}, restart=True)")
    trained = train(chips / "records.jsonl", out / "clip_chips", args.epochs, args.frozen_blocks)
    zeroshot = cli("eval", "zeroshot", "--model", str(out / "clip_chips"), "--images", str(chips), "--split", "test", "--json", str(out / "zeroshot.json"))
    chips_retrieval = cli("eval", "retrieval", "--model", str(out / "clip_chips"), "--records", str(chips), "--split", "test",
                          "--json", str(out / "retrieval_chips.json"))
    mixed = out / "mixed"
    sources = [f"folders:{args.data / 'mstar_chips'}", f"masks:{args.data / 'hrsid'}", f"masks:{args.data / 'hrsid_official'}"]
    run_phase(f"from sarlang.corpus.dataset import build_dataset\nRESULT = build_dataset({sources!r}, {str(mixed)!r}, restart=True)")
    trained_mixed = train(mixed / "records.jsonl", out / "clip_mixed", args.epochs, args.frozen_blocks)
    hrsid_only = out / "hrsid"
    run_phase(f"from sarlang.corpus.dataset import build_dataset\nRESULT = build_dataset({sources[1:]!r}, {str(hrsid_only)!r}, restart=True)")
    hrsid_retrieval = cli("eval", "retrieval", "--model", str(out / "clip_mixed"), "--records", str(hrsid_only), "--split", "test",
                          "--json", str(out / "retrieval_hrsid.json"))
    result = {
        "chips": {"train_seconds": trained["seconds"], "train_peak_mib": round(trained["peak_mib"]),
                  "zeroshot": {k: zeroshot[k] for k in ("top1", "top5", "mean_per_class", "n", "classes", "confusion")},
                  "zeroshot_seconds": zeroshot["seconds"], "images_per_s": round(zeroshot["n"] / zeroshot["seconds"], 1),
                  "retrieval": {k: chips_retrieval[k] for k in ("i2t", "t2i", "mR", "images", "texts")}},
        "hrsid": {"train_seconds": trained_mixed["seconds"], "retrieval": {k: hrsid_retrieval[k] for k in ("i2t", "t2i", "mR", "images", "texts")}},
    }
    z = result["chips"]["zeroshot"]
    print(f"MSTAR chips, zero-shot on {z['n']} unseen chips: top-1 {z['top1'] * 100:.1f}%, top-5 {z['top5'] * 100:.1f}%, "
          f"mean per class {z['mean_per_class'] * 100:.1f}% (target top-1 >= 90: {z['top1'] >= 0.9})")
    print(f"  trained in {trained['seconds']} s (peak {round(trained['peak_mib'])} MiB); zero-shot {result['chips']['images_per_s']} images/s end to end")
    for name, r in (("MSTAR chips", result["chips"]["retrieval"]), ("HRSID", result["hrsid"]["retrieval"])):
        print(f"{name} retrieval ({r['images']} images, {r['texts']} captions): "
              + "  ".join(f"i2t {k} {v * 100:.1f}" for k, v in r["i2t"].items()) + "  "
              + "  ".join(f"t2i {k} {v * 100:.1f}" for k, v in r["t2i"].items()) + f"  mR {r['mR'] * 100:.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
