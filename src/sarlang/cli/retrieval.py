"""``sarlang eval retrieval`` and ``sarlang eval zeroshot``: a CLIP model's image–text retrieval and
zero-shot classification, scored as SAR and remote-sensing CLIP papers report them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sarlang.cli.common import JsonOpt, check_outputs, console, err_console, user_errors
from sarlang.cli.common import examples
from sarlang.cli.evaluate import eval_app
from sarlang.errors import InputError
from sarlang.vocabulary import counted

ModelOpt = Annotated[str, typer.Option("--model", help="A SAR-CLIP folder from sarlang train (model: clip), or openclip:ARCH@CHECKPOINT.")]


def _embedding_model(spec: str) -> Any:
    from sarlang.models.base import load_model

    model = load_model(spec)
    if not (hasattr(model, "embed_images") and hasattr(model, "embed_texts")):
        raise InputError(f"'{spec}' does not embed images and texts", hint="give a SAR-CLIP model (sarlang train with model: clip) or openclip:ARCH@CHECKPOINT")
    return model


def _templates(name: str) -> tuple[str, ...]:
    from sarlang.eval.retrieval import TEMPLATES

    if name in TEMPLATES:
        return TEMPLATES[name]
    path = Path(name)
    if not path.is_file():
        raise InputError(f"unknown templates '{name}'", hint=f"use {', '.join(TEMPLATES)} or a file with one template ({{}} for the class) per line")
    lines = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not lines or not all(line.count("{}") == 1 for line in lines):
        raise InputError(f"templates file '{path}' needs one template per line, each with {{}} once")
    return lines


def _write(result: dict[str, Any], json_out: Path | None) -> None:
    from sarlang.files import atomic_write_json

    if json_out is not None:
        atomic_write_json(json_out, result)
        console.print(f"scores written to {json_out}", highlight=False)


@eval_app.command("retrieval", epilog=examples("sarlang eval retrieval --model mybench/clip --records mybench --split test --json retrieval.json"))
@user_errors
def eval_retrieval(
    model: ModelOpt,
    records: Annotated[Path, typer.Option("--records", help="A build folder or its records.jsonl (its captions are the texts).")],
    split: Annotated[str, typer.Option("--split", help="Which split's images and captions ('all' for every one).")] = "test",
    json_out: JsonOpt = None,
) -> None:
    """Image->text and text->image recall at 1, 5, 10 and their mean (mR) over a build's captions."""
    from sarlang.eval.retrieval import model_retrieval
    from sarlang.formats.embedding_sets import caption_set

    check_outputs({"--json file": json_out})
    data = caption_set(records, split)
    clip = _embedding_model(model)
    err_console.print(f"embedding {counted(len(data.images), 'image')} and {counted(len(data.texts), 'caption')}...", highlight=False)
    scores = model_retrieval(clip, data)
    console.print(f"retrieval on {counted(scores['images'], 'image')}, {counted(scores['texts'], 'caption')} (split {split})", highlight=False)
    for way, name in (("i2t", "image->text"), ("t2i", "text->image")):
        console.print(f"  {name:12} " + "  ".join(f"{k} {v * 100:5.1f}" for k, v in scores[way].items()), highlight=False)
    console.print(f"  mR {scores['mR'] * 100:.1f}", highlight=False)
    _write({**scores, "model": model, "records": str(records), "split": split}, json_out)


@eval_app.command("zeroshot", epilog=examples("sarlang eval zeroshot --model mybench/clip --images ../shared/data/mstar_chips --json zeroshot.json"))
@user_errors
def eval_zeroshot(
    model: ModelOpt,
    images: Annotated[Path, typer.Option("--images", help="A folder with one sub-folder per class, or a build folder of such images.")],
    classes: Annotated[Path | None, typer.Option("--classes", help="Class names: FOLDER=NAME lines, or one name per line in sorted folder order.")] = None,
    templates: Annotated[str, typer.Option("--templates", help="Prompt templates: sar, plain, or a file with one template ({} for the class) per line.")] = "sar",
    split: Annotated[str, typer.Option("--split", help="For a build: which split's images.")] = "test",
    json_out: JsonOpt = None,
) -> None:
    """Zero-shot classification: each class's prompts embedded and averaged; top-1, top-5, mean per-class accuracy, confusion matrix."""
    from sarlang.eval.retrieval import model_zeroshot
    from sarlang.formats.embedding_sets import class_set

    check_outputs({"--json file": json_out})
    chosen = _templates(templates)
    data = class_set(images, classes, split)
    clip = _embedding_model(model)
    err_console.print(f"embedding {counted(len(data.images), 'image')} of {len(data.classes)} classes...", highlight=False)
    scores = model_zeroshot(clip, data, chosen)
    console.print(f"zero-shot on {counted(scores['n'], 'image')} of {len(data.classes)} classes ({len(chosen)} templates): "
                  f"top-1 {scores['top1'] * 100:.1f}, top-5 {scores['top5'] * 100:.1f}, mean per class {scores['mean_per_class'] * 100:.1f}",
                  highlight=False)
    _write({**scores, "model": model, "images": str(images), "templates": list(chosen)}, json_out)
