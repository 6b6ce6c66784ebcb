"""``sarlang scene``: a model over a whole SAR scene, tile by tile, to GeoJSON (:mod:`sarlang.models.scene`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sarlang.cli.common import examples
from sarlang.cli.common import EngineOpt, RayActorsOpt, RayAddressOpt, app, check_outputs, console, progress_bar, user_errors
from sarlang.vocabulary import counted


@app.command(
    "scene",
    epilog=examples("sarlang scene S1A_IW_GRDH_VV.tif --model mybench/model --out ships.geojson --tile 512 --overlap 64 --ask 'Is there a harbor?'",
                    "sarlang scene mosaic.tif --model blobs: --categories ship --out ships.geojson --wgs84"),
)
@user_errors
def scene_command(
    raster: Annotated[Path, typer.Argument(help="A GeoTIFF (or any raster GDAL reads) of any size; read by windows.", show_default=False)],
    model: Annotated[str, typer.Option("--model", help="A built-in model folder, a Hugging Face folder, or api:MODEL@URL[,URL2,...].")],
    out: Annotated[Path, typer.Option("--out", help="The GeoJSON to write.")] = Path("scene.geojson"),
    tile: Annotated[int, typer.Option("--tile", min=32, help="Tile side, pixels.")] = 512,
    overlap: Annotated[int, typer.Option("--overlap", min=0, help="Pixels shared by neighbouring tiles (at least an object's size, so each is whole in some tile).")] = 64,
    recipe: Annotated[str, typer.Option("--recipe", help="Preprocessing recipe (built-in name or file), made scene-wide.")] = "sarlang",
    categories: Annotated[str | None, typer.Option("--categories", help="Comma-separated categories to count and box (default: the built-in model's own).")] = None,
    ask: Annotated[list[str] | None, typer.Option("--ask", help="Another question for every tile, repeatable.", show_default=False)] = None,
    units: Annotated[str | None, typer.Option("--units", help="What the pixel values are (intensity, amplitude, db), when the raster does not say.")] = None,
    wgs84: Annotated[bool, typer.Option("--wgs84", help="Write RFC 7946 WGS84 longitude/latitude instead of the raster's CRS.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard the finished tiles of an interrupted run.")] = False,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_actors: RayActorsOpt = None,
) -> None:
    """Caption, count and box objects tile by tile over a large scene; one GeoJSON feature per object and per tile."""
    from sarlang.engines import using
    from sarlang.models.base import load_model
    from sarlang.models.scene import run_scene

    check_outputs({"--out file": out})
    loaded = load_model(model)
    names = [c.strip() for c in categories.split(",") if c.strip()] if categories else None
    progress = progress_bar("tiles")
    task_id = progress.add_task("tiles", total=None)
    with using(engine, ray_address, ray_actors), progress:
        result = run_scene(raster, loaded, out, tile, overlap, recipe, names, ask or [], wgs84, units, restart, model_id=model,
                           on_progress=lambda done, total: progress.update(task_id, completed=done, total=total))
    where = "map coordinates" if result["georeferenced"] else "pixel coordinates (the raster has no georeferencing)"
    measured = result["scene_statistics"]
    if "looks" in measured:
        rules = ", ".join(f"{n} by {rule}" for rule, n in measured.get("looks_rules", {}).items())
        console.print(f"number of looks {measured['looks']:.3g}, the median over {measured['sample_windows']} sample windows ({rules}); "
                      "a recipe file's filter_params: {looks: N} fixes it", highlight=False)
    console.print(f"{counted(result['objects'], 'object')} on {counted(result['tiles'], 'tile')} ({counted(result['duplicates_merged'], 'duplicate')} from overlapping tiles merged), "
                  f"in {where}: {result['out']}", highlight=False)
