"""Referring segmentation on real HRSID tiles: the built-in model's mask answers against trivial baselines.

1. A build of ``../shared/data/hrsid`` (24 tiles, binary masks) and ``hrsid_official`` (4 tiles,
   instance masks) with mask questions (``--segmentation polygon``) and box questions
   (``--grounding sarlang``) of the same targets, its tiles dealt into ``--folds`` folds (by
   name): each fold is the test split once, the other tiles train, so every tile is tested once
   and never by a model that saw it (held-out-style splits).
2. The built-in model trained on each fold's train split (the demo's settings, ``--epochs``; its mask
   head learns from the train tiles' masks), then asked the test tiles' questions.
3. Scored with ``sarlang eval segmentation``'s protocol (gIoU, cIoU, P@0.5 ... P@0.9), pooled
   over the folds' test items: the model's masks; its grounding head's boxes of the same targets
   scored as masks; the true boxes as masks (what a perfect box answer reaches); the training
   targets' mean mask. Per fold and pooled over the folds.

Development numbers (further HRSID tiles are kept aside).

    python benchmarks/segmentation.py [--folds 3] [--epochs 8] [--out /tmp/seg_bench] [--json F]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("/tmp/seg_bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not (DATA / "hrsid").is_dir():
        sys.exit(f"{DATA / 'hrsid'} is absent: this benchmark runs on the real HRSID tiles of ../shared/data")
    import numpy as np

    from sarlang.cli.demo import BASELINE_SETTINGS
    from sarlang.eval.segmentation import SegmentationItem, box_answers_for_masks, mean_mask_answers, score_segmentation, segmentation_items
    from sarlang.formats.masks import parse_masks, record_masks
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records
    from sarlang.schema import EvalItem

    out = args.out.resolve()
    pooled: dict[str, list] = {"model": [], "model_boxes_as_masks": [], "true_boxes_as_masks": [], "mean_mask": []}
    runs = []
    build = out / "build"
    sources = [f"masks:{DATA / 'hrsid'}", f"masks:{DATA / 'hrsid_official'}"]
    built = run_phase("from sarlang.corpus.dataset import BuildOptions, build_dataset\n"
                      f"RESULT = build_dataset({sources!r}, {str(build)!r}, BuildOptions(segmentation='polygon', grounding='sarlang'), restart=True)")
    built_rows = [json.loads(line) for line in (build / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    all_tiles = sorted({row["image"] for row in built_rows})
    fold_of = {image: k % args.folds for k, image in enumerate(all_tiles)}
    for fold in range(args.folds):
        # the fold's records beside the build's, so image paths and objects.jsonl resolve as they do there
        records_file = build / f"records_fold{fold}.jsonl"
        records_file.write_text("".join(json.dumps({**row, "split": "test" if fold_of[row["image"]] == fold else "train"}, ensure_ascii=False) + "\n"
                                        for row in built_rows), encoding="utf-8")
        seed = fold
        shutil.rmtree(out / f"model{seed}", ignore_errors=True)
        config = {"model": "baseline", "records": str(records_file), "out": str(out / f"model{seed}"), "epochs": args.epochs, **BASELINE_SETTINGS}
        train = run_phase(f"from sarlang.models.run import train_from_config\nm = train_from_config({config!r})\nRESULT = {{'info': m.info()}}")
        predictions = out / f"model{seed}.jsonl"
        run_phase("from sarlang.models.base import load_model\nfrom sarlang.models.run import predict_records\n"
                  f"RESULT = predict_records(load_model({str(out / f'model{seed}')!r}), {str(records_file)!r}, {str(predictions)!r}, split='test', restart=True)")
        records, _ = load_records(records_file)
        items = load_eval_items(predictions, "jsonl", records_file, task="segmentation", split="test").items
        mine = segmentation_items(items, records)
        pooled["model"] += mine
        grounding = {it.id: it.prediction for it in load_eval_items(predictions, "jsonl", records_file, task="grounding", split="test").items}
        boxes = box_answers_for_masks(grounding, records)
        mean = mean_mask_answers(records)
        by_id = {r.id: r for r in records}
        tiles = sorted({Path(by_id[it.id].image).name for it in items})
        for it in items:
            record = by_id[it.id]
            truth, width, height, unique = record_masks(record)
            for name, answer in (("model_boxes_as_masks", boxes.get(it.id, "")), ("mean_mask", mean.get(it.id, ""))):
                pooled[name].append(SegmentationItem(it.id, parse_masks(answer, width, height), tuple(truth), unique, it.question_type))
            true_boxes = []
            for m in truth:
                rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
                true_boxes.append(f"[{cols[0]}, {rows[0]}, {cols[-1] + 1 - cols[0]}, {rows[-1] + 1 - rows[0]}]")
            pooled["true_boxes_as_masks"].append(SegmentationItem(it.id, parse_masks(", ".join(true_boxes), width, height), tuple(truth), unique,
                                                                  it.question_type))
        fold_scores = score_segmentation(mine)
        runs.append({"fold": fold, "test_tiles": tiles, "test_items": len(items), "train_seconds": train["seconds"],
                     "model_gIoU": fold_scores["gIoU"], "model_cIoU": fold_scores["cIoU"], "model_boxes_matched": len(boxes)})
        print(f"fold {fold}: {len(items)} mask questions on {len(tiles)} test tiles; trained in {train['seconds']} s; "
              f"model gIoU {fold_scores['gIoU'] * 100:.1f}%, cIoU {fold_scores['cIoU'] * 100:.1f}%")
    result = {"records": built["records"], "tiles": len(all_tiles), "folds": runs, "scores": {}}
    for name, scored in pooled.items():
        s = score_segmentation(scored)
        result["scores"][name] = {k: s[k] for k in ("n", "gIoU", "cIoU", "P@0.5", "P@0.7", "P@0.9")} | {
            "unique_gIoU": s["unique"]["gIoU"], "non_unique_gIoU": s["non_unique"]["gIoU"], "parsed_as": s["parsed_as"]}
        print(f"{name:22} n={s['n']:3}  gIoU {s['gIoU'] * 100:5.1f}%  cIoU {s['cIoU'] * 100:5.1f}%  P@0.5 {s['P@0.5'] * 100:5.1f}%  "
              f"P@0.7 {s['P@0.7'] * 100:5.1f}%  (unique {s['unique']['gIoU'] * 100 if s['unique']['n'] else float('nan'):.1f}%, "
              f"others {s['non_unique']['gIoU'] * 100 if s['non_unique']['n'] else float('nan'):.1f}%)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
