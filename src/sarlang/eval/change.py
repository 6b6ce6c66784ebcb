"""Scoring change: change maps against the reference maps, change captions and change questions.

**Change maps** with the measures of the SAR change-detection literature, over the pixels of all
pairs pooled (each pair's confusion counts added) and, for Kappa, also averaged per pair:

``false_alarms`` (FA)   unchanged pixels the map calls changed
``missed_alarms`` (MA)  changed pixels the map misses
``overall_error`` (OE)  FA + MA
``pcc``                 the share of pixels right, (TP + TN) / N
``kappa``               Cohen's kappa: (PCC - PRE) / (1 - PRE), PRE the agreement expected by chance,
                        ((TP + FA)(TP + MA) + (MA + TN)(FA + TN)) / N^2 (Rosin and Ioannidis 2003)
``f1``, ``iou``         of the changed class: 2 TP / (2 TP + FA + MA) and TP / (TP + FA + MA)

A pair without a predicted map is counted as no change predicted (all missed), and said.
**Captions** of pairs are scored with the caption metrics separately for pairs that changed and
pairs that did not, as change-captioning papers (LEVIR-CC, SECOND-CC) report them; **questions**
with the VQA rules, per change application.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def confusion(truth: np.ndarray, predicted: np.ndarray) -> dict[str, int]:
    """TP, TN, FA (false alarms) and MA (missed alarms) of a predicted change map against the truth.

    Raises:
        ValueError: maps of different shapes.
    """
    t, p = np.asarray(truth, dtype=bool), np.asarray(predicted, dtype=bool)
    if t.shape != p.shape:
        raise ValueError(f"the predicted change map is {p.shape[1]}x{p.shape[0]}, the reference {t.shape[1]}x{t.shape[0]}")
    return {"tp": int((t & p).sum()), "tn": int((~t & ~p).sum()), "fa": int((~t & p).sum()), "ma": int((t & ~p).sum())}


def map_scores(counts: dict[str, int]) -> dict[str, float | int | None]:
    """The measures of the module docstring from confusion counts (None where undefined)."""
    tp, tn, fa, ma = counts["tp"], counts["tn"], counts["fa"], counts["ma"]
    n = tp + tn + fa + ma
    if n == 0:
        return {"pixels": 0, "false_alarms": 0, "missed_alarms": 0, "overall_error": 0, "pcc": None, "kappa": None, "f1": None, "iou": None}
    pcc = (tp + tn) / n
    pre = ((tp + fa) * (tp + ma) + (ma + tn) * (fa + tn)) / n**2
    kappa = (pcc - pre) / (1 - pre) if pre < 1 else (1.0 if pcc == 1 else 0.0)
    changed = 2 * tp + fa + ma
    return {"pixels": n, "false_alarms": fa, "missed_alarms": ma, "overall_error": fa + ma, "pcc": pcc, "kappa": kappa,
            "f1": 2 * tp / changed if changed else None, "iou": tp / (tp + fa + ma) if tp + fa + ma else None}


def score_change_maps(pairs: Iterable[tuple[str, np.ndarray, np.ndarray | None]]) -> dict[str, Any]:
    """Pooled and per-pair scores of (pair id, reference map, predicted map or None) triples."""
    pooled = {"tp": 0, "tn": 0, "fa": 0, "ma": 0}
    per_pair, kappas, missing = [], [], []
    for pair_id, truth, predicted in pairs:
        if predicted is None:
            missing.append(pair_id)
            predicted = np.zeros_like(np.asarray(truth, dtype=bool))
        counts = confusion(truth, predicted)
        for k in pooled:
            pooled[k] += counts[k]
        scores = map_scores(counts)
        per_pair.append({"id": pair_id, **{k: scores[k] for k in ("overall_error", "pcc", "kappa", "f1", "iou")}})
        if scores["kappa"] is not None:
            kappas.append(scores["kappa"])
    return {"pairs": len(per_pair), "pooled": map_scores(pooled), "mean_kappa": float(np.mean(kappas)) if kappas else None,
            "without_a_predicted_map": missing, "per_pair": per_pair}


def _read_map(path: Any) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L")) >= 128


def score_change(predictions: Any, records: Any, maps: Any = None, mode: str = "strict", meteor: bool = True) -> dict[str, Any]:
    """The change scores of a prediction file against a build with pairs: its change questions
    (VQA rules, per application), its change captions (split into pairs that changed and pairs
    that did not) and the change maps in ``maps`` (default: the folder ``sarlang predict`` writes
    beside the predictions, ``<stem>_change_maps``; a map is named after any record of its pair).

    Raises:
        InputError: records without pairs, or nothing of the file that scores as change.
    """
    from pathlib import Path

    from sarlang.errors import InputError, TaskMismatch
    from sarlang.eval.captions import score_captions
    from sarlang.eval.vqa import score_vqa
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records, records_file
    from sarlang.schema import CHANGE_APPLICATIONS

    all_records, _ = load_records(records)
    pairs = [r for r in all_records if r.is_pair]
    if not pairs:
        raise InputError(f"'{records}' holds no bi-temporal pair", hint="build one from pairs:, changedet: or simulate-change: sources")
    by_id = {r.id: r for r in pairs}
    result: dict[str, Any] = {"input": str(Path(predictions).resolve()), "records": str(Path(records).resolve())}
    notes: list[str] = []
    try:
        loaded = load_eval_items(predictions, "auto", records, task="vqa")
        questions = [it for it in loaded.items if it.application in CHANGE_APPLICATIONS]
    except TaskMismatch:
        questions = []
    if questions:
        scores = score_vqa(questions, mode=mode).to_json()
        result["questions"] = {k: scores[k] for k in ("mode", "overall", "macro", "by_application", "by_question_type")}
    try:
        captions = [it for it in load_eval_items(predictions, "auto", records, task="captions").items if it.id in by_id]
    except TaskMismatch:
        captions = []
    if captions:
        result["captions"] = {}
        for name, changed in (("changed", True), ("unchanged", False)):
            part = [it for it in captions if bool(by_id[it.id].provenance.get("changed")) == changed]
            if part:
                scored = score_captions([it.prediction for it in part], [list(it.references) for it in part], meteor=meteor)
                result["captions"][name] = {"n": len(part), **scored.to_json()}
    folder = Path(maps) if maps is not None else Path(predictions).with_name(f"{Path(predictions).stem}_change_maps")
    if folder.is_dir():
        base = records_file(records).parent
        groups: dict[tuple[str, ...], list[Any]] = {}
        for r in pairs:
            groups.setdefault(r.images, []).append(r)
        triples = []
        for images, group in groups.items():
            truth_path = next((r.provenance.get("change_map") for r in group if r.provenance.get("change_map")), None)
            if not truth_path:
                continue
            found = next((folder / f"{r.id}.png" for r in group if (folder / f"{r.id}.png").is_file()), None)
            truth = _read_map(base / truth_path)
            shown = None if found is None else _read_map(found)
            if shown is not None and shown.shape != truth.shape:
                notes.append(f"{found.name}: a map of {shown.shape[1]}x{shown.shape[0]} for a pair of {truth.shape[1]}x{truth.shape[0]}, left out")
                shown = None
            triples.append((group[0].id, truth, shown, group[0].split))
        # the pairs of the splits that were predicted (a test-split run leaves the train pairs without maps)
        predicted_splits = {split for _, _, shown, split in triples if shown is not None}
        chosen = [(pair_id, truth, shown) for pair_id, truth, shown, split in triples if split in predicted_splits]
        if chosen:
            result["maps"] = score_change_maps(chosen)
            if result["maps"]["without_a_predicted_map"]:
                notes.append(f"{len(result['maps']['without_a_predicted_map'])} pairs of the predicted splits have no map in {folder}: "
                             "counted as no change predicted")
        else:
            notes.append(f"no change map of these pairs in {folder}")
    else:
        notes.append(f"no change maps: {folder} does not exist (sarlang predict writes them for a model that draws maps, e.g. logratio:)")
    if not (questions or captions or "maps" in result):
        raise InputError(f"nothing in '{predictions}' scores as change: no change question, change caption or change map",
                         hint="predict the build's pairs with a model that sees two images (logratio:, a model trained on pairs)")
    result["notes"] = notes
    return result
