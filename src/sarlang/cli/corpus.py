"""``sarlang build``, ``export``, ``stats``, ``llm-captions``, ``review``: benchmarks from labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from sarlang.errors import SarlangError
from sarlang.formats.prompts import VQA_PROMPT
from sarlang.formats.exports import EXPORTS
from sarlang.sources import source_kinds
from sarlang.cli.common import EngineOpt, RayAddressOpt, app, check_outputs, console, progress_bar, user_errors
from sarlang.cli.common import examples
from sarlang.vocabulary import counted


@app.command(
    "build",
    epilog=examples("sarlang build --source voc:../shared/data/mstar_scenes --source masks:../shared/data/hrsid --out mybench/",
                    "sarlang build --source simulate:200,size=128 --grounding sarlang --out simbench/",
                    "sarlang build --source masks:../shared/data/hrsid --segmentation polygon --out hrsid_masks/",
                    "sarlang build --source voc:../shared/data/mstar_scenes,gsd=0.3,sensor=MSTAR --dialogue 4 --knowledge --out dialogue/"),
)
@user_errors
def build_command(
    source: Annotated[list[str], typer.Option("--source", help=f"KIND:PATH[,key=value...], repeatable; KIND one of {', '.join(source_kinds())} (e.g. voc:scenes/,gsd=0.3,sensor=MSTAR).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder (records.jsonl, records.parquet, rejects.jsonl, summary.json).")],
    train_fraction: Annotated[float, typer.Option("--train-fraction", help="Share of places (groups of images) in train where a source has no split of its own; 0 and 1 allowed.")] = 0.7,
    nine_regions: Annotated[bool, typer.Option("--nine-regions", help="Answer positions with nine regions (top left ... bottom right).")] = False,
    class_prefix: Annotated[bool, typer.Option("--class-prefix", help='Prefix questions with "The classes are: ..." as SARLANG-1M recommends when mixing subsets.')] = False,
    max_regions: Annotated[int, typer.Option("--max-regions", min=0, help="Region-referring questions per image.")] = 3,
    captions: Annotated[bool, typer.Option("--captions/--no-captions", help="Write grounded concise and detailed captions.")] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the template and negative choices.")] = 0,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an interrupted build in --out instead of resuming it.")] = False,
    tile: Annotated[str | None, typer.Option("--tile", help="SIZE[,OVERLAP]: cut images larger than SIZE pixels into tiles (one split per image).")] = None,
    grounding: Annotated[str, typer.Option("--grounding", help="Also ask visual-grounding questions, answered with boxes in this convention: sarlang ([x, y, w, h] pixels), qwen2.5, norm, geochat or qwen2.")] = "",
    segmentation: Annotated[str, typer.Option("--segmentation", help="Also ask referring-segmentation questions of objects with masks, answered with masks in this convention: polygon ([[x, y], ...] pixels) or rle (COCO RLE JSON).")] = "",
    dialogue: Annotated[int, typer.Option("--dialogue", min=0, max=20, help="Also write one conversation per image of up to N turns whose follow-ups refer to earlier answers (\"How many of them are there?\"); 0: none.")] = 0,
    knowledge: Annotated[bool, typer.Option("--knowledge", help="Also ask which sensor acquired each image and its ground sampling distance, where the source gives them (sensor=, gsd=): the questions of retrieval-augmented answering.")] = False,
    group_by: Annotated[str, typer.Option("--group-by", help="Regular expression on image file names: images with the same match (first group) show one place and share a split, e.g. '^(P\\d+)__' for DOTA-style tiles.")] = "",
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Build captions and seven-application question-answer pairs (and, with --grounding, box answers; with --segmentation, mask answers) from annotated SAR imagery.

    Every image is opened and checked against its labels; a scene with any invalid label is
    rejected whole, with the reason, in rejects.jsonl. An interrupted build resumes where it
    stopped, if its inputs and options are unchanged.
    """
    from sarlang.engines import using
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    check_outputs(folders={"--out folder": out})
    tile_size, tile_overlap = _tile_spec(tile)
    options = BuildOptions(train_fraction, nine_regions, class_prefix, max_regions, captions, seed, tile_size, tile_overlap, group_by, grounding,
                           segmentation, dialogue=dialogue, knowledge=knowledge)
    progress = progress_bar("building")
    task_id = progress.add_task("scenes", total=None)
    with using(engine, ray_address), progress:
        summary = build_dataset(source, out, options, on_progress=lambda done, total: progress.update(task_id, completed=done, total=total),
                                restart=restart)
    console.print(f"{counted(summary['records'], 'record')} from {counted(summary['scenes'], 'scene')} -> {out / 'records.jsonl'}"
                  + (f" ({counted(summary['scenes_resumed'], 'scene')} kept from an interrupted run)" if summary["scenes_resumed"] else ""), highlight=False)
    console.print("per application: " + ", ".join(f"{k} {v}" for k, v in summary["by_application"].items()), highlight=False)
    console.print("per split: " + ", ".join(f"{k} {v}" for k, v in summary["by_split"].items())
                  + f"; {summary['question_types']} question types; {counted(summary['duplicates_removed'], 'duplicate')} removed", highlight=False)
    if summary.get("conversations"):
        console.print(f"{counted(summary['conversations'], 'conversation')}, turns by position: "
                      + ", ".join(f"{t}: {n}" for t, n in summary["conversation_turns"].items()), highlight=False)
    if summary["rejected"]:
        console.print(f"[yellow]{summary['rejected']} rejected[/] (all in {escape(str(out / 'rejects.jsonl'))}):", highlight=False, markup=True)
        for reason, count in list(summary["rejects_by_reason"].items())[:8]:
            console.print(f"  {count} x {reason}", highlight=False)
    for note in summary.get("notes", []):
        console.print(f"note: {note}", highlight=False)
    if not summary["records"]:
        raise SarlangError(f"the build made no record: {summary['rejected']} inputs were rejected",
                           hint=f"see why in {out / 'rejects.jsonl'}")


def _print_bad_lines(bad: list[Any], written_to: Path | None) -> None:
    """Say how many lines of a records file were not records, with the first reasons."""
    if not bad:
        return
    where = f" (all in {escape(str(written_to))})" if written_to else ""
    console.print(f"[yellow]{len(bad)} lines of the records file are not records and were left out[/]{where}:", highlight=False, markup=True)
    for reject in bad[:5]:
        console.print(f"  line {reject.row}: {escape(reject.reason)}", highlight=False, markup=True)


def _tile_spec(spec: str | None) -> tuple[int, int]:
    if not spec:
        return 0, 0
    size, _, overlap = spec.partition(",")
    try:
        return int(size), int(overlap or 0)
    except ValueError:
        raise SarlangError(f"--tile '{spec}' is not SIZE[,OVERLAP]", hint="e.g. --tile 512,64") from None


@app.command(
    "export",
    epilog=examples("sarlang export mybench/ --to sharegpt --out mybench/sharegpt/"),
)
@user_errors
def export_command(
    build: Annotated[Path, typer.Argument(help="A build folder (or its records.jsonl).", show_default=False)],
    to: Annotated[str, typer.Option("--to", help=f"Export format: {', '.join(EXPORTS.names())}.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: BUILD/export_<format>).")] = None,
    absolute_paths: Annotated[bool | None, typer.Option("--absolute-paths/--relative-paths", help="Image paths absolute, or relative to the output folder (default: absolute for vlmevalkit, which resolves paths from wherever it runs; relative otherwise).", show_default=False)] = None,
    prompt: Annotated[str, typer.Option("--prompt", help="How trainer formats ask a question ({q} is the question); sarlang train and predict take the same --prompt / prompt: setting.")] = VQA_PROMPT,
    mask_convention: Annotated[str | None, typer.Option("--mask-convention", help="Mask convention of referring-segmentation records: polygon ([[x, y], ...] pixels, as text-only VLMs answer) or rle (COCO RLE JSON); default: as built.")] = None,
    box_convention: Annotated[str | None, typer.Option("--box-convention", help="Box convention of visual-grounding records (sarlang, qwen2.5, norm, geochat, qwen2); default: the format's native one (llava: norm, sharegpt: qwen2.5), else as built.")] = None,
) -> None:
    """Write a build's records in a trainer's or evaluator's format, one file per split."""
    from sarlang.formats.exports import export_records
    from sarlang.formats.records import records_file

    target = out or records_file(build).parent / f"export_{to}"
    check_outputs(folders={"export folder": target})
    bad: list[Any] = []
    written = export_records(build, to, target, absolute_paths, rejects=bad, prompt_template=prompt, box_convention=box_convention,
                             mask_convention=mask_convention)
    console.print(f"{to}: {', '.join(written)} -> {target}", highlight=False)
    _print_bad_lines(bad, target / "rejects.jsonl")


@app.command(
    "stats",
    epilog=examples("sarlang stats mybench/"),
)
@user_errors
def stats_command(
    build: Annotated[Path, typer.Argument(help="A build folder (or a records file).", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", help="Where stats.md, stats.json and the plots go (default: the build folder).")] = None,
) -> None:
    """Counts per application and question type, answer distributions, caption lengths (Markdown, JSON, PNG)."""
    from sarlang.corpus.stats import stats_markdown, write_stats
    from sarlang.formats.records import load_records, records_file

    records_path = records_file(build)
    target = out or records_path.parent
    check_outputs(folders={"stats folder": target})
    records, bad = load_records(records_path)
    stats = write_stats(records, target, rejected_lines=len(bad))
    console.print(stats_markdown(stats), highlight=False, markup=False)
    _print_bad_lines(bad, None)
    console.print(f"written to {target}: stats.md, stats.json" + (", " + ", ".join(stats["plots"]) if stats["plots"] else ""), highlight=False)


@app.command(
    "llm-captions",
    epilog=examples("sarlang llm-captions mybench/ --url http://localhost:8000/v1 --model Qwen2.5-7B-Instruct"),
)
@user_errors
def llm_captions_command(
    build: Annotated[Path, typer.Argument(help="A build folder.", show_default=False)],
    url: Annotated[str | None, typer.Option("--url", help="OpenAI-compatible API root (env OPENAI_BASE_URL).")] = None,
    model: Annotated[str, typer.Option("--model", help="Model name.")] = "gpt-4o-mini",
    key: Annotated[str | None, typer.Option("--key", help="API key (env OPENAI_API_KEY).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="facts: rewrite the grounded facts; optical: caption the paired optical image.")] = "facts",
    with_image: Annotated[bool, typer.Option("--with-image", help="In facts mode, also show the SAR image.")] = False,
    optical_dir: Annotated[Path | None, typer.Option("--optical-dir", help="Folder of paired optical images named like the SAR images.")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="SQLite cache of replies (default ~/.cache/sarlang/llm-cache.sqlite).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Parallel requests.")] = 8,
    restart: Annotated[bool, typer.Option("--restart", help="Replace LLM captions even when a reviewer has checked them.")] = False,
) -> None:
    """Add one LLM-written detailed caption per image, checked by SAR-expert rules (flags kept for review)."""
    from sarlang.corpus.llm import generate_llm_captions
    from sarlang.chat import ChatClient, default_cache_path, endpoint

    base, api_key = endpoint(url, key)
    client = ChatClient(base, model, api_key, cache or default_cache_path("llm-cache.sqlite"),
                        concurrency=concurrency, max_tokens=400)
    progress = progress_bar("captioning")
    task_id = progress.add_task("llm", total=None)
    try:
        with progress:
            result = generate_llm_captions(build, client, mode, with_image, optical_dir, on_progress=lambda done, total: progress.update(task_id, completed=done, total=total),
                                           restart=restart)
    finally:
        client.close()
    console.print(f"{counted(result['captions'], 'caption')} added to {build / 'records.jsonl'} ({result['flagged']} flagged for review); "
                  f"{counted(len(result['rejects']), 'image')} without one", highlight=False)
    for reject in result["rejects"][:5]:
        console.print(f"[yellow]{escape(reject.source)}[/]: {escape(reject.reason)}", highlight=False, markup=True)


review_app = typer.Typer(help="Review LLM-written text: export a sheet, import the corrected sheet.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("export", epilog=examples("sarlang review export mybench/ --out review.csv"))
@user_errors
def review_export(
    build: Annotated[Path, typer.Argument(help="A build folder.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="The review sheet (CSV) to write.")],
) -> None:
    """Write the LLM-written records to a CSV sheet with 'corrected' and 'note' columns to fill in."""
    from sarlang.corpus.llm import export_review_sheet

    check_outputs({"review sheet": out})
    n = export_review_sheet(build, out)
    console.print(f"{counted(n, 'row')} to review -> {out}", highlight=False)


@review_app.command("import", epilog=examples("sarlang review import mybench/ review.csv"))
@user_errors
def review_import(
    build: Annotated[Path, typer.Argument(help="A build folder.", show_default=False)],
    sheet: Annotated[Path, typer.Argument(help="The reviewed sheet.", show_default=False)],
) -> None:
    """Apply a reviewed sheet to the build, recording what the reviewer changed."""
    from sarlang.corpus.llm import import_review_sheet

    result = import_review_sheet(build, sheet)
    console.print(f"{result['changed']} changed, {result['unchanged']} kept, {counted(len(result['rejects']), 'row')} rejected", highlight=False)
    for reject in result["rejects"][:5]:
        console.print(f"[yellow]rejected[/] row {reject.row}: {escape(reject.reason)}", highlight=False, markup=True)

