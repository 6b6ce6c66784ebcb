"""``sarlang report``: one self-contained HTML page of one or several models' results (:mod:`sarlang.eval.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sarlang.cli.common import app, check_outputs, console, user_errors
from sarlang.cli.common import examples


@app.command(
    "report",
    epilog=examples("sarlang report demo_out --out report.html", "sarlang report scores_a/ scores_b/vqa.json --name A --name B --out compare.html"),
)
@user_errors
def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Score files of sarlang eval (--json), or folders holding them (eval all --out, demo_out).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    name: Annotated[list[str] | None, typer.Option("--name", help="A model's name in the page, one per run in order (default: the file or folder name).", show_default=False)] = None,
    records: Annotated[Path | None, typer.Option("--records", help="The build's records (default: the records the scores were made against).")] = None,
    gallery: Annotated[int, typer.Option("--gallery", min=0, help="Wrong answers shown per application in the error gallery.")] = 30,
) -> None:
    """Write one HTML file that needs no network: accuracy per application with intervals and the
    majority answer, paired significance, question types, confusion matrices, caption metrics,
    an error gallery with the images, the build's statistics and the provenance."""
    from sarlang.eval.report import write_report

    check_outputs({"--out file": out})
    result = write_report(runs, out, name, records, gallery)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False)
    console.print(f"report of {', '.join(result['runs'])} written to {out} ({result['bytes'] / 1e6:.1f} MB)", highlight=False)
