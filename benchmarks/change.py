"""Change over time on the real Ottawa pair: the log-ratio baseline and the built-in model.

1. The log-ratio baseline (``logratio:otsu,3``) on the whole Ottawa pair against its reference
   map: Kappa, F1, PCC, false and missed alarms (the figure SAR change-detection papers report).
2. A build of the pair cut into ``--tile`` windows, split by block of 2 x 2 windows (so no test
   window shares a pixel with a train window), beside ``--simulated`` simulated pairs of
   ``--size`` pixels (changes of every kind and nuisances; all of them train the model too).
3. The built-in model trained on the train split (the demo's settings, ``--epochs``), and
   ``logratio:`` and the majority answer (the commonest training answer of each question type),
   on the Ottawa test windows: change-question accuracy per application (strict rules), the
   change maps of log-ratio (pooled Kappa, F1), and the change captions' CIDEr against a
   captioner that always says "No significant change between the two images."

Development numbers (the southern half of the pair and other pairs are kept aside).

    python benchmarks/change.py [--tile 32] [--simulated 400] [--size 64] [--epochs 12] [--image-size 128] [--out /tmp/change_bench] [--json F]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OTTAWA = ROOT.parent / "shared" / "data" / "change"


def _ottawa_test(records: list, ids: set[str] | None = None) -> list:
    return [r for r in records if r.split == "test" and r.source == "pairs" and (ids is None or r.id in ids)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tile", type=int, default=32)
    parser.add_argument("--simulated", type=int, default=400)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--image-size", type=int, default=128, help="the built-in model's picture side, pixels (windows are enlarged to it)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/change_bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not OTTAWA.is_dir():
        sys.exit(f"{OTTAWA} is absent: this benchmark runs on the real Ottawa pair of ../shared/data")
    import numpy as np
    from PIL import Image

    from sarlang.eval.change import confusion, map_scores
    from sarlang.models.logratio import load as load_logratio

    pair = OTTAWA / "ottawa_north"
    images = (str(pair / "ottawa_1997-05.png"), str(pair / "ottawa_1997-08.png"))
    truth = np.asarray(Image.open(pair / "ottawa_change.png").convert("L")) > 127
    whole = {}
    for threshold in ("otsu", "kmeans"):
        whole[threshold] = map_scores(confusion(truth, load_logratio(f"logratio:{threshold},3").change_map(images)))
        s = whole[threshold]
        print(f"log-ratio ({threshold}) on the whole pair: Kappa {s['kappa']:.3f}, F1 {s['f1'] * 100:.1f}%, PCC {s['pcc'] * 100:.1f}%, "
              f"false alarms {s['false_alarms']}, missed alarms {s['missed_alarms']}")

    out = args.out.resolve()
    build = out / "build"
    sources = [f"pairs:{OTTAWA},change=receded flood water"] + ([f"simulate-change:{args.simulated},size={args.size}"] if args.simulated else [])
    built = run_phase("from sarlang.corpus.dataset import BuildOptions, build_dataset\n"
                      f"RESULT = build_dataset({sources!r}, {str(build)!r}, BuildOptions(tile={args.tile}), restart=True)")
    print(f"build: {built['records']} records of {built['scenes']} pairs and windows in {built['seconds']} s")
    shutil.rmtree(out / "model", ignore_errors=True)
    from sarlang.cli.demo import BASELINE_SETTINGS

    records_file = build / "records.jsonl"
    config = {"model": "baseline", "records": str(records_file), "out": str(out / "model"), "epochs": args.epochs,
              **{**BASELINE_SETTINGS, "image_size": args.image_size}}
    train = run_phase(f"from sarlang.models.run import train_from_config\nm = train_from_config({config!r})\nRESULT = {{'info': m.info()}}")
    print(f"trained the built-in model in {train['seconds']} s (peak {train['peak_mib']:.0f} MiB)")
    for name, spec in (("model", str(out / "model")), ("logratio", "logratio:otsu,3")):
        run_phase("from sarlang.models.base import load_model\nfrom sarlang.models.run import predict_records\n"
                  f"RESULT = predict_records(load_model({spec!r}), {str(records_file)!r}, {str(out / (name + '.jsonl'))!r}, split='test', restart=True)")

    from sarlang.eval.captions import score_captions
    from sarlang.eval.change import score_change
    from sarlang.eval.vqa import majority_answers, majority_predictions, score_vqa
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records
    from sarlang.schema import CHANGE_APPLICATIONS
    from sarlang.vocabulary import NO_CHANGE

    records, _ = load_records(records_file)
    ottawa = {r.id for r in _ottawa_test(records)}
    result = {"whole_pair": whole, "build": {k: built[k] for k in ("records", "scenes", "by_split")}, "train_seconds": train["seconds"],
              "questions": {}, "captions_cider": {}}
    majority = majority_answers(records)
    for name in ("model", "logratio", "majority"):
        source = out / ("model.jsonl" if name == "majority" else f"{name}.jsonl")
        items = [it for it in load_eval_items(source, "jsonl", records_file, task="vqa", split="test").items
                 if it.id in ottawa and it.application in CHANGE_APPLICATIONS]
        if name == "majority":
            items = majority_predictions(majority, items)
        scores = score_vqa(items).to_json()
        result["questions"][name] = {"overall": scores["overall"], "by_application": {a: v["accuracy"] for a, v in scores["by_application"].items()}}
        print(f"{name:9} change questions on the Ottawa test windows: {scores['overall']['accuracy'] * 100:.1f}% "
              f"(n={scores['overall']['n']}); " + ", ".join(f"{a} {v['accuracy'] * 100:.0f}%" for a, v in scores["by_application"].items()))
        if name != "majority":
            captions = [it for it in load_eval_items(source, "jsonl", records_file, task="captions", split="test").items if it.id in ottawa]
            cider = score_captions([it.prediction for it in captions], [list(it.references) for it in captions], meteor=False).scores["CIDEr"]
            result["captions_cider"][name] = cider
            if name == "model":
                always = score_captions([NO_CHANGE] * len(captions), [list(it.references) for it in captions], meteor=False).scores["CIDEr"]
                result["captions_cider"]["no_change_always"] = always
    print("change captions' CIDEr on the Ottawa test windows: " + ", ".join(f"{k} {v:.3f}" for k, v in result["captions_cider"].items()))
    maps = score_change(out / "logratio.jsonl", build, meteor=False).get("maps")
    if maps:
        windows = [p for p in maps["per_pair"] if p["id"] in ottawa]
        result["logratio_windows"] = {"pooled_kappa_all_test_pairs": maps["pooled"]["kappa"], "ottawa_windows": len(windows),
                                      "ottawa_mean_kappa": float(np.mean([p["kappa"] for p in windows if p["kappa"] is not None])) if windows else None}
        print(f"log-ratio maps, all test pairs pooled: Kappa {maps['pooled']['kappa']:.3f}, F1 {maps['pooled']['f1'] * 100:.1f}%")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
