"""Do two models differ significantly on the same items?

VQA: McNemar's exact test and a paired bootstrap of the accuracy difference, over the items
both score files contain. Captions: a paired bootstrap of the difference of the per-image
CIDEr and ROUGE-L means (the two caption metrics that are means of per-image scores).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.eval.significance import format_p, paired_comparison, paired_mean_difference
from sarlang.files import read_bytes
from sarlang.vocabulary import counted


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_bytes(path, "scores file").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"'{path}' is not a JSON scores file: {exc}") from None
    if not isinstance(data, dict) or not ("items" in data or "per_sample" in data):
        raise InputError(f"'{path}' has no per-item results", hint="write it with sarlang eval vqa/captions --json")
    return data


def compare_score_files(path_a: Path, path_b: Path, alpha: float = 0.05) -> dict[str, Any]:
    """Whether two models differ significantly on the items both score files hold.

    Parameters
    ----------
    path_a, path_b:
        Score files written by ``sarlang eval vqa/captions --json`` (or ``LoadedItems.score_file``).
    alpha:
        The significance level.

    Returns
    -------
    dict
        For VQA: accuracies, their difference with a 95% paired-bootstrap interval, McNemar's exact
        p and the bootstrap p (a bound when no resample crosses zero); for captions: the same for
        per-image CIDEr and ROUGE-L. ``lines`` holds a printable report.

    Raises
    ------
    InputError
        A file that is not a score file, files of different kinds, or no item in common.
    """
    a, b = _load(path_a), _load(path_b)
    kind_a = "vqa" if "items" in a else "captions"
    kind_b = "vqa" if "items" in b else "captions"
    if kind_a != kind_b:
        raise InputError(f"cannot compare a {kind_a} score file with a {kind_b} one")
    lines: list[str] = []
    for key in ("mode", "judge"):
        if a.get(key) != b.get(key):
            lines.append(f"warning: the files differ in {key} ({a.get(key)} vs {b.get(key)}); the comparison mixes protocols")
    if kind_a == "vqa":
        ca = {str(it["id"]): bool(it["correct"]) for it in a["items"]}
        cb = {str(it["id"]): bool(it["correct"]) for it in b["items"]}
        shared = [i for i in ca if i in cb]
        _note_unshared(lines, len(ca), len(cb), len(shared))
        if not shared:
            raise InputError("the two score files have no item id in common")
        stats = paired_comparison([ca[i] for i in shared], [cb[i] for i in shared])
        significant = stats["p_mcnemar"] < alpha
        lines.append(
            f"{stats['n']} shared items: A {stats['accuracy_a'] * 100:.2f}%  B {stats['accuracy_b'] * 100:.2f}%  "
            f"B - A = {stats['difference'] * 100:+.2f} points, 95% CI [{stats['ci95'][0] * 100:+.2f}, {stats['ci95'][1] * 100:+.2f}]"
        )
        lines.append(
            f"only A right {stats['only_a_correct']}, only B right {stats['only_b_correct']}; "
            f"McNemar exact p = {stats['p_mcnemar']:.4g}, paired bootstrap {format_p(stats['p_bootstrap'], stats['p_bootstrap_is_bound'])}"
        )
        lines.append(f"{'significant' if significant else 'not significant'} at alpha = {alpha:g} (McNemar)")
        return {"kind": "vqa", "alpha": alpha, "significant": significant, **stats, "lines": lines}
    pa, pb = a["per_sample"], b["per_sample"]
    ia = {str(i): k for k, i in enumerate(pa["id"])}
    ib = {str(i): k for k, i in enumerate(pb["id"])}
    shared = [i for i in ia if i in ib]
    _note_unshared(lines, len(ia), len(ib), len(shared))
    if not shared:
        raise InputError("the two score files have no item id in common")
    result: dict[str, Any] = {"kind": "captions", "alpha": alpha, "metrics": {}}
    for metric in ("CIDEr", "ROUGE_L"):
        if metric not in pa or metric not in pb:
            continue
        stats = paired_mean_difference([pa[metric][ia[i]] for i in shared], [pb[metric][ib[i]] for i in shared])
        stats["significant"] = stats["p_bootstrap"] < alpha
        result["metrics"][metric] = stats
        lines.append(
            f"{metric} on {stats['n']} shared images: A {stats['mean_a']:.4f}  B {stats['mean_b']:.4f}  "
            f"B - A = {stats['difference']:+.4f}, 95% CI [{stats['ci95'][0]:+.4f}, {stats['ci95'][1]:+.4f}], "
            f"{format_p(stats['p_bootstrap'], stats['p_bootstrap_is_bound'])}: {'significant' if stats['significant'] else 'not significant'} at alpha = {alpha:g}"
        )
    result["lines"] = lines
    return result


def _note_unshared(lines: list[str], n_a: int, n_b: int, n_shared: int) -> None:
    if n_shared < max(n_a, n_b):
        lines.append(f"note: A has {counted(n_a, 'item')}, B has {n_b}; only the {n_shared} in both are compared")
