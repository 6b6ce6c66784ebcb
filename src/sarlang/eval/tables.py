"""Score tables for the terminal (rich) and for pasting (Markdown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from sarlang.eval.captions import CaptionScores
from sarlang.eval.vqa import VqaScores
from sarlang.schema import APPLICATIONS, Accuracy
from sarlang.vocabulary import counted


def _fmt(value: float | None, scale: float = 100.0) -> str:
    return "n/a" if value is None else f"{value * scale:.2f}"


def caption_rows(scores: CaptionScores) -> tuple[list[str], list[str]]:
    """Header and values; BLEU/METEOR/ROUGE-L as percentages, CIDEr x100 as papers print it (other
    metrics, from plug-ins, x100 too)."""
    return list(scores.scores), [_fmt(value) for value in scores.scores.values()]


def _acc(a: Accuracy) -> list[str]:
    return [f"{a.accuracy * 100:.2f}", f"[{a.ci95[0] * 100:.1f}, {a.ci95[1] * 100:.1f}]", f"{a.correct}/{a.n}"]


def vqa_rows(scores: VqaScores, by: str = "application") -> list[list[str]]:
    """Table rows of VQA scores ``by`` ``application``, ``question_type`` or ``turn`` (of
    conversations: the last row is then every turn together, not every answer), then overall."""
    if by == "turn":
        rows = [[name, *_acc(acc)] for name, acc in scores.by_turn.items()]
        from sarlang.eval.vqa import accuracy

        rows.append(["all turns", *_acc(accuracy([i.correct for i in scores.items if i.turn]))])
        return rows
    groups = scores.by_application if by == "application" else scores.by_question_type
    order = [a for a in APPLICATIONS if a in groups] + [g for g in groups if g not in APPLICATIONS] if by == "application" else list(groups)
    rows = [[name, *_acc(groups[name])] for name in order]
    rows.append(["overall", *_acc(scores.overall)])
    return rows


def rich_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 and not name.startswith("Bleu") else "right")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


VQA_HEADER = ["application", "accuracy %", "95% CI", "correct/n"]


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """One line per fact of an input summary (rows read, rejects by reason, empty predictions)."""
    lines = [f"{summary['scored']} scored from {counted(summary['rows'], 'row')} ({summary['format']})"]
    if summary.get("empty_predictions"):
        lines.append(f"{summary['empty_predictions']} empty predictions (scored as given)")
    for reason, count in summary.get("rejects_by_reason", {}).items():
        lines.append(f"rejected {count}: {reason}")
    lines += summary.get("notes", [])
    return lines
