"""``sarlang demo``: the whole SARLANG-1M loop on an embedded default corpus, from nothing.

Simulate labelled SAR scenes at two resolutions (or read a given source), preprocess them with
the ``sarlang`` recipe, build captions and the seven applications, train the built-in model,
answer and caption the test split, score with both caption modes and both VQA modes, and write
``report.md`` and ``scores.json``: per-application accuracy next to the majority-answer baseline
(the most common training answer of each question type), caption metrics, and where the files are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from sarlang.cli.common import app, check_outputs, console, user_errors
from sarlang.cli.common import examples
from sarlang.schema import APPLICATIONS
from sarlang.vocabulary import counted

# 128-pixel scenes at the model's input size: small objects (cars at 2 m, aircraft at 6 m) keep
# their pixels instead of being shrunk away, and many scenes teach the object head more than few
# large ones for the same training time
DEFAULT_SOURCE = "simulate:{scenes},size=128,gsd=2+6"
DEFAULT_SCENES = 600
DEFAULT_EPOCHS = 6
#: The built-in model in the demo: the pretrained tower when installed (else the from-scratch
#: encoder), its grid trunk locked so each picture's features are computed once (the default;
#: fine-tuning it over 1,200 images for 6 epochs takes several times the 10-minute budget on 2 cores)
BASELINE_SETTINGS = {"encoder": "auto", "frozen_blocks": 12}
#: SAR-CLIP in the demo: a locked image trunk (its features computed once), so it trains in seconds
CLIP_SETTINGS = {"model": "clip", "epochs": 30, "frozen_blocks": 17}


def run_demo(
    out_dir: str | Path = "demo_out",
    source: str | None = None,
    scenes: int = DEFAULT_SCENES,
    epochs: int = DEFAULT_EPOCHS,
    say: Callable[[str], None] = print,
    meteor: bool = True,
) -> dict[str, Any]:
    # imported here so that the CLI, which reads this module's defaults, starts fast
    from sarlang.corpus.dataset import build_dataset
    from sarlang.eval.captions import score_captions
    from sarlang.eval.significance import paired_comparison
    from sarlang.eval.vqa import majority_answers, majority_predictions, score_vqa
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records
    from sarlang.files import atomic_write_json, atomic_write_text, json_safe
    from sarlang.models.run import predict_records, train_from_config

    out = Path(out_dir).resolve()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        timings[name] = round(time.perf_counter() - started, 1)
        say(f"{name} done in {timings[name]} s")

    src = source or DEFAULT_SOURCE.format(scenes=scenes)
    say(f"1/6 building the benchmark from {src}")
    started = time.perf_counter()
    summary = build_dataset([src], out / "build")
    step("build", started)
    records_file = out / "build" / "records.jsonl"
    records, _ = load_records(records_file)
    say(f"    {counted(summary['records'], 'record')} on {counted(summary['scenes'], 'scene')}; splits {summary['by_split']}")

    say(f"2/6 training the built-in model ({counted(epochs, 'epoch')} on the train split)")
    started = time.perf_counter()
    last = {"shown": 0.0}

    def progress(done: int, total: int, loss: float) -> None:
        if time.perf_counter() - last["shown"] > 15 or done == total:
            last["shown"] = time.perf_counter()
            say(f"    step {done}/{total}, loss {loss:.3f}")

    model = train_from_config({"model": "baseline", "records": str(records_file), "out": str(out / "model"), "epochs": epochs,
                               **BASELINE_SETTINGS}, on_progress=progress)
    step("train", started)

    say("3/6 answering and captioning the test split")
    started = time.perf_counter()
    predictions = out / "predictions.jsonl"
    predict_records(model, records_file, predictions, split="test", batch_size=64, restart=True)
    step("predict", started)

    say("4/6 scoring")
    started = time.perf_counter()
    captions = load_eval_items(predictions, "jsonl", records_file, task="captions")
    caption_scores = {}
    # the score files sarlang eval writes, for sarlang report
    (out / "eval").mkdir(exist_ok=True)
    for mode in ("sarlang", "coco"):
        try:
            result = score_captions([i.prediction for i in captions.items], [list(i.references) for i in captions.items], mode=mode, meteor=meteor)
            caption_scores[mode] = result.to_json()
            atomic_write_json(out / "eval" / f"captions_{mode}.json", json_safe(captions.score_file(result.to_json(), predictions, result.per_sample)))
        except Exception as exc:  # coco mode needs Java; report why a mode is missing instead of failing the demo
            caption_scores[mode] = {"unavailable": f"{type(exc).__name__}: {exc}"}
    vqa = load_eval_items(predictions, "jsonl", records_file, task="vqa")
    vqa_scores = {mode: score_vqa(vqa.items, mode=mode) for mode in ("strict", "official")}
    atomic_write_json(out / "eval" / "vqa.json", json_safe(vqa.score_file(vqa_scores["strict"].to_json(), predictions)))
    majority = score_vqa(majority_predictions(majority_answers(records), vqa.items), mode="strict")
    step("score", started)

    say("5/6 SAR-CLIP: training on the train split's captions, retrieval and zero-shot on the test split")
    started = time.perf_counter()
    clip = sar_clip_scores(out, records_file, progress)
    step("sar_clip", started)
    say("    " + (f"unavailable: {clip['unavailable']}" if "unavailable" in clip else f"retrieval mR {clip['retrieval']['mR'] * 100:.1f}"))

    say("6/6 writing the report")
    per_app = {}
    for application in APPLICATIONS[1:]:
        if application in vqa_scores["strict"].by_application:
            model_acc = vqa_scores["strict"].by_application[application]
            base_acc = majority.by_application[application]
            # the same items in the same order: a paired test of the model against the majority answer
            ours = [i.correct for i in vqa_scores["strict"].items if i.application == application]
            theirs = [i.correct for i in majority.items if i.application == application]
            versus = paired_comparison(theirs, ours)
            per_app[application] = {"model": model_acc.to_dict(), "majority": base_acc.to_dict(), "official_mode": vqa_scores["official"].by_application[application].to_dict(),
                            "difference": versus["difference"], "difference_ci95": versus.get("ci95"), "p_mcnemar": versus["p_mcnemar"]}
    scores = {
        "source": src,
        "records": summary["records"],
        "scenes": summary["scenes"],
        "model": model.info(),
        "vqa": {"strict": vqa_scores["strict"].overall.to_dict(), "official": vqa_scores["official"].overall.to_dict(),
                "majority_baseline": majority.overall.to_dict(), "by_application": per_app},
        "captions": caption_scores,
        "sar_clip": clip,
        "rejects": {"captions": len(captions.rejects), "vqa": len(vqa.rejects)},
        "seconds": {**timings, "total": round(time.perf_counter() - t0, 1)},
        "files": {"records": str(records_file), "model": str(out / "model"), "predictions": str(predictions),
                  "llamafactory_predictions": str(out / "generated_predictions.jsonl")},
    }
    atomic_write_json(out / "scores.json", scores)
    atomic_write_text(out / "report.md", report_markdown(scores))
    say(f"    {html_report(out)}")
    say(f"done in {scores['seconds']['total']} s: {out / 'report.md'}")
    return scores


def html_report(out: Path) -> str:
    """Write ``report.html`` beside ``report.md`` (:mod:`sarlang.eval.report`) and say where, or
    why it could not be written (the ``report`` extra missing)."""
    from sarlang.errors import MissingDependencyError
    from sarlang.eval.report import write_report

    try:
        result = write_report([out], out / "report.html", ["built-in model"])
    except MissingDependencyError as exc:
        return f"no HTML report: {exc}"
    return f"HTML report: {result['out']} ({result['bytes'] / 1e6:.1f} MB)"


def sar_clip_scores(out: Path, records_file: Path, progress: Callable[[int, int, float], None]) -> dict[str, Any]:
    """Train SAR-CLIP (:data:`CLIP_SETTINGS`) on the build's train captions and score it on the
    test split: retrieval over the captions, zero-shot over the images that show one category.
    Without the towers or embedding extras, or without such images, says why instead."""
    from sarlang.errors import InputError, MissingDependencyError
    from sarlang.eval.retrieval import TEMPLATES, model_retrieval, model_zeroshot
    from sarlang.formats.embedding_sets import caption_set, class_set
    from sarlang.models.run import train_from_config

    try:
        model = train_from_config({**CLIP_SETTINGS, "records": str(records_file), "out": str(out / "clip")}, on_progress=progress)
    except MissingDependencyError as exc:
        return {"unavailable": f"{exc} ({exc.hint})"}
    captions = caption_set(records_file, "test")
    result: dict[str, Any] = {"model": model.info(), "files": str(out / "clip"), "retrieval": model_retrieval(model, captions)}
    try:
        classes = class_set(out / "build", None, "test")
    except InputError as exc:
        result["zeroshot"] = {"unavailable": str(exc)}
        return result
    result["zeroshot"] = model_zeroshot(model, classes, TEMPLATES["sar"])
    return result


def _pct(d: dict[str, Any]) -> str:
    return f"{d['accuracy'] * 100:.1f}"


def report_markdown(scores: dict[str, Any]) -> str:
    v = scores["vqa"]
    lines = [
        "# sarlang demo report", "",
        f"Source: `{scores['source']}` — {counted(scores['scenes'], 'scene')}, {counted(scores['records'], 'record')}. "
        f"Model: the built-in baseline ({scores['model']['parameters']:,} parameters, {counted(scores['model']['epochs'], 'epoch')}). "
        f"Total time {scores['seconds']['total']} s.", "",
        "## VQA accuracy on the test split (strict rules, no judge)", "",
        "| application | model % | majority answer % | difference, points (95% CI) | McNemar p | n | model, official rules % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for application, d in v["by_application"].items():
        low, high = d["difference_ci95"] or (float("nan"), float("nan"))
        lines.append(f"| {application} | {_pct(d['model'])} | {_pct(d['majority'])} | {d['difference'] * 100:+.1f} ({low * 100:+.1f} to {high * 100:+.1f}) "
                     f"| {d['p_mcnemar']:.1g} | {d['model']['n']} | {_pct(d['official_mode'])} |")
    lines.append(f"| **overall** | **{_pct(v['strict'])}** | {_pct(v['majority_baseline'])} | | | {v['strict']['n']} | {_pct(v['official'])} |")
    lines += ["", "Majority answer: the most common training answer of each question type. Difference: model minus majority "
              "on the same questions, with a paired-bootstrap 95% interval and McNemar's exact test.", "", "## Captions (test split)", "",
              "| mode | Bleu_1 | Bleu_4 | METEOR | ROUGE_L | CIDEr |", "|---|---:|---:|---:|---:|---:|"]
    for mode, c in scores["captions"].items():
        if "scores" not in c:
            lines.append(f"| {mode} | unavailable: {c['unavailable']} | | | | |")
            continue
        s = c["scores"]
        cell = lambda k: "n/a" if s[k] is None else f"{s[k] * 100:.1f}"  # noqa: E731
        lines.append(f"| {mode} | {cell('Bleu_1')} | {cell('Bleu_4')} | {cell('METEOR')} | {cell('ROUGE_L')} | {cell('CIDEr')} |")
    lines += _sar_clip_lines(scores.get("sar_clip", {}))
    lines += ["", "## Files", ""] + [f"- {k}: `{p}`" for k, p in scores["files"].items()]
    lines += ["", "Time per step (s): " + ", ".join(f"{k} {t}" for k, t in scores["seconds"].items())]
    return "\n".join(lines) + "\n"


def _sar_clip_lines(clip: dict[str, Any]) -> list[str]:
    lines = ["", "## SAR-CLIP: retrieval and zero-shot classification (test split)", ""]
    if "unavailable" in clip:
        return lines + [f"Unavailable: {clip['unavailable']}"]
    r = clip["retrieval"]
    lines += [f"Trained {counted(clip['model']['epochs'], 'epoch')} on the train split's captions, image trunk locked "
              f"(frozen_blocks {clip['model']['frozen_blocks']}). Retrieval over {counted(r['images'], 'image')} and {counted(r['texts'], 'caption')}:", "",
              "| direction | R@1 | R@5 | R@10 |", "|---|---:|---:|---:|"]
    for way, name in (("i2t", "image → text"), ("t2i", "text → image")):
        lines.append(f"| {name} | " + " | ".join(f"{r[way][k] * 100:.1f}" for k in ("R@1", "R@5", "R@10")) + " |")
    lines += ["", f"mR {r['mR'] * 100:.1f}.", ""]
    z = clip["zeroshot"]
    if "unavailable" in z:
        lines.append(f"Zero-shot: unavailable ({z['unavailable']}).")
    else:
        lines.append(f"Zero-shot over the {z['n']} test images that show one category ({', '.join(z['classes'])}), "
                     f"prompts \"a SAR image of a {{}}.\" and three others averaged: top-1 {z['top1'] * 100:.1f}%, "
                     f"top-5 {z['top5'] * 100:.1f}%, mean per class {z['mean_per_class'] * 100:.1f}%.")
    return lines


@app.command("demo", epilog=examples("sarlang demo --out demo_out", "sarlang demo --source voc:../shared/data/mstar_scenes"))
@user_errors
def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo_out"),
    source: Annotated[str | None, typer.Option("--source", help="KIND:PATH to run on instead of simulated scenes.")] = None,
    scenes: Annotated[int, typer.Option("--scenes", min=4, help="Simulated scenes (each at two resolutions).")] = DEFAULT_SCENES,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs of the built-in model.")] = DEFAULT_EPOCHS,
    meteor: Annotated[bool, typer.Option("--meteor/--no-meteor", help="Compute METEOR (Java).")] = True,
) -> None:
    """The whole loop: simulate, preprocess, build, train, predict, score, report (demo_out/report.md and report.html)."""
    check_outputs(folders={"--out folder": out})
    run_demo(out, source, scenes, epochs, say=lambda text: console.print(text, highlight=False), meteor=meteor)
    console.print((out / "report.md").read_text(encoding="utf-8"), highlight=False, markup=False)

