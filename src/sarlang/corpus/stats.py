"""``sarlang stats``: the tables a benchmark paper shows for its own data.

Counts per application and per question type, answer distributions per question type with the
share of the most common answer (what "always guess the majority" would score on it), caption
length statistics per caption kind (words), and the number of distinct question types; written
as Markdown and JSON, with PNG plots when matplotlib is installed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.files import atomic_write_json, atomic_write_text
from sarlang.schema import APPLICATIONS, Record
from sarlang.vocabulary import counted


def corpus_stats(records: list[Record], top: int = 10) -> dict[str, Any]:
    by_app = Counter(r.application for r in records)
    by_type = Counter(r.question_type for r in records)
    answers: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        if not r.is_caption:
            answers[r.question_type][r.answer] += 1
    distributions = {}
    for qtype, counter in sorted(answers.items()):
        n = sum(counter.values())
        distributions[qtype] = {
            "n": n,
            "distinct_answers": len(counter),
            "majority_answer": counter.most_common(1)[0][0],
            "majority_share": counter.most_common(1)[0][1] / n,
            "top": [{"answer": a, "count": c, "share": c / n} for a, c in counter.most_common(top)],
        }
    lengths: dict[str, dict[str, float]] = {}
    for kind in sorted({r.caption_kind or "unspecified" for r in records if r.is_caption}):
        words = np.array([len(r.answer.split()) for r in records if r.is_caption and (r.caption_kind or "unspecified") == kind])
        lengths[kind] = {"n": int(words.size), "mean": float(words.mean()), "median": float(np.median(words)), "min": int(words.min()),
                         "p10": float(np.percentile(words, 10)), "p90": float(np.percentile(words, 90)), "max": int(words.max())}
    return {
        "records": len(records),
        "images": len({r.image for r in records}),
        "by_split": dict(sorted(Counter(r.split for r in records).items())),
        "by_application": {a: by_app[a] for a in APPLICATIONS if by_app[a]},
        "question_types": len(by_type),
        "by_question_type": dict(sorted(by_type.items())),
        "answer_distributions": distributions,
        "caption_words": lengths,
    }


def stats_markdown(stats: dict[str, Any]) -> str:
    lines = ["# Corpus statistics", "", f"{counted(stats['records'], 'record')} on {counted(stats['images'], 'image')}; "
             f"{stats['question_types']} question types; splits: " + ", ".join(f"{k} {v}" for k, v in stats["by_split"].items()), ""]
    lines += ["## Records per application", "", "| application | records | share |", "|---|---:|---:|"]
    for app, n in stats["by_application"].items():
        lines.append(f"| {app} | {n} | {n / stats['records'] * 100:.1f}% |")
    lines += ["", "## Answers per question type", "", "Majority share: the accuracy of always giving the most common answer.", "",
              "| question type | n | distinct answers | majority answer | majority share |", "|---|---:|---:|---|---:|"]
    for qtype, d in stats["answer_distributions"].items():
        lines.append(f"| {qtype} | {d['n']} | {d['distinct_answers']} | {d['majority_answer'][:40]} | {d['majority_share'] * 100:.1f}% |")
    if stats["caption_words"]:
        lines += ["", "## Caption length (words)", "", "| kind | n | mean | median | p10 | p90 | max |", "|---|---:|---:|---:|---:|---:|---:|"]
        for kind, d in stats["caption_words"].items():
            lines.append(f"| {kind} | {d['n']} | {d['mean']:.1f} | {d['median']:.0f} | {d['p10']:.0f} | {d['p90']:.0f} | {d['max']} |")
    return "\n".join(lines) + "\n"


def write_stats(records: list[Record], out_dir: str | Path, rejected_lines: int = 0) -> dict[str, Any]:
    """Write ``stats.json``, ``stats.md`` and (with matplotlib) ``stats_*.png`` into ``out_dir``.

    ``rejected_lines`` counts the lines of the records file that were not records (in the JSON).
    """
    out = Path(out_dir)
    stats = corpus_stats(records)
    stats["rejected_lines"] = rejected_lines
    atomic_write_json(out / "stats.json", stats)
    atomic_write_text(out / "stats.md", stats_markdown(stats))
    stats["plots"] = _plots(records, stats, out)
    return stats


def _plots(records: list[Record], stats: dict[str, Any], out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    fig, ax = plt.subplots(figsize=(7, 3.5))
    apps = list(stats["by_application"])
    ax.barh(apps[::-1], [stats["by_application"][a] for a in apps[::-1]], color="#4c72b0")
    ax.set_xlabel("records")
    ax.set_title("Records per application")
    fig.tight_layout()
    fig.savefig(out / "stats_applications.png", dpi=110)
    plt.close(fig)
    written.append("stats_applications.png")
    captions = [r for r in records if r.is_caption]
    if captions:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for kind in stats["caption_words"]:
            ax.hist([len(r.answer.split()) for r in captions if (r.caption_kind or "unspecified") == kind], bins=30, alpha=0.6, label=kind)
        ax.set_xlabel("words per caption")
        ax.set_ylabel("captions")
        ax.legend()
        ax.set_title("Caption length")
        fig.tight_layout()
        fig.savefig(out / "stats_caption_length.png", dpi=110)
        plt.close(fig)
        written.append("stats_caption_length.png")
    return written
