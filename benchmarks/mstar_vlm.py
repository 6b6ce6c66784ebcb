"""The built-in VLM on real MSTAR: trained on scenes and chips, tested on scenes it never saw.

Builds one benchmark from ``../shared/data/mstar_scenes`` (VOC boxes) and
``../shared/data/mstar_chips`` (class folders, through the ``folders:`` source); splits are
hashed per image, so no test image is seen in training. Trains the built-in model on the train
split, answers the test questions of the *scenes*, and scores them (strict rules, no judge)
against two baselines that never look at the image: the most common training answer of each
question type ("majority", as SARLANG-1M-style papers report it) and the blind prior
(``prior:BUILD``, most common answer per question). Each phase runs in its own process, whose
wall time and peak resident memory are reported. Targets (issue 12): overall accuracy at least
20 points above the majority answer; object classification at least 60%.

    python benchmarks/mstar_vlm.py [--data ../shared/data] [--out /tmp/mstar_vlm] [--epochs 8]
                                   [--image-size 128] [--encoder auto] [--set object_views=16]
                                   [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mstar_vlm"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--encoder", default="auto")
    parser.add_argument("--no-chips", action="store_true", help="train on the scenes alone")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="another model setting (number), repeatable")
    parser.add_argument("--grounding", action="store_true", help="also build visual-grounding questions and score the model's boxes against the mean training box")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / "mstar_scenes").is_dir() or not (args.data / "mstar_chips").is_dir():
        sys.exit(f"{args.data} lacks mstar_scenes/ or mstar_chips/ (see ../shared/data/README.md)")
    out = args.out.resolve()
    sources = [f"voc:{args.data / 'mstar_scenes'},sensor=MSTAR"] + ([] if args.no_chips else [f"folders:{args.data / 'mstar_chips'},sensor=MSTAR"])
    build = run_phase("from sarlang.corpus.dataset import BuildOptions, build_dataset\n"
                      f"RESULT = build_dataset({sources!r}, {str(out / 'build')!r}, BuildOptions(grounding={'sarlang' if args.grounding else ''!r}), restart=True)")
    records = out / "build" / "records.jsonl"
    config = {"model": "baseline", "records": str(records), "out": str(out / "model"), "epochs": args.epochs,
              "image_size": args.image_size, "encoder": args.encoder}
    for pair in args.set:
        key, _, value = pair.partition("=")
        config[key] = float(value) if "." in value or "e" in value else int(value)
    import shutil

    shutil.rmtree(out / "model", ignore_errors=True)
    train = run_phase(f"from sarlang.models.run import train_from_config\nm = train_from_config({config!r})\nRESULT = {{'info': m.info()}}")
    predict = run_phase(
        "from sarlang.models.base import load_model\nfrom sarlang.models.run import predict_records\n"
        f"m = load_model({str(out / 'model')!r})\n"
        f"RESULT = predict_records(m, {str(records)!r}, {str(out / 'predictions.jsonl')!r}, split='test', batch_size=64, restart=True)")
    run_phase(
        "from sarlang.models.base import load_model\nfrom sarlang.models.run import predict_records\n"
        f"m = load_model('prior:' + {str(out / 'build')!r})\n"
        f"RESULT = predict_records(m, {str(records)!r}, {str(out / 'prior.jsonl')!r}, split='test', batch_size=256, restart=True)")

    from sarlang.eval.vqa import majority_answers, majority_predictions, score_vqa
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records
    from sarlang.schema import EvalItem

    all_records, _ = load_records(records)
    scene_ids = {r.id for r in all_records if r.source == "voc" and r.split == "test"}
    test_images = {r.image for r in all_records if r.id in scene_ids}

    def scene_items(path: Path) -> list[EvalItem]:
        loaded = load_eval_items(path, "jsonl", records, task="vqa", split="test")
        return [it for it in loaded.items if it.id in scene_ids]

    model_items = scene_items(out / "predictions.jsonl")
    prior_items = scene_items(out / "prior.jsonl")
    majority_items = majority_predictions(majority_answers(all_records), model_items)
    scores = {name: score_vqa(items, mode="strict") for name, items in
              (("model", model_items), ("majority", majority_items), ("prior", prior_items))}
    applications = sorted(scores["model"].by_application)
    result = {
        "build": {"seconds": build["seconds"], "records": build["records"], "scenes": build["scenes"]},
        "train": {"seconds": train["seconds"], "peak_mib": round(train["peak_mib"]), "model": train["info"]},
        "predict": {"seconds": predict["seconds"], "peak_mib": round(predict["peak_mib"]), "records": predict["predicted"],
                    "test_images": len({r.image for r in all_records if r.split == "test"}),
                    "images_per_s": round(len({r.image for r in all_records if r.split == "test"}) / predict["seconds"], 2)},
        "test_scene_questions": len(model_items), "test_scenes": len(test_images),
        "overall": {name: round(s.overall.accuracy * 100, 1) for name, s in scores.items()},
        "by_application": {a: {name: round(s.by_application[a].accuracy * 100, 1) for name, s in scores.items()} for a in applications},
    }
    margin = result["overall"]["model"] - result["overall"]["majority"]
    classification = result["by_application"].get("object_classification", {}).get("model", 0.0)
    result["targets"] = {"overall_minus_majority": round(margin, 1), "overall_target_met": margin >= 20,
                         "object_classification": classification, "classification_target_met": classification >= 60}
    print(f"test: {len(model_items)} questions on {len(test_images)} MSTAR scenes never seen in training")
    print(f"{'application':24} {'model':>7} {'majority':>9} {'prior':>7}")
    for a in applications:
        row = result["by_application"][a]
        print(f"{a:24} {row['model']:7.1f} {row['majority']:9.1f} {row['prior']:7.1f}")
    print(f"{'overall':24} {result['overall']['model']:7.1f} {result['overall']['majority']:9.1f} {result['overall']['prior']:7.1f}")
    print(f"train {train['seconds']} s (peak {round(train['peak_mib'])} MiB), predict {predict['seconds']} s "
          f"({result['predict']['images_per_s']} images/s), encoder {train['info'].get('encoder')}")
    print(f"targets: overall - majority = {margin:.1f} points (>= 20: {margin >= 20}); "
          f"object classification {classification:.1f}% (>= 60: {classification >= 60})")
    if args.grounding:
        from dataclasses import replace

        from sarlang.eval.grounding import grounding_items, mean_box_answers, score_grounding

        boxes = [it for it in load_eval_items(out / "predictions.jsonl", "jsonl", records, task="grounding", split="test").items if it.id in scene_ids]
        mean = mean_box_answers(all_records)
        baseline = [replace(it, prediction=mean.get(it.id, "")) for it in boxes]
        result["grounding"] = {name: score_grounding(grounding_items(items, all_records)) for name, items in (("model", boxes), ("mean_box", baseline))}
        for name, g in result["grounding"].items():
            g.pop("items")
            single, several = g["single"], g["several"]
            print(f"grounding {name:9} one target (n={single['n']}): Acc@0.5 {single['acc@0.5'] * 100:.1f}%, Acc@0.7 {single['acc@0.7'] * 100:.1f}%, "
                  f"mean IoU {single['mean_iou'] * 100:.1f}%; several targets (n={several['n']}): F1@0.5 {several['f1@0.5'] * 100:.1f}%")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
