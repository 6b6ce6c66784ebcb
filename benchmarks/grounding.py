"""The built-in model's box answers (visual grounding) against the mean training box, on any source.

Builds SOURCE with visual-grounding questions (``--grounding sarlang``), trains the built-in model
on the train split (the demo's settings by default), answers the test split, and scores the box
answers (``sarlang eval grounding``) next to the trivial baseline: the mean training box, scaled
to each image. By default the demo's corpus (600 simulated scenes of 128 pixels at 2 m and 6 m).

    python benchmarks/grounding.py [--source simulate:600,size=128,gsd=2+6] [--epochs 6] [--out /tmp/grounding_bench] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="simulate:600,size=128,gsd=2+6")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("/tmp/grounding_bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = args.out.resolve()
    records = out / "build" / "records.jsonl"
    run_phase("from sarlang.corpus.dataset import BuildOptions, build_dataset\n"
              f"RESULT = build_dataset([{args.source!r}], {str(out / 'build')!r}, BuildOptions(grounding='sarlang'), restart=True)")
    import shutil

    shutil.rmtree(out / "model", ignore_errors=True)
    from sarlang.cli.demo import BASELINE_SETTINGS

    config = {"model": "baseline", "records": str(records), "out": str(out / "model"), "epochs": args.epochs, **BASELINE_SETTINGS}
    train = run_phase(f"from sarlang.models.run import train_from_config\nm = train_from_config({config!r})\nRESULT = {{'info': m.info()}}")
    run_phase("from sarlang.models.base import load_model\nfrom sarlang.models.run import predict_records\n"
              f"RESULT = predict_records(load_model({str(out / 'model')!r}), {str(records)!r}, {str(out / 'predictions.jsonl')!r}, split='test', restart=True)")
    from sarlang.eval.grounding import grounding_items, mean_box_answers, score_grounding
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records

    all_records, _ = load_records(records)
    items = load_eval_items(out / "predictions.jsonl", "jsonl", records, task="grounding", split="test").items
    mean = mean_box_answers(all_records)
    result = {"source": args.source, "train_seconds": train["seconds"], "grounding": {}}
    for name, answered in (("model", items), ("mean_box", [replace(it, prediction=mean.get(it.id, "")) for it in items])):
        scores = score_grounding(grounding_items(answered, all_records))
        scores.pop("items")
        result["grounding"][name] = scores
        single, several = scores["single"], scores["several"]
        print(f"{name:9} one target (n={single['n']}): Acc@0.5 {single['acc@0.5'] * 100:.1f}%, Acc@0.7 {single['acc@0.7'] * 100:.1f}%, "
              f"mean IoU {single['mean_iou'] * 100:.1f}% (unique {single['unique']['acc@0.5'] * 100 if single['unique']['n'] else float('nan'):.1f}%, "
              f"non-unique {single['non_unique']['acc@0.5'] * 100 if single['non_unique']['n'] else float('nan'):.1f}% at 0.5); "
              f"several (n={several['n']}): P {several['precision@0.5'] * 100:.1f}%, R {several['recall@0.5'] * 100:.1f}%, F1 {several['f1@0.5'] * 100:.1f}%")
    print(f"train {train['seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
