"""The ``sarlang`` command line: a thin layer over the library (no logic lives only here)."""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sarlang import __version__
from sarlang.demo import DEFAULT_EPOCHS, DEFAULT_SCENES
from sarlang.errors import InputError, SarlangError
from sarlang.eval.judges import DEFAULT_EMBEDDING_THRESHOLD, SARLANG_JUDGE_MODEL
from sarlang.formats.prompts import VQA_PROMPT
from sarlang.formats.exports import EXPORTS
from sarlang.sources import source_kinds

# markup is off by default: user text (paths, reasons) may hold [brackets]; the few styled lines
# ask for markup and escape what they interpolate
console = Console(soft_wrap=True, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)

app = typer.Typer(
    name="sarlang",
    help="Vision-language modelling on SAR imagery: build, train, predict and score SARLANG-1M-style benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
eval_app = typer.Typer(help="Score model outputs on SAR captioning and VQA benchmarks.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print a :class:`SarlangError` as one line on stderr and exit 2, instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SarlangError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, markup=True)
            if exc.hint:
                err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class _ThreadlessProgress(Progress):
    """A progress bar redrawn by its updates (at most 10 times a second), not by a thread of its own.

    With no extra thread running, the library may fork worker processes safely (a fork copies
    only the calling thread, and a lock held by another one would stay locked in the child).
    """

    def __init__(self, *columns: Any, **kwargs: Any) -> None:
        super().__init__(*columns, auto_refresh=False, **kwargs)
        self._last_draw = 0.0

    def _draw(self) -> None:
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._last_draw = now
            self.refresh()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._draw()

    def advance(self, *args: Any, **kwargs: Any) -> None:
        super().advance(*args, **kwargs)
        self._draw()


def _progress(label: str, disable: bool = False) -> Progress:
    """A transient progress bar on stderr (stdout stays clean for tables and --json)."""
    return _ThreadlessProgress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                               console=err_console, transient=True, disable=disable)


def _version(value: bool) -> None:
    if value:
        console.print(f"sarlang {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """sarlang: vision-language modelling on SAR imagery."""


class Format(str, Enum):
    auto = "auto"
    llamafactory = "llamafactory"
    sarlang_csv = "sarlang-csv"
    swift = "swift"
    jsonl = "jsonl"
    vlmevalkit = "vlmevalkit"


class CaptionMode(str, Enum):
    sarlang = "sarlang"
    coco = "coco"


class VqaMode(str, Enum):
    strict = "strict"
    official = "official"


class JudgeKind(str, Enum):
    none = "none"
    api = "api"
    embedding = "embedding"


FileArg = Annotated[Path, typer.Argument(help="Prediction file.", show_default=False)]
RecordsOpt = Annotated[Path | None, typer.Option("--records", help="Records file with the ground truth (our JSONL, or SARLANG-1M's CSV/JSON).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Prediction file format.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here.")]
MarkdownOpt = Annotated[bool, typer.Option("--markdown", help="Also print a Markdown table to paste.")]
RejectsOpt = Annotated[Path | None, typer.Option("--rejects", help="Write every rejected row, with its reason, as JSONL here.")]
SplitOpt = Annotated[str, typer.Option("--split", help="Records of which split to score against: a split name, 'all', or 'auto' (the split that was predicted).")]


def _check_outputs(files: dict[str, Path | None] | None = None, folders: dict[str, Path | None] | None = None) -> None:
    """Refuse unusable output paths before any work is done (a folder where a file goes, no write access, ...)."""
    from sarlang.files import check_output_file, check_output_folder

    for what, path in (files or {}).items():
        if path is not None:
            check_output_file(path, what)
    for what, path in (folders or {}).items():
        if path is not None:
            check_output_folder(path, what)


def _summary(loaded: Any) -> dict[str, Any]:
    reasons = Counter(r.reason for r in loaded.rejects)
    return {
        "format": loaded.format,
        "rows": loaded.rows,
        "scored": len(loaded.items),
        "rejected": len(loaded.rejects),
        "empty_predictions": loaded.empty_predictions,
        "rejects_by_reason": dict(reasons.most_common()),
        "notes": list(loaded.notes),
    }


def _load(file: Path, fmt: Format, records: Path | None, task: str, split: str = "auto") -> tuple[Any, dict[str, Any]]:
    """Read and join a prediction file; an error when no row at all can be scored."""
    from sarlang.formats.predictions import load_eval_items

    loaded = load_eval_items(file, fmt.value, records, task=task, split=split)
    if not loaded.items:
        noun = "caption" if task == "captions" else "answer"
        raise SarlangError(f"no {noun} in '{file}' could be scored ({len(loaded.rejects)} rejected)", hint="run with --rejects FILE to see why")
    return loaded, _summary(loaded)


def _print_summary(summary: dict[str, Any]) -> None:
    from sarlang.eval.tables import summary_lines

    for line in summary_lines(summary):
        console.print(f"[dim]{escape(line)}[/]", highlight=False, markup=True)


def _write_outputs(result: dict[str, Any], loaded: Any, json_path: Path | None, rejects_path: Path | None) -> None:
    from sarlang.files import atomic_write_json, atomic_write_jsonl, json_safe

    if json_path is not None:
        atomic_write_json(json_path, json_safe(result))
        console.print(f"scores written to {json_path}", highlight=False)
    if rejects_path is not None:
        atomic_write_jsonl(rejects_path, [r.to_dict() for r in loaded.rejects])
        console.print(f"{len(loaded.rejects)} rejects written to {rejects_path}", highlight=False)


@eval_app.command(
    "captions",
    epilog="Example:  sarlang eval captions generated_predictions.jsonl --mode sarlang --json scores.json",
)
@user_errors
def eval_captions(
    file: FileArg,
    records: RecordsOpt = None,
    fmt: FormatOpt = Format.auto,
    mode: Annotated[CaptionMode, typer.Option("--mode", help="sarlang: raw strings as SARLANG-1M's script; coco: PTB-tokenised.")] = CaptionMode.sarlang,
    json_out: JsonOpt = None,
    markdown: MarkdownOpt = False,
    meteor: Annotated[bool, typer.Option("--meteor/--no-meteor", help="Compute METEOR with the METEOR 1.5 jar (needs Java).")] = True,
    per_sample: Annotated[Path | None, typer.Option("--per-sample", help="Write per-image scores as JSONL here.")] = None,
    rejects: RejectsOpt = None,
    split: SplitOpt = "auto",
) -> None:
    """Score captions with BLEU-1..4, METEOR, ROUGE-L and CIDEr (pycocoevalcap's definitions)."""
    from sarlang.eval.captions import score_captions
    from sarlang.eval.tables import caption_rows, markdown_table, rich_table
    from sarlang.files import atomic_write_jsonl

    _check_outputs({"--json file": json_out, "--rejects file": rejects, "--per-sample file": per_sample})
    loaded, summary = _load(file, fmt, records, "captions", split)
    # no spinner: its thread would keep the scorer from forking its ROUGE-L worker
    err_console.print(f"scoring {len(loaded.items)} captions ({mode.value} mode)...", highlight=False)
    scores = score_captions(
        [it.prediction for it in loaded.items], [list(it.references) for it in loaded.items], mode=mode.value, meteor=meteor
    )
    header, values = caption_rows(scores)
    console.print(rich_table(f"Captions — {file.name} — mode {mode.value} (x100)", header, [values]))
    for metric, reason in scores.unavailable.items():
        console.print(f"[dim]{metric} unavailable: {escape(reason)}[/]", highlight=False, markup=True)
    _print_summary(summary)
    if markdown:
        console.print(markdown_table(header, [values]), highlight=False, markup=False)
    result = {**scores.to_json(), "input": str(file), "summary": summary, "rejects": [r.to_dict() for r in loaded.rejects]}
    result["per_sample"] = {"id": [it.id for it in loaded.items], **scores.per_sample}
    _write_outputs(result, loaded, json_out, rejects)
    if per_sample is not None:
        names = list(scores.per_sample)
        rows = [{"id": it.id, **{m: scores.per_sample[m][i] for m in names}} for i, it in enumerate(loaded.items)]
        atomic_write_jsonl(per_sample, rows)


@eval_app.command(
    "vqa",
    epilog="Example:  sarlang eval vqa VQA_result.csv --mode strict --judge none --json vqa_scores.json",
)
@user_errors
def eval_vqa(
    file: FileArg,
    records: RecordsOpt = None,
    fmt: FormatOpt = Format.auto,
    mode: Annotated[VqaMode, typer.Option("--mode", help="strict (default): normalised rules; official: SARLANG-1M's Evaluate_VQA.py rules.")] = VqaMode.strict,
    judge: Annotated[JudgeKind, typer.Option("--judge", help="Who decides answers no rule decides.")] = JudgeKind.none,
    judge_url: Annotated[str | None, typer.Option("--judge-url", help="OpenAI-compatible API root (env SARLANG_JUDGE_URL or OPENAI_BASE_URL).")] = None,
    judge_model: Annotated[str, typer.Option("--judge-model", help="Judge model name.")] = SARLANG_JUDGE_MODEL,
    judge_key: Annotated[str | None, typer.Option("--judge-key", help="API key (env SARLANG_JUDGE_API_KEY or OPENAI_API_KEY).")] = None,
    judge_prompt: Annotated[Path | None, typer.Option("--judge-prompt", help="Prompt template file with {question}, {ground_truth}, {predicted}.")] = None,
    judge_cache: Annotated[Path | None, typer.Option("--judge-cache", help="SQLite cache of judge replies (default ~/.cache/sarlang/judge-cache.sqlite).")] = None,
    judge_concurrency: Annotated[int, typer.Option("--judge-concurrency", min=1, help="Parallel judge requests.")] = 8,
    judge_timeout: Annotated[float, typer.Option("--judge-timeout", min=0.1, help="Seconds per judge request.")] = 60.0,
    judge_retries: Annotated[int, typer.Option("--judge-retries", min=0, help="Retries of a timeout, 429 or 5xx.")] = 5,
    embedding_threshold: Annotated[float, typer.Option("--embedding-threshold", help="Cosine similarity at or above which the embedding judge says correct.")] = DEFAULT_EMBEDDING_THRESHOLD,
    json_out: JsonOpt = None,
    markdown: MarkdownOpt = False,
    by_question_type: Annotated[bool, typer.Option("--by-question-type", help="Also print the table per question type.")] = False,
    rejects: RejectsOpt = None,
    split: SplitOpt = "auto",
    allow_judge_failures: Annotated[bool, typer.Option("--allow-judge-failures", help="Exit 0 even when the judge failed on some answers (they count wrong).")] = False,
) -> None:
    """Score answers: accuracy overall, per application and per question type, with 95% intervals.

    Answers the judge failed on (no reply after the retries, an empty or cut reply) count wrong,
    are reported with their reasons, and make the command exit 3 after writing its outputs,
    unless --allow-judge-failures is given. Failures are never cached: run again to retry them.
    """
    from sarlang.eval.tables import VQA_HEADER, markdown_table, rich_table, vqa_rows
    from sarlang.eval.vqa import score_vqa

    _check_outputs({"--json file": json_out, "--rejects file": rejects})
    from sarlang.eval.judges import make_judge

    judge_obj = make_judge(judge.value, judge_url, judge_model, judge_key, judge_prompt, judge_cache,
                           judge_concurrency, judge_timeout, judge_retries, embedding_threshold)
    try:
        loaded, summary = _load(file, fmt, records, "vqa", split)
    except BaseException:
        if hasattr(judge_obj, "close"):
            judge_obj.close()
        raise
    progress = _progress("judging", disable=judge == JudgeKind.none)
    task_id = progress.add_task("judge", total=0)
    try:
        with progress:
            scores = score_vqa(
                loaded.items, mode=mode.value, judge=judge_obj,
                on_judge_start=lambda n: progress.update(task_id, total=n),
                progress=lambda k: progress.advance(task_id, k),
            )
    finally:
        if hasattr(judge_obj, "close"):
            judge_obj.close()
    title = f"VQA — {file.name} — mode {mode.value}, judge {scores.judge}"
    rows = vqa_rows(scores)
    console.print(rich_table(title, VQA_HEADER, rows))
    if by_question_type:
        console.print(rich_table("by question type", ["question type", *VQA_HEADER[1:]], vqa_rows(scores, by="question_type")))
    other = scores.other_mode
    console.print(
        f"{other['mode']} mode: {other['accuracy'] * 100:.2f}% — {other['disagreements']} answers judged differently"
        + (" (see 'disagreements' in the JSON)" if other["disagreements"] else ""),
        highlight=False,
    )
    console.print("decided by: " + ", ".join(f"{k} {v}" for k, v in scores.decided_by.items()), highlight=False)
    unjudged = scores.decided_by.get("judge:unjudged", 0)
    if unjudged:
        console.print(f"[yellow]{unjudged} answers no rule decided were counted wrong (judge none); pass --judge api or embedding to judge them[/]", highlight=False, markup=True)
    _print_summary(summary)
    if markdown:
        console.print(markdown_table(VQA_HEADER, rows), highlight=False, markup=False)
    result = {**scores.to_json(), "input": str(file), "summary": summary, "rejects": [r.to_dict() for r in loaded.rejects]}
    _write_outputs(result, loaded, json_out, rejects)
    if scores.judge_failed:
        reasons = "; ".join(f"{n} x {reason}" for reason, n in list(scores.judge_failures.items())[:3])
        err_console.print(f"[bold yellow]warning:[/] the judge failed on {scores.judge_failed} answers, counted wrong above: {escape(reasons)}",
                          highlight=False, markup=True)
        if not allow_judge_failures:
            err_console.print("[yellow]hint:[/] failures are not cached: run the same command again to retry them, "
                              "or pass --allow-judge-failures to accept these scores", highlight=False, markup=True)
            raise typer.Exit(3)


@eval_app.command(
    "all",
    epilog="Example:  sarlang eval all generated_predictions.jsonl --records mybench/ --out scores/",
)
@user_errors
def eval_all(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for captions.json and vqa.json (the scores of each task).")],
    records: RecordsOpt = None,
    fmt: FormatOpt = Format.auto,
    split: SplitOpt = "auto",
    caption_mode: Annotated[CaptionMode, typer.Option("--caption-mode", help="Caption scoring mode (sarlang or coco).")] = CaptionMode.sarlang,
    vqa_mode: Annotated[VqaMode, typer.Option("--vqa-mode", help="VQA rules (strict or official).")] = VqaMode.strict,
    judge: Annotated[JudgeKind, typer.Option("--judge", help="Who decides answers no rule decides (api options: use eval vqa).")] = JudgeKind.none,
    meteor: Annotated[bool, typer.Option("--meteor/--no-meteor", help="Compute METEOR (needs Java).")] = True,
) -> None:
    """Score a file that mixes captions and questions (as LLaMA-Factory and sarlang predict write them): both tasks, one command."""
    _check_outputs(folders={"--out folder": out})
    scored = []
    for task, command, kwargs in (
        ("captions", eval_captions, {"mode": caption_mode, "meteor": meteor}),
        ("vqa", eval_vqa, {"mode": vqa_mode, "judge": judge, "allow_judge_failures": True}),
    ):
        console.print(f"[bold]{task}[/]", highlight=False, markup=True)
        try:
            command.__wrapped__(file=file, records=records, fmt=fmt, split=split, json_out=out / f"{task}.json", **kwargs)
            scored.append(task)
        except InputError as exc:
            if "holds only" not in exc.message:
                raise
            console.print(f"no {task} to score: {exc.message}", highlight=False)
    if not scored:
        raise SarlangError(f"'{file}' holds neither captions nor questions that could be scored")


@eval_app.command(
    "compare",
    epilog="Example:  sarlang eval compare model_a.json model_b.json",
)
@user_errors
def eval_compare(
    a: Annotated[Path, typer.Argument(help="Scores JSON of model A (from sarlang eval vqa/captions --json).", show_default=False)],
    b: Annotated[Path, typer.Argument(help="Scores JSON of model B, on the same items.", show_default=False)],
    json_out: JsonOpt = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
) -> None:
    """Whether two models differ significantly on the same items (McNemar and paired bootstrap)."""
    from sarlang.eval.compare import compare_score_files
    from sarlang.files import atomic_write_json, json_safe

    _check_outputs({"--json file": json_out})
    result = compare_score_files(a, b, alpha=alpha)
    for line in result["lines"]:
        console.print(line, highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, json_safe({k: v for k, v in result.items() if k != "lines"}))
        console.print(f"comparison written to {json_out}", highlight=False)


@app.command(
    "preprocess",
    epilog="Example:  sarlang preprocess ../shared/data/hrsid/images --recipe sarlang --out preprocessed/",
)
@user_errors
def preprocess_command(
    inputs: Annotated[list[str], typer.Argument(help="Image files, folders (searched recursively) or glob patterns.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder: <stem>.png and <stem>.json (the sidecar) per input.")],
    recipe: Annotated[str, typer.Option("--recipe", help="Built-in recipe (sarlang, sarclip, percentile, none) or a YAML/JSON recipe file.")] = "sarlang",
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Parallel processes (default: all cores).")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Preprocess SAR images into 8-bit pictures (speckle filter, dB, stretch) with a sidecar per image."""
    from sarlang.files import atomic_write_json
    from sarlang.sar.preprocess import preprocess
    from sarlang.sar.recipes import load_recipe

    _check_outputs({"--json file": json_out}, {"--out folder": out})
    chosen = load_recipe(recipe)
    progress = _progress("preprocessing")
    task_id = progress.add_task("preprocess", total=None)
    with progress:
        summary = preprocess(inputs, chosen, out, workers=workers,
                             on_progress=lambda done, total: progress.update(task_id, completed=done, total=total))
    console.print(f"recipe {chosen.name}: {len(summary.written)} written, {len(summary.skipped)} up to date, "
                  f"{len(summary.rejects)} rejected -> {out}", highlight=False)
    for reject in summary.rejects[:10]:
        console.print(f"[yellow]rejected[/] {escape(reject.source)}: {escape(reject.reason)}", highlight=False, markup=True)
    if len(summary.rejects) > 10:
        console.print(f"... all {len(summary.rejects)} in {out / 'rejects.jsonl'}", highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, summary.to_dict())


@app.command(
    "despeckle",
    epilog='Example:  sarlang despeckle S1A_GRD_VV.tif filtered.tif --filter "Refined Lee"',
)
@user_errors
def despeckle_command(
    source: Annotated[Path, typer.Argument(help="SAR raster (GeoTIFF or anything GDAL reads).", show_default=False)],
    target: Annotated[Path, typer.Argument(help="Output float32 GeoTIFF of filtered intensity.", show_default=False)],
    filter_name: Annotated[str, typer.Option("--filter", help="Boxcar, Median, Frost, Gamma Map, Lee, Refined Lee, Lee Sigma or Kuan.")] = "Refined Lee",
    looks: Annotated[float | None, typer.Option("--looks", help="Number of looks (default: estimated from the scene).")] = None,
    size: Annotated[int | None, typer.Option("--size", help="Window size in pixels (filters that have one).")] = None,
    polarization: Annotated[str | None, typer.Option("--polarization", help="Band to filter by name: HH, HV, VH or VV.")] = None,
    block: Annotated[int, typer.Option("--block", min=64, help="Block size in pixels (memory use grows with its square).")] = 2048,
) -> None:
    """Speckle-filter a scene of any size, block by block, into a GeoTIFF (georeferencing kept)."""
    import inspect

    from sarlang.sar.blocks import filter_raster
    from sarlang.sar.filters import filter_function

    _check_outputs({"output raster": target})
    accepted = inspect.signature(filter_function(filter_name)).parameters
    params: dict[str, Any] = {}
    if looks is not None and "looks" in accepted:
        params["looks"] = looks
    if size is not None:
        if "size" not in accepted:
            raise SarlangError(f"the {filter_name} filter has a fixed window", hint="leave out --size")
        params["size"] = size
    progress = _progress("filtering")
    task_id = progress.add_task("blocks", total=None)
    with progress:
        used = filter_raster(source, target, filter_name, block=block, polarization=polarization,
                             on_progress=lambda done, total: progress.update(task_id, completed=done, total=total), **params)
    details = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in used.items())
    console.print(f"{filter_name} -> {target}" + (f" ({details})" if details else ""), highlight=False)


@app.command(
    "build",
    epilog="Example:  sarlang build --source voc:../shared/data/mstar_scenes --source masks:../shared/data/hrsid --out mybench/",
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
    group_by: Annotated[str, typer.Option("--group-by", help="Regular expression on image file names: images with the same match (first group) show one place and share a split, e.g. '^(P\d+)__' for DOTA-style tiles.")] = "",
) -> None:
    """Build captions and seven-application question-answer pairs from annotated SAR imagery.

    Every image is opened and checked against its labels; a scene with any invalid label is
    rejected whole, with the reason, in rejects.jsonl. An interrupted build resumes where it
    stopped, if its inputs and options are unchanged.
    """
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    _check_outputs(folders={"--out folder": out})
    tile_size, tile_overlap = _tile_spec(tile)
    options = BuildOptions(train_fraction, nine_regions, class_prefix, max_regions, captions, seed, tile_size, tile_overlap, group_by)
    progress = _progress("building")
    task_id = progress.add_task("scenes", total=None)
    with progress:
        summary = build_dataset(source, out, options, on_progress=lambda done, total: progress.update(task_id, completed=done, total=total),
                                restart=restart)
    console.print(f"{summary['records']} records from {summary['scenes']} scenes -> {out / 'records.jsonl'}"
                  + (f" ({summary['scenes_resumed']} scenes kept from an interrupted run)" if summary["scenes_resumed"] else ""), highlight=False)
    console.print("per application: " + ", ".join(f"{k} {v}" for k, v in summary["by_application"].items()), highlight=False)
    console.print("per split: " + ", ".join(f"{k} {v}" for k, v in summary["by_split"].items())
                  + f"; {summary['question_types']} question types; {summary['duplicates_removed']} duplicates removed", highlight=False)
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
    epilog="Example:  sarlang export mybench/ --to sharegpt --out mybench/sharegpt/",
)
@user_errors
def export_command(
    build: Annotated[Path, typer.Argument(help="A build folder (or its records.jsonl).", show_default=False)],
    to: Annotated[str, typer.Option("--to", help=f"Export format: {', '.join(EXPORTS.names())}.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: BUILD/export_<format>).")] = None,
    absolute_paths: Annotated[bool | None, typer.Option("--absolute-paths/--relative-paths", help="Image paths absolute, or relative to the output folder (default: absolute for vlmevalkit, which resolves paths from wherever it runs; relative otherwise).", show_default=False)] = None,
    prompt: Annotated[str, typer.Option("--prompt", help="How trainer formats ask a question ({q} is the question); sarlang train and predict take the same --prompt / prompt: setting.")] = VQA_PROMPT,
) -> None:
    """Write a build's records in a trainer's or evaluator's format, one file per split."""
    from sarlang.formats.exports import export_records
    from sarlang.formats.records import records_file

    target = out or records_file(build).parent / f"export_{to}"
    _check_outputs(folders={"export folder": target})
    bad: list[Any] = []
    written = export_records(build, to, target, absolute_paths, rejects=bad, prompt_template=prompt)
    console.print(f"{to}: {', '.join(written)} -> {target}", highlight=False)
    _print_bad_lines(bad, target / "rejects.jsonl")


@app.command(
    "stats",
    epilog="Example:  sarlang stats mybench/",
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
    _check_outputs(folders={"stats folder": target})
    records, bad = load_records(records_path)
    stats = write_stats(records, target, rejected_lines=len(bad))
    console.print(stats_markdown(stats), highlight=False, markup=False)
    _print_bad_lines(bad, None)
    console.print(f"written to {target}: stats.md, stats.json" + (", " + ", ".join(stats["plots"]) if stats["plots"] else ""), highlight=False)


@app.command(
    "llm-captions",
    epilog="Example:  sarlang llm-captions mybench/ --url http://localhost:8000/v1 --model Qwen2.5-7B-Instruct",
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
    progress = _progress("captioning")
    task_id = progress.add_task("llm", total=None)
    try:
        with progress:
            result = generate_llm_captions(build, client, mode, with_image, optical_dir, on_progress=lambda k: progress.advance(task_id, k),
                                           restart=restart)
    finally:
        client.close()
    console.print(f"{result['captions']} captions added to {build / 'records.jsonl'} ({result['flagged']} flagged for review); "
                  f"{len(result['rejects'])} images without one", highlight=False)
    for reject in result["rejects"][:5]:
        console.print(f"[yellow]{escape(reject.source)}[/]: {escape(reject.reason)}", highlight=False, markup=True)


review_app = typer.Typer(help="Review LLM-written text: export a sheet, import the corrected sheet.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("export", epilog="Example:  sarlang review export mybench/ --out review.csv")
@user_errors
def review_export(
    build: Annotated[Path, typer.Argument(help="A build folder.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="The review sheet (CSV) to write.")],
) -> None:
    """Write the LLM-written records to a CSV sheet with 'corrected' and 'note' columns to fill in."""
    from sarlang.corpus.llm import export_review_sheet

    _check_outputs({"review sheet": out})
    n = export_review_sheet(build, out)
    console.print(f"{n} rows to review -> {out}", highlight=False)


@review_app.command("import", epilog="Example:  sarlang review import mybench/ review.csv")
@user_errors
def review_import(
    build: Annotated[Path, typer.Argument(help="A build folder.", show_default=False)],
    sheet: Annotated[Path, typer.Argument(help="The reviewed sheet.", show_default=False)],
) -> None:
    """Apply a reviewed sheet to the build, recording what the reviewer changed."""
    from sarlang.corpus.llm import import_review_sheet

    result = import_review_sheet(build, sheet)
    console.print(f"{result['changed']} changed, {result['unchanged']} kept, {len(result['rejects'])} rows rejected", highlight=False)
    for reject in result["rejects"][:5]:
        console.print(f"[yellow]rejected[/] row {reject.row}: {escape(reject.reason)}", highlight=False, markup=True)


@app.command("train", epilog="Example:  sarlang train --config train.yaml   (model: baseline, records: mybench/records.jsonl, out: mybench/model, epochs: 8)")
@user_errors
def train_command(
    config: Annotated[Path, typer.Option("--config", help="YAML/JSON training config (see sarlang.models.run).")],
) -> None:
    """Train the built-in SAR vision-language model on a build's records (CPU; resumes from its checkpoint)."""
    from sarlang.models.run import read_config, train_from_config

    settings = read_config(config)
    if "out" in settings:
        _check_outputs(folders={"model folder ('out' of the config)": Path(str(settings["out"]))})
    progress = _progress("training")
    task_id = progress.add_task("steps", total=None)
    with progress:
        model = train_from_config(settings, on_progress=lambda done, total, loss: progress.update(task_id, completed=done, total=total,
                                                                                       description=f"loss {loss:.3f}"))
    info = model.info()
    console.print(f"trained {info['id']} ({info['parameters']:,} parameters, vocabulary {info['vocabulary']}) -> {settings['out']}", highlight=False)


@app.command("predict", epilog="Example:  sarlang predict --model mybench/model --records mybench/records.jsonl --out mybench/predictions.jsonl")
@user_errors
def predict_command(
    model: Annotated[str, typer.Option("--model", help="A model folder from sarlang train, or api:MODEL@URL.")],
    records: Annotated[Path, typer.Option("--records", help="Records file (image paths relative to it).")],
    out: Annotated[Path, typer.Option("--out", help="Our predictions JSONL; generated_predictions.jsonl is written next to it.")],
    split: Annotated[str, typer.Option("--split", help="Which records to answer ('all' for every one).")] = "test",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    restart: Annotated[bool, typer.Option("--restart", help="Discard earlier predictions in --out instead of resuming them.")] = False,
    prompt: Annotated[str, typer.Option("--prompt", help="How questions are asked ({q} is the question): the template the model was trained with.")] = VQA_PROMPT,
) -> None:
    """Answer and caption records with a model (resumable: ids already predicted are skipped)."""
    from sarlang.models.base import load_model
    from sarlang.models.run import predict_records

    _check_outputs({"--out file": out, "LLaMA-Factory predictions file": out.with_name("generated_predictions.jsonl")})
    loaded = load_model(model)
    progress = _progress("predicting")
    task_id = progress.add_task("records", total=None)
    try:
        with progress:
            result = predict_records(loaded, records, out, None if split == "all" else split, batch_size,
                                     on_progress=lambda done, total: progress.update(task_id, completed=done, total=total),
                                     model_source=model, restart=restart, prompt_template=prompt)
    finally:
        if hasattr(loaded, "close"):
            loaded.close()
    console.print(f"{result['predicted']} predicted ({result['already_done']} already there) -> {result['out']} and {result['llamafactory']}", highlight=False)
    if result["failed"]:
        console.print(f"[yellow]{result['failed']} records got no answer[/] (run the same command again to retry them), e.g.: "
                      + escape("; ".join(result["failures"][:3])), highlight=False, markup=True)


@app.command("merge", epilog="Example:  sarlang merge --base Qwen2-VL-2B-Instruct --adapter mybench/lora --out mybench/merged")
@user_errors
def merge_command(
    adapter: Annotated[Path, typer.Option("--adapter", help="A LoRA adapter folder from sarlang train (model: lora).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the merged model and its processor.")],
    base: Annotated[str | None, typer.Option("--base", help="The base model (default: the one the adapter records).")] = None,
) -> None:
    """Merge a LoRA adapter into its base model."""
    from sarlang.models.hf import adapter_base, merge_adapter

    _check_outputs(folders={"--out folder": out})
    merged = merge_adapter(base or adapter_base(adapter), adapter, out)
    console.print(f"merged -> {merged}", highlight=False)


@app.command("demo", epilog="Example:  sarlang demo --out demo_out   |   sarlang demo --source voc:../shared/data/mstar_scenes")
@user_errors
def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo_out"),
    source: Annotated[str | None, typer.Option("--source", help="KIND:PATH to run on instead of simulated scenes.")] = None,
    scenes: Annotated[int, typer.Option("--scenes", min=4, help="Simulated scenes (each at two resolutions).")] = DEFAULT_SCENES,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs of the built-in model.")] = DEFAULT_EPOCHS,
    meteor: Annotated[bool, typer.Option("--meteor/--no-meteor", help="Compute METEOR (Java).")] = True,
) -> None:
    """The whole loop: simulate, preprocess, build, train, predict, score, report (demo_out/report.md)."""
    from sarlang.demo import run_demo

    _check_outputs(folders={"--out folder": out})
    run_demo(out, source, scenes, epochs, say=lambda text: console.print(text, highlight=False), meteor=meteor)
    console.print((out / "report.md").read_text(encoding="utf-8"), highlight=False, markup=False)


def run() -> None:
    """Entry point of the ``sarlang`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
