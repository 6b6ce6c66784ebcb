"""``sarlang eval``: captions, vqa, all, compare."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from sarlang.errors import InputError, SarlangError
from sarlang.eval.judges import DEFAULT_EMBEDDING_THRESHOLD, SARLANG_JUDGE_MODEL
from sarlang.eval.judges import JUDGES
from sarlang.eval.caption_metrics import CAPTION_METRICS, DEFAULT_METRICS
from sarlang.formats.predictions import format_names
from sarlang.cli.common import JsonOpt, app, check_outputs, console, err_console, examples, progress_bar, user_errors
from sarlang.cli.common import examples
from sarlang.vocabulary import counted


eval_app = typer.Typer(help="Score model outputs on SAR captioning and VQA benchmarks.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

#: ``--format`` choices: ``auto``, each prediction format found by the registry, ``jsonl``
Format = Enum("Format", {name.replace("-", "_"): name for name in format_names()}, type=str)


class CaptionMode(str, Enum):
    sarlang = "sarlang"
    coco = "coco"


class VqaMode(str, Enum):
    strict = "strict"
    official = "official"


#: ``--judge`` choices: every judge of the registry
JudgeKind = Enum("JudgeKind", {name: name for name in JUDGES.names()}, type=str)


FileArg = Annotated[Path, typer.Argument(help="Prediction file.", show_default=False)]
RecordsOpt = Annotated[Path | None, typer.Option("--records", help="Records file with the ground truth (our JSONL, or SARLANG-1M's CSV/JSON).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Prediction file format.")]
MarkdownOpt = Annotated[bool, typer.Option("--markdown", help="Also print a Markdown table to paste.")]
RejectsOpt = Annotated[Path | None, typer.Option("--rejects", help="Write every rejected row, with its reason, as JSONL here.")]
SplitOpt = Annotated[str, typer.Option("--split", help="Records of which split to score against: a split name, 'all', or 'auto' (the split that was predicted).")]


def _required_records(records: Path | None, scored: str, truth: str) -> Path:
    """``--records``, or a clear error saying that ``scored`` are scored against the build's ``truth``."""
    if records is None:
        raise InputError(f"{scored} are scored against the build's {truth}", hint="pass the records with --records BUILD")
    return records


def _load(file: Path, fmt: Format, records: Path | None, task: str, split: str = "auto", rejects_path: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Read and join a prediction file; an error when no row at all can be scored, which says
    the commonest reasons and writes the rejects to ``rejects_path`` first when given."""
    from collections import Counter

    from sarlang.files import atomic_write_jsonl
    from sarlang.formats.predictions import load_eval_items

    loaded = load_eval_items(file, fmt.value, records, task=task, split=split)
    if not loaded.items:
        noun = "caption" if task == "captions" else "answer"
        reasons = "; ".join(f"{n} x {reason}" for reason, n in Counter(r.reason for r in loaded.rejects).most_common(3))
        if rejects_path is not None:
            atomic_write_jsonl(rejects_path, [r.to_dict() for r in loaded.rejects])
            hint = f"every rejected row, with its reason, is in {rejects_path}"
        else:
            hint = "run with --rejects FILE to see every rejected row with its reason"
        raise SarlangError(f"no {noun} in '{file}' could be scored ({counted(len(loaded.rejects), 'row')} rejected"
                           + (f": {reasons}" if reasons else "") + ")", hint=hint)
    return loaded, loaded.summary()


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
        console.print(f"{counted(len(loaded.rejects), 'reject')} written to {rejects_path}", highlight=False)


@eval_app.command(
    "captions",
    epilog=examples("sarlang eval captions generated_predictions.jsonl --mode sarlang --json scores.json"),
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
    metric: Annotated[list[str] | None, typer.Option("--metric", help=f"A caption metric to score, repeatable (default: {', '.join(DEFAULT_METRICS)}); one of {', '.join(CAPTION_METRICS.names())}.", show_default=False)] = None,
) -> None:
    """Score captions with BLEU-1..4, METEOR, ROUGE-L and CIDEr (pycocoevalcap's definitions)."""
    from sarlang.eval.captions import score_captions
    from sarlang.eval.tables import caption_rows, markdown_table, rich_table
    from sarlang.files import atomic_write_jsonl

    check_outputs({"--json file": json_out, "--rejects file": rejects, "--per-sample file": per_sample})
    loaded, summary = _load(file, fmt, records, "captions", split, rejects)
    # no spinner: its thread would keep the scorer from forking its ROUGE-L worker
    err_console.print(f"scoring {counted(len(loaded.items), 'caption')} ({mode.value} mode)...", highlight=False)
    scores = score_captions(
        [it.prediction for it in loaded.items], [list(it.references) for it in loaded.items], mode=mode.value, meteor=meteor,
        metrics=metric or DEFAULT_METRICS,
    )
    header, values = caption_rows(scores)
    console.print(rich_table(f"Captions — {file.name} — mode {mode.value} (x100)", header, [values]))
    for metric, reason in scores.unavailable.items():
        console.print(f"[dim]{metric} unavailable: {escape(reason)}[/]", highlight=False, markup=True)
    _print_summary(summary)
    if markdown:
        console.print(markdown_table(header, [values]), highlight=False, markup=False)
    result = loaded.score_file(scores.to_json(), file, scores.per_sample)
    _write_outputs(result, loaded, json_out, rejects)
    if per_sample is not None:
        names = list(scores.per_sample)
        rows = [{"id": it.id, **{m: scores.per_sample[m][i] for m in names}} for i, it in enumerate(loaded.items)]
        atomic_write_jsonl(per_sample, rows)


@eval_app.command(
    "vqa",
    epilog=examples("sarlang eval vqa VQA_result.csv --mode strict --judge none --json vqa_scores.json"),
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

    check_outputs({"--json file": json_out, "--rejects file": rejects})
    from sarlang.eval.judges import make_judge

    judge_obj = make_judge(judge.value, judge_url, judge_model, judge_key, judge_prompt, judge_cache,
                           judge_concurrency, judge_timeout, judge_retries, embedding_threshold)
    try:
        loaded, summary = _load(file, fmt, records, "vqa", split, rejects)
    except BaseException:
        judge_obj.close()
        raise
    progress = progress_bar("judging", disable=judge == JudgeKind.none)
    task_id = progress.add_task("judge", total=0)
    try:
        with progress:
            scores = score_vqa(
                loaded.items, mode=mode.value, judge=judge_obj,
                on_progress=lambda done, total: progress.update(task_id, completed=done, total=total),
            )
    finally:
        judge_obj.close()
    title = f"VQA — {file.name} — mode {mode.value}, judge {scores.judge}"
    rows = vqa_rows(scores)
    console.print(rich_table(title, VQA_HEADER, rows))
    if by_question_type:
        console.print(rich_table("by question type", ["question type", *VQA_HEADER[1:]], vqa_rows(scores, by="question_type")))
    if scores.by_turn:
        console.print(rich_table("conversations, by turn", ["turn", *VQA_HEADER[1:]], vqa_rows(scores, by="turn")))
    other = scores.other_mode
    console.print(
        f"{other['mode']} mode: {other['accuracy'] * 100:.2f}% — {counted(other['disagreements'], 'answer')} judged differently"
        + (" (see 'disagreements' in the JSON)" if other["disagreements"] else ""),
        highlight=False,
    )
    console.print("decided by: " + ", ".join(f"{k} {v}" for k, v in scores.decided_by.items()), highlight=False)
    unjudged = scores.decided_by.get("judge:unjudged", 0)
    if unjudged:
        console.print(f"[yellow]{counted(unjudged, 'answer')} that no rule decided counted as wrong (judge none); pass --judge api or embedding to judge them[/]", highlight=False, markup=True)
    _print_summary(summary)
    if markdown:
        console.print(markdown_table(VQA_HEADER, rows), highlight=False, markup=False)
    result = loaded.score_file(scores.to_json(), file)
    _write_outputs(result, loaded, json_out, rejects)
    if scores.judge_failed:
        reasons = "; ".join(f"{n} x {reason}" for reason, n in list(scores.judge_failures.items())[:3])
        err_console.print(f"[bold yellow]warning:[/] the judge failed on {counted(scores.judge_failed, 'answer')}, counted wrong above: {escape(reasons)}",
                          highlight=False, markup=True)
        if not allow_judge_failures:
            err_console.print("[yellow]hint:[/] failures are not cached: run the same command again to retry them, "
                              "or pass --allow-judge-failures to accept these scores", highlight=False, markup=True)
            raise typer.Exit(3)


@eval_app.command(
    "knowledge",
    epilog=examples("sarlang eval knowledge rag.jsonl --records mybench/ --index mybench/knowledge --json knowledge.json"),
)
@user_errors
def eval_knowledge(
    file: FileArg,
    records: RecordsOpt = None,
    index: Annotated[Path | None, typer.Option("--index", help="The knowledge index the predictions retrieved from (for recall@K and MRR).")] = None,
    split: SplitOpt = "auto",
    json_out: JsonOpt = None,
    rejects: RejectsOpt = None,
) -> None:
    """Score the knowledge questions (which sensor, what resolution): accuracy, and retrieval recall@K and MRR of the passages their prompts got."""
    from sarlang.eval.experts import score_knowledge
    from sarlang.eval.tables import rich_table
    from sarlang.formats.records import load_records

    check_outputs({"--json file": json_out, "--rejects file": rejects})
    records = _required_records(records, "knowledge answers", "facts")
    loaded, summary = _load(file, Format.auto, records, "vqa", split, rejects)
    kb = None
    if index is not None:
        from sarlang.knowledge.index import KnowledgeIndex

        kb = KnowledgeIndex.load(index)
    scores = score_knowledge(loaded.items, load_records(records)[0], file, kb)
    rows = [[name, f"{acc['accuracy'] * 100:.2f}", f"[{acc['ci95'][0] * 100:.1f}, {acc['ci95'][1] * 100:.1f}]", f"{acc['correct']}/{acc['n']}"]
            for name, acc in [*scores["by_question_type"].items(), ("all", scores["accuracy"])]]
    console.print(rich_table(f"knowledge questions — {file.name}", ["question type", "accuracy %", "95% CI", "correct/n"], rows))
    if "retrieval" in scores:
        r = scores["retrieval"]
        ks = [k for k in r["overall"] if k.startswith("recall@")]
        console.print(rich_table("retrieval (a passage that states the answer)", ["question type", "n", *(f"{k} %" for k in ks), "MRR"],
                                 [[name, str(v["n"]), *(f"{v[k] * 100:.1f}" for k in ks), f"{v['mrr']:.3f}"]
                                  for name, v in [*r["by_question_type"].items(), ("all", r["overall"])]]))
    _print_summary(summary)
    _write_outputs(loaded.score_file(scores, file), loaded, json_out, rejects)


@eval_app.command(
    "routing",
    epilog=examples("sarlang eval routing routed.jsonl --records mybench/ --expert blobs=blobs.jsonl --expert model=model.jsonl --json routing.json"),
)
@user_errors
def eval_routing(
    file: FileArg,
    expert: Annotated[list[str], typer.Option("--expert", help="NAME=PREDICTIONS: an expert's own predictions of the same records, repeatable.", show_default=False)],
    records: RecordsOpt = None,
    split: SplitOpt = "auto",
    json_out: JsonOpt = None,
) -> None:
    """Score a router against each of its experts alone on the same questions: accuracy, the gain routing makes (paired tests), and who answered what."""
    from sarlang.eval.experts import prediction_field, score_routing
    from sarlang.eval.significance import format_p
    from sarlang.eval.tables import rich_table

    check_outputs({"--json file": json_out})
    if records is None:
        raise InputError("routing is scored against the build's answers", hint="pass the records with --records BUILD")
    named = {}
    for entry in expert:
        name, sep, path = entry.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(f"--expert '{entry}' is not NAME=PREDICTIONS", hint="give it as --expert NAME=PREDICTIONS")
        named[name.strip()] = Path(path.strip())
    loaded, summary = _load(file, Format.auto, records, "vqa", split, None)
    experts = {name: _load(path, Format.auto, records, "vqa", split, None)[0].items for name, path in named.items()}
    routed_by = {i: str(e) for i, e in prediction_field(file, "expert").items() if e}
    if not routed_by:
        raise InputError(f"'{file}' names no expert in its predictions", hint="predict with a router: --model route:FILE.yaml or a learned router")
    scores = score_routing(loaded.items, experts, routed_by)

    def acc(a: dict) -> str:
        return f"{a['accuracy'] * 100:.2f}"

    rows = [[name, acc(a), f"{scores['gain_over'][name]['difference'] * 100:+.2f}", format_p(scores["gain_over"][name]["p_mcnemar"])]
            for name, a in scores["experts"].items()]
    rows.append(["routed", acc(scores["routed"]), "", ""])
    rows.append(["oracle (any expert right)", acc(scores["oracle"]), "", ""])
    console.print(rich_table(f"routing — {file.name} — {scores['n']} questions", ["model", "accuracy %", "routed minus it (points)", "McNemar p"], rows))
    console.print("answered by: " + ", ".join(f"{name} {v['answers']} ({v['correct']} right)" for name, v in scores["answered_by"].items()), highlight=False)
    _print_summary(summary)
    _write_outputs(loaded.score_file(scores, file), loaded, json_out, None)


@eval_app.command(
    "grounding",
    epilog=examples("sarlang eval grounding predictions.jsonl --records mybench/ --json grounding.json"),
)
@user_errors
def eval_grounding(
    file: FileArg,
    records: RecordsOpt = None,
    fmt: FormatOpt = Format.auto,
    split: SplitOpt = "auto",
    convention: Annotated[str | None, typer.Option("--convention", help="Read answers in this box convention (default: the one each question asked for): sarlang, qwen2.5, norm, geochat, qwen2.")] = None,
    json_out: JsonOpt = None,
    rejects: RejectsOpt = None,
) -> None:
    """Score box answers: Acc@0.5, Acc@0.7 and mean IoU (unique and non-unique targets), and for
    several targets one-to-one matching with precision, recall, F1 and AP at IoU 0.5."""
    from sarlang.eval.grounding import grounding_items, score_grounding
    from sarlang.eval.tables import rich_table
    from sarlang.formats.records import load_records

    check_outputs({"--json file": json_out, "--rejects file": rejects})
    records = _required_records(records, "grounding answers", "boxes")
    loaded, summary = _load(file, fmt, records, "grounding", split, rejects)
    all_records, _ = load_records(records)
    scores = score_grounding(grounding_items(loaded.items, all_records, convention))

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.1f}"

    single = scores["single"]
    rows = [[name, str(part["n"]), pct(part["acc@0.5"]), pct(part["acc@0.7"]), pct(part["mean_iou"])]
            for name, part in (("all", single), ("unique", single["unique"]), ("non-unique", single["non_unique"])) if part["n"]]
    if rows:
        console.print(rich_table(f"grounding — {file.name} — one target", ["targets", "n", "Acc@0.5 %", "Acc@0.7 %", "mean IoU %"], rows))
    several = scores["several"]
    if several["n"]:
        console.print(rich_table("several targets (one-to-one matching, IoU 0.5)", ["n", "boxes true", "boxes given", "precision %", "recall %", "F1 %", "AP %"],
                                 [[str(several["n"]), str(several["boxes_true"]), str(several["boxes_predicted"]), pct(several["precision@0.5"]),
                                   pct(several["recall@0.5"]), pct(several["f1@0.5"]), pct(several["ap@0.5"])]]))
    console.print("read as: " + ", ".join(f"{k} {v}" for k, v in scores["parsed_as"].items()), highlight=False)
    for reason, n in scores["unreadable"].items():
        console.print(f"[yellow]{counted(n, 'answer')} scored wrong: {escape(reason)}[/]", highlight=False, markup=True)
    _print_summary(summary)
    _write_outputs(loaded.score_file(scores, file), loaded, json_out, rejects)


@eval_app.command(
    "segmentation",
    epilog=examples("sarlang eval segmentation predictions.jsonl --records hrsid_masks/ --json segmentation.json",
                    note="mask pictures written beside the predictions, predictions_masks/<record id>.png, are read first"),
)
@user_errors
def eval_segmentation(
    file: FileArg,
    records: RecordsOpt = None,
    fmt: FormatOpt = Format.auto,
    split: SplitOpt = "auto",
    masks: Annotated[Path | None, typer.Option("--masks", help="Folder of predicted mask pictures, <record id>.png (default: <predictions stem>_masks, when it exists).")] = None,
    json_out: JsonOpt = None,
    rejects: RejectsOpt = None,
) -> None:
    """Score mask answers (referring segmentation) as RRSIS-D and GeoPix do: gIoU, cIoU and
    precision at IoU 0.5 ... 0.9, for unique and non-unique targets; several instances matched one to one."""
    from sarlang.eval.segmentation import THRESHOLDS, masks_folder_of, score_segmentation, segmentation_items
    from sarlang.eval.tables import rich_table
    from sarlang.formats.records import load_records

    check_outputs({"--json file": json_out, "--rejects file": rejects})
    records = _required_records(records, "mask answers", "masks")
    if masks is not None and not masks.is_dir():
        raise InputError(f"--masks folder '{masks}' does not exist")
    loaded, summary = _load(file, fmt, records, "segmentation", split, rejects)
    all_records, _ = load_records(records)
    folder = masks if masks is not None else masks_folder_of(file)
    scores = score_segmentation(segmentation_items(loaded.items, all_records, folder if folder.is_dir() else None))

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.1f}"

    rows = [[name, str(part["n"]), pct(part["gIoU"]), pct(part["cIoU"]), *(pct(part[f"P@{t}"]) for t in THRESHOLDS)]
            for name, part in (("all", scores), ("unique", scores["unique"]), ("non-unique", scores["non_unique"])) if part["n"]]
    console.print(rich_table(f"referring segmentation — {file.name}", ["targets", "n", "gIoU %", "cIoU %", *(f"P@{t} %" for t in THRESHOLDS)], rows))
    inst = scores["instances"]
    if inst["n"]:
        console.print(rich_table("several instances (one-to-one matching, IoU 0.5)", ["n", "masks true", "masks given", "precision %", "recall %", "F1 %"],
                                 [[str(inst["n"]), str(inst["masks_true"]), str(inst["masks_predicted"]), pct(inst["precision@0.5"]),
                                   pct(inst["recall@0.5"]), pct(inst["f1@0.5"])]]))
    console.print("read as: " + ", ".join(f"{k} {v}" for k, v in scores["parsed_as"].items()), highlight=False)
    for reason, n in scores["unreadable"].items():
        console.print(f"[yellow]{counted(n, 'answer')} scored IoU 0: {escape(reason)}[/]", highlight=False, markup=True)
    _print_summary(summary)
    _write_outputs(loaded.score_file(scores, file), loaded, json_out, rejects)


#: Why a task is not scored without the build's records.
_NEEDS_RECORDS = {"grounding": "box answers are scored against the build's boxes", "segmentation": "mask answers are scored against the build's masks"}


@eval_app.command(
    "all",
    epilog=examples("sarlang eval all generated_predictions.jsonl --records mybench/ --out scores/"),
)
@user_errors
def eval_all(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for captions.json, vqa.json, grounding.json and segmentation.json (the scores of each task).")],
    records: RecordsOpt = None,
    fmt: FormatOpt = Format.auto,
    split: SplitOpt = "auto",
    caption_mode: Annotated[CaptionMode, typer.Option("--caption-mode", help="Caption scoring mode (sarlang or coco).")] = CaptionMode.sarlang,
    vqa_mode: Annotated[VqaMode, typer.Option("--vqa-mode", help="VQA rules (strict or official).")] = VqaMode.strict,
    judge: Annotated[JudgeKind, typer.Option("--judge", help="Who decides answers no rule decides (api options: use eval vqa).")] = JudgeKind.none,
    meteor: Annotated[bool, typer.Option("--meteor/--no-meteor", help="Compute METEOR (needs Java).")] = True,
    allow_judge_failures: Annotated[bool, typer.Option("--allow-judge-failures", help="Exit 0 even when the judge failed on some answers (they count wrong).")] = False,
) -> None:
    """Score a file that mixes captions and questions (as LLaMA-Factory and sarlang predict write them): every task it holds, one command
    (box and mask answers too, when the records are given)."""
    from sarlang.errors import TaskMismatch

    check_outputs(folders={"--out folder": out})
    scored, skipped = [], []
    for task, command, kwargs in (
        ("captions", eval_captions, {"mode": caption_mode, "meteor": meteor}),
        ("vqa", eval_vqa, {"mode": vqa_mode, "judge": judge, "allow_judge_failures": allow_judge_failures}),
        ("grounding", eval_grounding, {}),
        ("segmentation", eval_segmentation, {}),
    ):
        if task in ("grounding", "segmentation") and records is None:
            skipped.append(f"{task} ({_NEEDS_RECORDS[task]}: pass --records BUILD)")
            continue
        console.print(f"[bold]{task}[/]", highlight=False, markup=True)
        try:
            command.__wrapped__(file=file, records=records, fmt=fmt, split=split, json_out=out / f"{task}.json", **kwargs)
            scored.append(task)
        except TaskMismatch as exc:  # nothing of this task in the file or the records: the others are still scored
            console.print(f"no {task} to score: {exc.message}", highlight=False)
            skipped.append(task)
    if not scored:
        raise SarlangError(f"nothing in '{file}' could be scored: it holds no captions, questions or box answers that match",
                           hint="; ".join(skipped))
    if skipped:
        console.print("not scored: " + "; ".join(skipped), highlight=False)


@eval_app.command(
    "change",
    epilog=examples("sarlang eval change pred.jsonl --records ottawa_build/ --json change.json",
                    note="the change maps are read from pred_change_maps/, where sarlang predict writes them"),
)
@user_errors
def eval_change(
    file: FileArg,
    records: Annotated[Path, typer.Option("--records", help="The build of the pairs (its records name each pair's reference change map).")],
    maps: Annotated[Path | None, typer.Option("--maps", help="Folder of predicted change maps, <record id>.png (default: <predictions stem>_change_maps).")] = None,
    mode: Annotated[VqaMode, typer.Option("--mode", help="VQA rules of the change questions (strict or official).")] = VqaMode.strict,
    meteor: Annotated[bool, typer.Option("--meteor/--no-meteor", help="Compute METEOR of the change captions (needs Java).")] = True,
    json_out: JsonOpt = None,
) -> None:
    """Score change over time: change maps (false and missed alarms, overall error, PCC, Kappa, F1,
    IoU), change captions (pairs that changed and pairs that did not, apart) and change questions."""
    from sarlang.eval.change import score_change
    from sarlang.eval.tables import rich_table
    from sarlang.files import atomic_write_json, json_safe

    check_outputs({"--json file": json_out})
    result = score_change(file, records, maps, mode.value, meteor)

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.1f}"

    if "maps" in result:
        m = result["maps"]["pooled"]
        console.print(rich_table(f"change maps — {counted(result['maps']['pairs'], 'pair')}, pooled",
                                 ["false alarms", "missed alarms", "overall error", "PCC %", "Kappa", "F1 %", "IoU %", "mean Kappa"],
                                 [[str(m["false_alarms"]), str(m["missed_alarms"]), str(m["overall_error"]), pct(m["pcc"]),
                                   "–" if m["kappa"] is None else f"{m['kappa']:.3f}", pct(m["f1"]), pct(m["iou"]),
                                   "–" if result["maps"]["mean_kappa"] is None else f"{result['maps']['mean_kappa']:.3f}"]]))
    for name, part in result.get("captions", {}).items():
        scores = part["scores"]
        console.print(rich_table(f"change captions — pairs that {'changed' if name == 'changed' else 'did not change'} ({part['n']})",
                                 ["Bleu_4", "METEOR", "ROUGE_L", "CIDEr"], [[pct(scores.get(k)) for k in ("Bleu_4", "METEOR", "ROUGE_L", "CIDEr")]]))
    if "questions" in result:
        q = result["questions"]
        rows = [[a, pct(v["accuracy"]), f"{v['correct']}/{v['n']}"] for a, v in q["by_application"].items()]
        rows.append(["overall", pct(q["overall"]["accuracy"]), f"{q['overall']['correct']}/{q['overall']['n']}"])
        console.print(rich_table(f"change questions — mode {q['mode']}", ["application", "accuracy %", "correct/n"], rows))
    for note in result["notes"]:
        console.print(f"[dim]{escape(note)}[/]", highlight=False, markup=True)
    if json_out is not None:
        atomic_write_json(json_out, json_safe(result))
        console.print(f"scores written to {json_out}", highlight=False)


@eval_app.command(
    "compare",
    epilog=examples("sarlang eval compare model_a.json model_b.json"),
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

    check_outputs({"--json file": json_out})
    result = compare_score_files(a, b, alpha=alpha)
    for line in result["lines"]:
        console.print(line, highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, json_safe({k: v for k, v in result.items() if k != "lines"}))
        console.print(f"comparison written to {json_out}", highlight=False)

