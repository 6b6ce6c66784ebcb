"""Are the Quick start figures of the README those ``make demo`` prints now?

The README quotes the demo's report (the VQA table per application, the caption table of both
modes, the SAR-CLIP line) and the release and commit that measured them. After ``make demo``
(or ``sarlang demo --out DIR``), this script reads ``DIR/report.md`` and compares every figure
the README quotes with it, cell by cell, and prints the differences; it exits 1 when any
differs. Training is deterministic for one machine, one torch build and one thread count, so
on this project's machine the figures are the same run after run; elsewhere the last digits
may differ (the README says so).

    python benchmarks/readme_demo.py demo_out
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_block(readme: str) -> str:
    """The fenced block of the README's Quick start that holds the demo's report."""
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [body for _, body in re.findall(r"```([\w-]*)\n(.*?)```", section, re.S)]
    return next(b for b in blocks if "| application |" in b)


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows by their first cell (bold marks dropped), cells stripped."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], cells[1:])
    return rows


def clip_figures(text: str) -> list[str]:
    """The numbers of the SAR-CLIP summary: the README's line as it stands, or the line built from
    a report's retrieval table, mean recall and zero-shot sentence (the same numbers, in order)."""
    if "## SAR-CLIP" in text:  # a report.md
        part = text.split("## SAR-CLIP", 1)[1]
        n = re.search(r"Retrieval over (\d+) images and (\d+) captions", part)
        i2t = re.search(r"\| image → text \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", part)
        t2i = re.search(r"\| text → image \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", part)
        mr = re.search(r"mR ([\d.]+)", part)
        zero = re.search(r"over the (\d+) test images.*?top-1 ([\d.]+)%", part, re.S)
        if not all((n, i2t, t2i, mr, zero)):
            return []
        text = (f"SAR-CLIP ({n[1]} test images, {n[2]} captions): image->text R@1/5/10 {'/'.join(i2t.groups())}, text->image "
                f"{'/'.join(t2i.groups())}, mR {mr[1]}; zero-shot over the {zero[1]} test images that show one category: top-1 {zero[2]}%.")
    block = " ".join(text.split())
    line = block[block.index("SAR-CLIP ("):] if "SAR-CLIP (" in block else ""
    return re.findall(r"\d+(?:\.\d+)?", line)


def compare(readme: str, report: str) -> list[str]:
    """Every figure the README's block quotes that the report gives otherwise."""
    quoted, now = quick_start_block(readme), report
    differences = []
    ours, theirs = table_rows(quoted), table_rows(now)
    for key, cells in ours.items():
        if key in ("application", "mode"):
            continue
        if key not in theirs:
            differences.append(f"row '{key}': not in the report")
        elif cells != theirs[key][: len(cells)]:
            differences.append(f"row '{key}': README {cells}, report {theirs[key][: len(cells)]}")
    if clip_figures(quoted) != clip_figures(now):
        differences.append(f"SAR-CLIP line: README {clip_figures(quoted)}, report {clip_figures(now)}")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo_out", type=Path, help="the folder sarlang demo wrote (make demo: demo_out)")
    args = parser.parse_args()
    report = args.demo_out / "report.md"
    if not report.is_file():
        sys.exit(f"{report} does not exist: run make demo (or sarlang demo --out {args.demo_out}) first")
    differences = compare((ROOT / "README.md").read_text(encoding="utf-8"), report.read_text(encoding="utf-8"))
    for line in differences:
        print(line)
    print(f"{len(differences)} figures of the README's Quick start differ from {report}" if differences
          else f"every figure of the README's Quick start is the one {report} holds")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
