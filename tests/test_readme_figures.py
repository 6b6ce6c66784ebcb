"""The README's Quick start figures are checked against a demo run by benchmarks/readme_demo.py;
here: the checker finds every quoted figure and catches one that changed, and the README says
which release measured them."""

from __future__ import annotations

import importlib.util
import re

from tests.conftest import ROOT


def _checker():
    spec = importlib.util.spec_from_file_location("readme_demo", ROOT / "benchmarks" / "readme_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checker_reads_the_quick_start_and_catches_a_change() -> None:
    checker = _checker()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = checker.quick_start_block(readme)
    rows = checker.table_rows(block)
    assert {"overall", "sarlang", "coco", "object_identification"} <= set(rows) and len(checker.clip_figures(block)) >= 8
    assert checker.compare(readme, block) == []  # a report that says what the README says
    changed = block.replace(rows["overall"][0], "99.9", 1)
    assert any("overall" in d for d in checker.compare(readme, changed))
    mr = re.search(r"mR ([\d.]+)", block)[1]
    assert checker.compare(readme, block.replace(f"mR {mr}", "mR 99.9"))
    # a report.md says the SAR-CLIP figures in a table: the same numbers are found there
    numbers = checker.clip_figures(block)
    images, captions, r = numbers[0], numbers[1], numbers[5:12]
    report = (block.split("SAR-CLIP (")[0] + f"## SAR-CLIP: retrieval\n\nRetrieval over {images} images and {captions} captions:\n\n"
              f"| image → text | {r[0]} | {r[1]} | {r[2]} |\n| text → image | {r[3]} | {r[4]} | {r[5]} |\n\nmR {r[6]}.\n\n"
              f"Zero-shot over the {numbers[12]} test images that show one category: top-1 {numbers[14]}%, top-5 100.0%.\n")
    assert checker.clip_figures(report) == numbers and checker.compare(readme, report) == []
    assert checker.compare(readme, report.replace(f"| {r[0]} |", "| 0.1 |", 1))


def test_the_readme_says_which_release_measured_the_demo() -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"measured by sarlang \d+\.\d+\.\d+ at commit [0-9a-f]{7}", section)
    assert "benchmarks/readme_demo.py" in section
