"""``sarlang report``: one self-contained HTML page of one or several models' results.

A run is a score file of ``sarlang eval`` (``vqa.json`` or ``captions.json``) or a folder that
holds them (``eval all --out``, ``sarlang demo``'s output). The page needs no network at all:
plots are inline SVG (matplotlib), images are JPEG data URIs of thumbnails, the little script
that sorts tables and filters the gallery is inline. Sections (each collapsible):

- accuracy per application with 95% intervals for each model, the majority answer (the most
  common training answer of each question type, when the build's records are known) and the
  paired significance of each pair (McNemar's exact test, paired-bootstrap interval);
- accuracy per question type (a sortable table); confusion matrices of counting,
  classification and positioning answers;
- caption metrics in every mode scored, the distribution of per-image CIDEr, the best and
  worst captions with their images;
- an error gallery: thumbnails with the referred box (red) and the labelled objects (green),
  the question, the truth, each model's answer and the rule or judge that decided, filterable
  by application;
- the build's statistics (records per application and split, answer distributions with the
  majority share) and the provenance (versions, modes, judges, model settings, timings).

Whatever cannot be shown (a prediction file that moved, no records) is said in the page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.files import require
from sarlang.schema import APPLICATIONS, EvalItem, Record

#: Applications whose answers come from a small set, shown as confusion matrices, and how an
#: answer is put into a class (see :func:`answer_class`).
CONFUSION_APPLICATIONS = ("instance_counting", "object_classification", "object_positioning")
#: Most classes a confusion matrix shows (the commonest true answers); the rest are "other".
CONFUSION_CLASSES = 12
#: Longer side of a gallery thumbnail, pixels.
THUMBNAIL_PIXELS = 224
_BOX = re.compile(r"\[\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\]")


@dataclass
class Run:
    """One model's results: its VQA and caption score files (as ``sarlang eval --json`` writes
    them), the scored items by id (read back from the prediction file each names), the
    provenance that was found and notes on what could not be read."""

    name: str
    path: str
    vqa: dict[str, Any] | None = None
    captions: list[dict[str, Any]] = field(default_factory=list)
    vqa_items: dict[str, EvalItem] = field(default_factory=dict)
    caption_items: dict[str, EvalItem] = field(default_factory=dict)
    grounding: dict[str, Any] | None = None
    grounding_items: dict[str, EvalItem] = field(default_factory=dict)
    segmentation: dict[str, Any] | None = None
    segmentation_items: dict[str, EvalItem] = field(default_factory=dict)
    #: ``sarlang eval routing`` and ``sarlang eval knowledge`` score files (no gallery: tables only)
    routing: dict[str, Any] | None = None
    knowledge: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def records(self) -> str | None:
        for scores in [self.vqa, *self.captions, self.grounding, self.segmentation]:
            if scores and scores.get("records"):
                return str(scores["records"])
        return None

    def verdicts(self) -> dict[str, dict[str, Any]]:
        """VQA verdicts by item id (correct, decided_by, application, question_type)."""
        return {str(it["id"]): it for it in (self.vqa or {}).get("items", [])}


def score_kind(data: Any) -> str | None:
    """``vqa``, ``captions``, ``grounding``, ``segmentation``, ``routing`` or ``knowledge`` for a
    score file of ``sarlang eval``, else None."""
    if not isinstance(data, dict):
        return None
    if "gain_over" in data and "routed" in data and "experts" in data:
        return "routing"
    if "accuracy" in data and "by_question_type" in data and "items" in data and "by_application" not in data:
        return "knowledge"
    if "items" in data and "by_application" in data:
        return "vqa"
    if "single" in data and "several" in data and "items" in data:
        return "grounding"
    if "gIoU" in data and "cIoU" in data and "items" in data:
        return "segmentation"
    if "scores" in data and "per_sample" in data:
        return "captions"
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def load_run(path: str | Path, name: str | None = None, records: str | Path | None = None) -> Run:
    """A run from a score file or a folder of them (also its ``eval/`` sub-folder), with the
    demo's ``scores.json`` and a model folder's ``config.json`` as provenance when present.

    Raises:
        InputError: the path is missing, or holds no score file of ``sarlang eval``.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"run '{p}' does not exist", hint="give a score file of sarlang eval (--json) or a folder holding them")
    run = Run(name or (p.stem if p.is_file() else p.resolve().name), str(p.resolve()))
    files = [p] if p.is_file() else sorted([*p.glob("*.json"), *p.glob("eval/*.json")])
    for file in files:
        data = _read_json(file)
        kind = score_kind(data)
        if kind == "vqa":
            if run.vqa is not None:
                run.notes.append(f"{file.name}: a second VQA score file in the run, left out (give it as a run of its own)")
                continue
            run.vqa = data
        elif kind == "captions":
            run.captions.append(data)
        elif kind == "grounding" and run.grounding is None:
            run.grounding = data
        elif kind == "segmentation" and run.segmentation is None:
            run.segmentation = data
        elif kind == "routing" and run.routing is None:
            run.routing = data
        elif kind == "knowledge" and run.knowledge is None:
            run.knowledge = data
        elif p.is_dir() and file.name == "scores.json" and isinstance(data, dict) and "model" in data:
            run.provenance.update({k: data[k] for k in ("source", "model", "seconds", "records", "scenes") if k in data})
    if run.vqa is None and not run.captions and run.grounding is None and run.segmentation is None and run.routing is None and run.knowledge is None:
        raise InputError(f"'{p}' holds no score file of sarlang eval",
                         hint="write one with sarlang eval vqa PREDICTIONS --json vqa.json (or eval all --out FOLDER)")
    if p.is_dir() and "model" not in run.provenance:
        config = _read_json(p / "model" / "config.json")
        if isinstance(config, dict):
            run.provenance["model"] = config
    truth = str(records) if records is not None else None
    if run.vqa is not None:
        run.vqa_items = _items(run, run.vqa, "vqa", truth)
    for scores in run.captions:
        run.caption_items.update(_items(run, scores, "captions", truth))
    if run.grounding is not None:
        run.grounding_items = _items(run, run.grounding, "grounding", truth)
    if run.segmentation is not None:
        run.segmentation_items = _items(run, run.segmentation, "segmentation", truth)
    return run


def _items(run: Run, scores: dict[str, Any], task: str, records: str | None) -> dict[str, EvalItem]:
    """The scored items of a score file, read again from the prediction file it names."""
    from sarlang.formats.predictions import load_eval_items

    source = scores.get("input")
    records = records or scores.get("records")
    if not source or not Path(source).exists():
        run.notes.append(f"the {task} predictions '{source}' are not there any more: answers and images are not shown")
        return {}
    from sarlang.files import file_sha256
    from sarlang.formats.records import records_file

    # the page shows answers read again from the files: only when they are still what was scored
    if scores.get("input_sha256") is None:
        run.notes.append(f"the {task} score file holds no fingerprint of its predictions (an older sarlang): "
                         f"the answers shown are '{Path(source).name}' as it is now")
    elif file_sha256(source) != scores["input_sha256"]:
        run.notes.append(f"the {task} predictions '{source}' changed after they were scored (SHA-256 differs): their answers are not "
                         "shown, the scores are those of the file as it was; score it again to see both")
        return {}
    scored_against = scores.get("records")
    if records and scored_against and Path(records).resolve() != Path(scored_against).resolve():
        pass  # records given to the report on purpose: shown as given
    elif scored_against and scores.get("records_sha256") and file_sha256(records_file(scored_against)) != scores["records_sha256"]:
        run.notes.append(f"the records '{scored_against}' changed after the {task} predictions were scored: their answers are not shown")
        return {}
    try:
        loaded = load_eval_items(source, scores.get("summary", {}).get("format", "auto"), records, task=task, split=scores.get("split", "auto"))
    except InputError as exc:
        run.notes.append(f"the {task} predictions could not be read again: {exc.message}")
        return {}
    # images are named relative to the records (or to the prediction file when it carries them)
    base = Path(records) if records else Path(source)
    base = base if base.is_dir() else base.parent
    return {it.id: replace(it, image=str((base / it.image).resolve())) if it.image else it for it in loaded.items}


# ---------------------------------------------------------------------------------------------
# what the page shows


def answer_class(application: str, text: str) -> str:
    """The class of an answer in a confusion matrix: the count for counting (the one number it names), the position words
    for positioning, the category named for classification; otherwise the normalised answer."""
    from sarlang.eval.answers import category_of, extract_numbers, normalize_answer, parse_count, position_terms

    norm = normalize_answer(text)
    if application == "instance_counting":
        count = parse_count(norm)
        numbers = extract_numbers(norm) if count is None else [count]
        return f"{numbers[0]:g}" if len(numbers) == 1 else "?"
    if application == "object_positioning":
        terms = position_terms(norm)
        return " ".join(sorted(terms)) if terms else (norm[:24] or "?")
    if application == "object_classification":
        return category_of(norm) or norm[:24] or "?"
    return norm[:24] or "?"


def confusion(application: str, items: Sequence[EvalItem], limit: int = CONFUSION_CLASSES) -> dict[str, Any]:
    """Truth x answer counts of one application's items: the ``limit`` commonest true classes
    (answers of any other class are "other"), rows the truth, columns the answer."""
    pairs = [(answer_class(application, it.references[0]), answer_class(application, it.prediction)) for it in items]
    labels = [label for label, _ in Counter(t for t, _ in pairs).most_common(limit)]
    if application == "instance_counting":
        labels.sort(key=lambda v: float(v) if v.replace(".", "", 1).isdigit() else float("inf"))
    known = set(labels)
    columns = labels + ["other"]
    matrix = [[0] * len(columns) for _ in labels]
    for truth, answer in pairs:
        if truth in known:
            matrix[labels.index(truth)][columns.index(answer) if answer in known else -1] += 1
    return {"rows": labels, "columns": columns, "matrix": matrix, "n": len(pairs)}


def referred_box(question: str) -> tuple[float, float, float, float] | None:
    """The ``[x, y, w, h]`` box (pixels) a region-referring question names, if any."""
    found = _BOX.findall(question)
    if not found:
        return None
    try:
        x, y, w, h = (float(v) for v in found[-1])
    except ValueError:
        return None
    return (x, y, w, h) if w > 0 and h > 0 else None


def objects_of(records_file: str | None) -> dict[str, list[tuple[str, tuple[float, float, float, float]]]]:
    """Labelled objects (category, [x, y, w, h] pixels) of each image (resolved path) of a build's
    ``objects.jsonl``; empty when there is none or a row is malformed (the boxes are then not drawn)."""
    if not records_file:
        return {}
    path = Path(records_file)
    path = (path if path.is_dir() else path.parent) / "objects.jsonl"
    out: dict[str, list[tuple[str, tuple[float, float, float, float]]]] = {}
    try:
        for line in path.read_text(encoding="utf-8").split("\n"):  # JSONL: lines end at "\n" only
            if line.strip():
                row = json.loads(line)
                out[str((path.parent / row["image"]).resolve())] = [(str(o["category"]), tuple(float(v) for v in o["box"])) for o in row["objects"]]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return out


def thumbnail(image: str, boxes: Sequence[tuple[str, tuple[float, float, float, float]]] = (), referred: tuple[float, float, float, float] | None = None,
              side: int = THUMBNAIL_PIXELS, predicted: Sequence[tuple[float, float, float, float]] = ()) -> str | None:
    """A JPEG data URI of the image shrunk to ``side`` pixels at most, with labelled boxes
    (``[x, y, w, h]``) in green, the referred box (``[x, y, w, h]``) in red and ``predicted`` boxes
    (x1, y1, x2, y2) in orange; None when the image cannot be read."""
    from PIL import Image, ImageDraw

    try:
        with Image.open(image) as im:
            picture = im.convert("RGB")
    except (OSError, ValueError):
        return None
    scale = min(1.0, side / max(picture.size))
    picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(picture)
    for _, (x, y, w, h) in boxes:
        draw.rectangle([x * scale, y * scale, (x + w) * scale, (y + h) * scale], outline=(40, 220, 90), width=1)
    if referred is not None:
        x, y, w, h = referred
        draw.rectangle([x * scale, y * scale, (x + w) * scale, (y + h) * scale], outline=(255, 40, 40), width=2)
    for x1, y1, x2, y2 in predicted:
        draw.rectangle([x1 * scale, y1 * scale, x2 * scale, y2 * scale], outline=(255, 150, 0), width=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def mask_thumbnail(image: str, truth: Sequence[Any], predicted: Sequence[Any], side: int = THUMBNAIL_PIXELS) -> str | None:
    """A JPEG data URI of the image shrunk to ``side`` pixels at most, the true masks (bool,
    image-sized) tinted green with their outline, the predicted ones orange; None when the image
    cannot be read."""
    import numpy as np
    from PIL import Image
    from scipy import ndimage

    try:
        with Image.open(image) as im:
            picture = np.asarray(im.convert("RGB"), dtype=np.float32)
    except (OSError, ValueError):
        return None
    for masks, colour in ((truth, (40, 220, 90)), (predicted, (255, 150, 0))):
        if not len(masks):
            continue
        union = np.logical_or.reduce([m for m in masks if m.shape == picture.shape[:2]] or [np.zeros(picture.shape[:2], dtype=bool)])
        edge = union & ~ndimage.binary_erosion(union)
        picture[union] = 0.55 * picture[union] + 0.45 * np.array(colour, dtype=np.float32)
        picture[edge] = colour
    shown = Image.fromarray(picture.clip(0, 255).astype(np.uint8))
    scale = min(1.0, side / max(shown.size))
    shown = shown.resize((max(1, round(shown.width * scale)), max(1, round(shown.height * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    shown.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pair_thumbs(record: Any, base: Path | None, runs: Sequence[Run], thumb: Any) -> dict[str, Any]:
    """For a card of a bi-temporal pair: the later date's thumbnail, the reference change map's
    and each run's predicted map (found where ``sarlang predict`` writes them, beside the run's
    predictions), side by side with the earlier date; nothing for a record of one image."""
    if record is None or base is None:
        return {}
    out: dict[str, Any] = {"later_thumb": thumb(str((base / record.images[1]).resolve()))}
    truth = record.provenance.get("change_map")
    out["map_thumb"] = thumb(str((base / truth).resolve())) if truth else None
    maps = []
    for run in runs:
        source = (run.vqa or {}).get("input")
        if not source:
            continue
        folder = Path(source).with_name(f"{Path(source).stem}_change_maps")
        found = next((folder / f"{r}.png" for r in [record.id] if (folder / f"{r}.png").is_file()), None)
        if found is None and folder.is_dir():  # a map is named after one record of its pair
            found = next((p for p in sorted(folder.glob("*.png")) if p.stem in run.vqa_items and run.vqa_items[p.stem].image == run.vqa_items[record.id].image), None)
        if found is not None:
            maps.append({"run": run.name, "thumb": thumb(str(found))})
    out["predicted_maps"] = maps
    return out


def _svg(figure: Any) -> str:
    """A matplotlib figure as inline SVG (text as paths: no font is fetched), without the XML prologue."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def accuracy_figure(applications: Sequence[str], runs: Sequence[Run], majority: dict[str, float]) -> str:
    """Grouped bars: accuracy per application for each run with its 95% interval; the majority
    answer's accuracy as a black tick."""
    plt = require("matplotlib.pyplot", "plots", "plots in the report (matplotlib)")
    import numpy as np

    plt.rcParams["svg.fonttype"] = "path"
    figure, axes = plt.subplots(figsize=(max(6.0, 1.3 * len(applications) + 2), 3.4))
    width = 0.8 / max(1, len(runs))
    x = np.arange(len(applications))
    for k, run in enumerate(runs):
        by_app = (run.vqa or {}).get("by_application", {})
        values = [by_app.get(a, {}).get("accuracy", np.nan) * 100 for a in applications]
        low = [values[i] - by_app.get(a, {}).get("ci95", [np.nan] * 2)[0] * 100 for i, a in enumerate(applications)]
        high = [by_app.get(a, {}).get("ci95", [np.nan] * 2)[1] * 100 - values[i] for i, a in enumerate(applications)]
        axes.bar(x + (k - (len(runs) - 1) / 2) * width, values, width, yerr=[low, high], capsize=2, label=run.name)
    if majority:
        axes.scatter(x, [majority.get(a, np.nan) * 100 for a in applications], marker="_", s=900, color="black", zorder=3, label="majority answer")
    axes.set_xticks(x, [a.replace("_", "\n") for a in applications], fontsize=8)
    axes.set_ylabel("accuracy, %")
    axes.set_ylim(0, 100)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.grid(axis="y", alpha=0.3)
    return _svg(figure)


def cider_figure(runs: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Histograms of per-image CIDEr, one per run."""
    plt = require("matplotlib.pyplot", "plots", "plots in the report (matplotlib)")

    plt.rcParams["svg.fonttype"] = "path"
    figure, axes = plt.subplots(figsize=(6.5, 2.8))
    top = max([max(v) for _, v in runs if v] + [1.0])
    for name, values in runs:
        axes.hist(values, bins=30, range=(0, top), alpha=0.55, label=name)
    axes.set_xlabel("CIDEr of one image's caption")
    axes.set_ylabel("images")
    axes.legend(fontsize=8)
    return _svg(figure)


# ---------------------------------------------------------------------------------------------
# the page


def build_report(runs: Sequence[Run], gallery: int = 30, captions_shown: int = 5) -> str:
    """The HTML page of ``runs`` (see the module docstring): ``gallery`` wrong answers at most per
    application, ``captions_shown`` best and worst captions per run."""
    jinja2 = require("jinja2", "report", "the HTML report (jinja2)")
    from sarlang import __version__ as version
    from sarlang.eval.significance import paired_comparison
    from sarlang.eval.vqa import majority_answers, majority_predictions, score_vqa
    from sarlang.formats.records import load_records

    if not runs:
        raise InputError("no run to report")
    notes = [f"{run.name}: {note}" for run in runs for note in run.notes]
    records_file = next((run.records for run in runs if run.records), None)
    records: list[Record] = []
    if records_file:
        try:
            records, _ = load_records(records_file)
        except InputError as exc:
            notes.append(f"the build's records could not be read ({exc.message}): no majority answer or build statistics")
    else:
        notes.append("no run names the build's records (pass --records): no majority answer or build statistics")
    majority = majority_answers(records)
    if records and not majority:
        notes.append("the build's records hold no training questions: no majority answer")
    vqa_runs = [run for run in runs if run.vqa is not None]
    applications = [a for a in APPLICATIONS if any(a in run.vqa["by_application"] for run in vqa_runs)]
    verdicts = [run.verdicts() for run in vqa_runs]

    # the majority answer on the first run's items, scored by the same rules (no judge)
    majority_by_app: dict[str, float] = {}
    majority_correct: dict[str, bool] = {}
    if majority and vqa_runs and vqa_runs[0].vqa_items:
        items = list(vqa_runs[0].vqa_items.values())
        scored = score_vqa(majority_predictions(majority, items), mode=vqa_runs[0].vqa.get("mode", "strict"))
        majority_correct = {it.id: it.correct for it in scored.items}
        majority_by_app = {a: acc.accuracy for a, acc in scored.by_application.items()}

    accuracy_rows = []
    for a in [*applications, "overall"]:
        cells = []
        for run in vqa_runs:
            acc = run.vqa["overall"] if a == "overall" else run.vqa["by_application"].get(a)
            cells.append(acc)
        if a == "overall":
            base = sum(majority_correct.values()) / len(majority_correct) if majority_correct else None
        else:
            base = majority_by_app.get(a)
        accuracy_rows.append({"application": a, "cells": cells, "majority": base})

    pairs = []
    contenders = [(run.name, v) for run, v in zip(vqa_runs, verdicts)]
    if majority_correct:
        contenders.append(("majority answer", {i: {"correct": ok, "application": vqa_runs[0].vqa_items[i].application} for i, ok in majority_correct.items()}))
    for i in range(len(contenders)):
        for j in range(i + 1, len(contenders)):
            (name_a, a), (name_b, b) = contenders[i], contenders[j]
            shared = sorted(set(a) & set(b))
            for application in [None, *applications]:
                ids = [k for k in shared if application is None or a[k]["application"] == application]
                if not ids:
                    continue
                test = paired_comparison([bool(a[k]["correct"]) for k in ids], [bool(b[k]["correct"]) for k in ids])
                pairs.append({"a": name_a, "b": name_b, "application": application or "overall", **test})

    question_types = sorted({qt for run in vqa_runs for qt in run.vqa["by_question_type"]})
    type_app = {it["question_type"]: it["application"] for v in verdicts for it in v.values()}
    type_rows = [{"question_type": qt, "application": type_app.get(qt, ""), "cells": [run.vqa["by_question_type"].get(qt) for run in vqa_runs]}
                 for qt in question_types]

    confusions = []
    for application in CONFUSION_APPLICATIONS:
        for run in vqa_runs:
            items = [it for it in run.vqa_items.values() if it.application == application]
            if items:
                confusions.append({"application": application, "run": run.name, **confusion(application, items)})

    objects = objects_of(records_file)
    thumbs: dict[tuple[str, Any], str | None] = {}
    # a bi-temporal pair's records: both dates, the reference change map and the models' maps
    pair_records = {r.id: r for r in records if r.is_pair}
    base = None if not records_file else (Path(records_file) if Path(records_file).is_dir() else Path(records_file).parent)

    def thumb(image: str, referred: Any = None) -> str | None:
        key = (image, referred)
        if key not in thumbs:
            thumbs[key] = thumbnail(image, objects.get(str(Path(image).resolve()), []), referred) if image else None
        return thumbs[key]

    cards = []
    wrong_by_app: Counter = Counter()
    shown_by_app: Counter = Counter()
    ids = sorted({i for v in verdicts for i, it in v.items() if not it["correct"]})
    for item_id in ids:
        item = next((run.vqa_items[item_id] for run in vqa_runs if item_id in run.vqa_items), None)
        if item is None:
            continue
        wrong_by_app[item.application] += 1
        if shown_by_app[item.application] >= gallery:
            continue
        shown_by_app[item.application] += 1
        answers = []
        for run, v in zip(vqa_runs, verdicts):
            if item_id in v:
                answers.append({"run": run.name, "answer": run.vqa_items[item_id].prediction if item_id in run.vqa_items else "",
                                "correct": bool(v[item_id]["correct"]), "decided_by": v[item_id]["decided_by"]})
        card = {"id": item_id, "application": item.application, "question": item.question, "truth": " | ".join(item.references),
                "image": item.image, "thumb": thumb(item.image, referred_box(item.question) if item.application == "region_referring" else None),
                "answers": answers}
        card.update(pair_thumbs(pair_records.get(item_id), base, [run for run in vqa_runs if item_id in run.vqa_items], thumb))
        cards.append(card)

    caption_tables, cider_runs, caption_examples = [], [], []
    for run in runs:
        for scores in run.captions:
            caption_tables.append({"run": run.name, "mode": scores.get("mode", "?"), "scores": scores.get("scores", {}), "n": scores.get("n")})
        best = max(run.captions, key=lambda s: s.get("mode") == "sarlang", default=None)
        if best is None:
            continue
        per = best.get("per_sample", {})
        cider = per.get("CIDEr")
        if cider:
            cider_runs.append((run.name, cider))
            ranked = sorted(zip(per["id"], cider), key=lambda p: p[1])
            chosen = [("worst", i, c) for i, c in ranked[:captions_shown]] + [("best", i, c) for i, c in ranked[::-1][:captions_shown]]
            for kind, item_id, value in chosen:
                item = run.caption_items.get(str(item_id))
                if item is not None:
                    example = {"run": run.name, "kind": kind, "cider": value, "prediction": item.prediction,
                               "references": list(item.references), "thumb": thumb(item.image)}
                    record = pair_records.get(str(item_id))
                    if record is not None and base is not None:  # a change caption: the later date and the change map beside
                        example["later_thumb"] = thumb(str((base / record.images[1]).resolve()))
                        truth = record.provenance.get("change_map")
                        example["map_thumb"] = thumb(str((base / truth).resolve())) if truth else None
                    caption_examples.append(example)

    from sarlang.formats.boxes import parse_boxes

    grounding_tables, grounding_cards = [], []
    by_id = {r.id: r for r in records}
    for run in runs:
        if run.grounding is None:
            continue
        g = run.grounding
        grounding_tables.append({"run": run.name, "single": g["single"], "several": g["several"], "parsed_as": g.get("parsed_as", {})})
        shown = 0
        for row in g["items"]:
            item, record = run.grounding_items.get(str(row["id"])), by_id.get(str(row["id"]))
            if item is None or record is None or shown >= gallery:
                continue
            if row.get("iou") is not None and row["iou"] >= 0.5:
                continue  # the gallery shows what went wrong
            p = record.provenance
            parsed = parse_boxes(item.prediction, str(p.get("convention", "sarlang")), float(p.get("width", 1)), float(p.get("height", 1)))
            truth = [("", tuple(b)) for b in p.get("boxes", [])]
            grounding_cards.append({"run": run.name, "id": item.id, "question": item.question, "answer": item.prediction, "iou": row.get("iou"),
                                    "reason": row.get("reason"), "unique": row.get("unique"),
                                    "thumb": thumbnail(item.image, truth, None, predicted=parsed.boxes) if item.image else None})
            shown += 1

    segmentation_tables, segmentation_cards = _segmentation_parts(runs, by_id, gallery)

    build = None
    if records:
        by_app_split: dict[str, Counter] = defaultdict(Counter)
        answers: dict[str, Counter] = defaultdict(Counter)
        for r in records:
            by_app_split[r.application][r.split] += 1
            if r.split == "train" and not r.is_caption:
                answers[r.question_type][r.answer] += 1
        splits = sorted({s for c in by_app_split.values() for s in c})
        build = {"file": records_file, "splits": splits,
                 "rows": [{"application": a, "counts": [by_app_split[a][s] for s in splits], "total": sum(by_app_split[a].values())}
                          for a in APPLICATIONS if a in by_app_split],
                 "answers": [{"question_type": qt, "n": sum(c.values()), "share": c.most_common(1)[0][1] / sum(c.values()),
                              "top": [(answer, n) for answer, n in c.most_common(5)]} for qt, c in sorted(answers.items())]}

    provenance = {"sarlang": version, "python": platform.python_version(), "platform": platform.platform(terse=True),
                  "runs": [{"name": run.name, "path": run.path, "vqa": None if run.vqa is None else
                            {"mode": run.vqa.get("mode"), "judge": run.vqa.get("judge"), "decided_by": run.vqa.get("decided_by"),
                             "input": run.vqa.get("input"), "summary": run.vqa.get("summary")},
                            "captions": [{"mode": s.get("mode"), "input": s.get("input")} for s in run.captions],
                            "provenance": run.provenance} for run in runs]}

    environment = jinja2.Environment(loader=jinja2.PackageLoader("sarlang.eval", "templates"), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    environment.filters["pct"] = lambda v: "–" if v is None else f"{v * 100:.1f}"
    environment.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str, ensure_ascii=False)
    environment.filters["label"] = lambda v: str(v).replace("_", " ")
    return environment.get_template("report.html").render(
        title="sarlang report — " + ", ".join(run.name for run in runs), runs=runs, vqa_runs=vqa_runs,
        accuracy_rows=accuracy_rows, accuracy_svg=accuracy_figure(applications, vqa_runs, majority_by_app) if applications else None,
        pairs=pairs, type_rows=type_rows, confusions=confusions, cards=cards, wrong_by_app=wrong_by_app, shown_by_app=shown_by_app,
        gallery_applications=[a for a in APPLICATIONS if wrong_by_app[a]], caption_tables=caption_tables,
        cider_svg=cider_figure(cider_runs) if cider_runs else None, caption_examples=caption_examples,
        build=build, provenance=provenance, notes=notes, has_majority=bool(majority_correct), escape=html.escape,
        grounding_tables=grounding_tables, grounding_cards=grounding_cards,
        segmentation_tables=segmentation_tables, segmentation_cards=segmentation_cards, **_expert_parts(runs))


def _expert_parts(runs: Sequence[Run]) -> dict[str, list[dict[str, Any]]]:
    """The tables of conversations (VQA accuracy per turn), knowledge questions (accuracy,
    retrieval recall and MRR) and routing (each expert alone, routed, the paired gain, who
    answered what) of the runs that have them."""
    turns = [{"run": run.name, "by_turn": run.vqa["by_turn"]} for run in runs if run.vqa and run.vqa.get("by_turn")]
    knowledge = [{"run": run.name, "accuracy": run.knowledge["accuracy"], "by_question_type": run.knowledge["by_question_type"],
                  "retrieval": run.knowledge.get("retrieval")} for run in runs if run.knowledge]
    routing = []
    for run in runs:
        r = run.routing
        if r:
            rows = [{"name": name, "accuracy": acc["accuracy"], "gain": r["gain_over"][name]["difference"], "p": r["gain_over"][name]["p_mcnemar"]}
                    for name, acc in r["experts"].items()]
            routing.append({"run": run.name, "n": r["n"], "rows": rows, "routed": r["routed"]["accuracy"], "oracle": r["oracle"]["accuracy"],
                            "answered_by": r["answered_by"]})
    return {"turn_tables": turns, "knowledge_tables": knowledge, "routing_tables": routing}


def _segmentation_parts(runs: Sequence[Run], by_id: dict[str, Any], gallery: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The referring-segmentation table rows, and cards of each run's worst mask answers (lowest
    IoU first, up to ``gallery``) with the true and predicted masks drawn over the image."""
    from sarlang.eval.segmentation import masks_folder_of
    from sarlang.formats.masks import parse_masks, record_masks

    tables, cards = [], []
    for run in runs:
        s = run.segmentation
        if s is None:
            continue
        tables.append({"run": run.name, "all": s, "unique": s.get("unique", {}), "non_unique": s.get("non_unique", {}),
                       "instances": s.get("instances", {}), "parsed_as": s.get("parsed_as", {})})
        folder = masks_folder_of(s["input"]) if s.get("input") else None
        worst = sorted((row for row in s["items"] if row.get("iou") is not None), key=lambda row: row["iou"])
        for row in worst[:gallery]:
            item, record = run.segmentation_items.get(str(row["id"])), by_id.get(str(row["id"]))
            if item is None or record is None:
                continue
            try:
                truth, width, height, _ = record_masks(record)
            except InputError:
                continue
            png = folder / f"{item.id}.png" if folder is not None else None
            parsed = parse_masks(item.prediction, width, height, png)
            cards.append({"run": run.name, "id": item.id, "question": item.question, "answer": item.prediction[:300], "iou": row["iou"],
                          "reason": row.get("reason"), "unique": row.get("unique"), "parsed_as": parsed.parsed_as,
                          "thumb": mask_thumbnail(item.image, truth, parsed.masks) if item.image else None})
    return tables, cards


def write_report(paths: Sequence[str | Path], out: str | Path, names: Sequence[str] | None = None, records: str | Path | None = None,
                 gallery: int = 30) -> dict[str, Any]:
    """Read the runs at ``paths`` (named ``names``, by default after their files or folders;
    duplicates get a number), write the page to ``out`` atomically and say what it holds.

    Raises:
        InputError: a run that is missing or holds no score file, or more names than runs.
    """
    from sarlang.files import atomic_write_text

    if names and len(names) > len(paths):
        raise InputError(f"{len(names)} names for {len(paths)} runs", hint="give one --name per run, in the order of the runs")
    runs = []
    seen: Counter = Counter()
    for k, path in enumerate(paths):
        run = load_run(path, names[k] if names and k < len(names) else None, records)
        seen[run.name] += 1
        if seen[run.name] > 1:
            run.name = f"{run.name} ({seen[run.name]})"
        runs.append(run)
    page = build_report(runs, gallery=gallery)
    atomic_write_text(out, page)
    return {"out": str(out), "bytes": len(page.encode("utf-8")), "runs": [run.name for run in runs],
            "notes": [f"{run.name}: {note}" for run in runs for note in run.notes]}
