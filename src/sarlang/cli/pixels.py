"""``sarlang preprocess`` and ``sarlang despeckle``: SAR pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sarlang.cli.common import EngineOpt, RayAddressOpt, JsonOpt, app, check_outputs, console, progress_bar, user_errors
from sarlang.cli.common import examples


@app.command(
    "preprocess",
    epilog=examples("sarlang preprocess ../shared/data/hrsid/images --recipe sarlang --out preprocessed/"),
)
@user_errors
def preprocess_command(
    inputs: Annotated[list[str], typer.Argument(help="Image files, folders (searched recursively) or glob patterns.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder: <stem>.png and <stem>.json (the sidecar) per input.")],
    recipe: Annotated[str, typer.Option("--recipe", help="Built-in recipe (sarlang, sarclip, percentile, none) or a YAML/JSON recipe file.")] = "sarlang",
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Parallel processes (default: all cores).")] = None,
    json_out: JsonOpt = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Preprocess SAR images into 8-bit pictures (speckle filter, dB, stretch) with a sidecar per image."""
    from sarlang.engines import using
    from sarlang.files import atomic_write_json
    from sarlang.sar.filters import LOOKS_RULES
    from sarlang.sar.preprocess import preprocess
    from sarlang.sar.recipes import load_recipe

    check_outputs({"--json file": json_out}, {"--out folder": out})
    chosen = load_recipe(recipe)
    progress = progress_bar("preprocessing")
    task_id = progress.add_task("preprocess", total=None)
    with using(engine, ray_address), progress:
        summary = preprocess(inputs, chosen, out, workers=workers,
                             on_progress=lambda done, total: progress.update(task_id, completed=done, total=total))
    console.print(f"recipe {chosen.name}: {len(summary.written)} written, {len(summary.skipped)} up to date, "
                  f"{len(summary.rejects)} rejected -> {out}", highlight=False)
    fallbacks = {rule: n for rule, n in summary.looks_rules.items() if rule != LOOKS_RULES[0]}
    if fallbacks:
        console.print("number of looks: " + ", ".join(f"{n} {'image' if n == 1 else 'images'} by {rule}" for rule, n in summary.looks_rules.items())
                      + " (see each sidecar's resolved.looks_rule; a recipe file's filter_params: {looks: N} sets them)", highlight=False)
    for reject in summary.rejects[:10]:
        console.print(f"[yellow]rejected[/] {escape(reject.source)}: {escape(reject.reason)}", highlight=False, markup=True)
    if len(summary.rejects) > 10:
        console.print(f"... all {len(summary.rejects)} in {out / 'rejects.jsonl'}", highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, summary.to_dict())


@app.command(
    "despeckle",
    epilog=examples('sarlang despeckle S1A_GRD_VV.tif filtered.tif --filter "Refined Lee"', "sarlang despeckle ../shared/data/hrsid/images/P0001_1200_2000_9600_10400.jpg hrsid_lee.tif --filter Lee"),
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
    display8_as: Annotated[str, typer.Option("--display8-as", help="What an 8-bit picture's values are (HRSID's or MSTAR's JPEGs): amplitude, intensity or db, as a recipe's display8_as.")] = "amplitude",
) -> None:
    """Speckle-filter a scene of any size, block by block, into a GeoTIFF (georeferencing kept)."""
    from sarlang.sar.blocks import filter_raster
    from sarlang.sar.filters import filter_options

    check_outputs({"output raster": target})
    params = filter_options(filter_name, looks, size)
    progress = progress_bar("filtering")
    task_id = progress.add_task("blocks", total=None)
    with progress:
        notes: list[str] = []
        used = filter_raster(source, target, filter_name, block=block, polarization=polarization, display8_as=display8_as, notes=notes,
                             on_progress=lambda done, total: progress.update(task_id, completed=done, total=total), **params)
    details = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in used.items()]
    console.print(f"{filter_name} -> {target}" + (f" ({', '.join(details)})" if details else ""), highlight=False)
    for note in notes:
        console.print(note, highlight=False)

