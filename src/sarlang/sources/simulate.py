"""Simulated scenes as a build source: ``simulate:COUNT[,key=value...]``.

Keys: ``seed`` (first seed, default 0), ``size`` (pixels, default 512), ``gsd`` (metres; several
joined by ``+``, e.g. ``gsd=1+4``, give each scene at each resolution), ``looks`` (default 1).
Each scene is written to ``<out>/images/<id>.png`` with the ``sarlang`` preprocessing recipe and
its sidecar, so records point at real files; scenes already written are reused. The renderings
of one scene at several resolutions share its group (``sim<seed>``), so they share a split.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene
from sarlang.vocabulary import counted


def read(count: str, seed: int = 0, size: int = 512, gsd: str = "2", looks: float = 1.0,
         out_dir: str | Path | None = None) -> Iterator[Scene | Reject]:
    """``count`` simulated scenes (:func:`sarlang.sar.simulate.simulate_scene`), seeds ``seed`` onwards.

    Args:
        count: How many scenes (the PATH of the spec ``simulate:COUNT``).
        seed: The first scene's seed; scene ``i`` uses ``seed + i``.
        size: Side of each square scene, pixels (at least 16).
        gsd: Ground sampling distance in metres; several joined by ``+`` give every scene at each.
        looks: Number of looks of the simulated speckle (> 0).
        out_dir: The build folder; images go to ``out_dir/images``.

    Raises:
        InputError: a count or option that is not usable, or no ``out_dir``.
    """
    from sarlang.files import atomic_write_json
    from sarlang.sar.io import write_png
    from sarlang.sar.recipes import BUILTIN_RECIPES, apply_recipe
    from sarlang.sar.simulate import SimulationConfig, simulate_scene

    if out_dir is None:
        raise InputError("the simulate source needs an output folder for its images")
    try:
        n = int(count)
    except ValueError:
        raise InputError(f"simulate source '{count}' must start with a scene count, e.g. simulate:200,gsd=1+4") from None
    if n < 1:
        raise InputError(f"simulate source asks for {counted(n, 'scene')}", hint="give a positive count, e.g. simulate:200")
    try:
        gsds = [float(g) for g in str(gsd).split("+")]
    except ValueError as exc:
        raise InputError(f"bad simulate option value: {exc}") from None
    if not (size >= 16 and looks > 0 and all(math.isfinite(g) and g > 0 for g in gsds) and math.isfinite(looks)):
        raise InputError(f"bad simulate options (size={size}, gsd={gsd}, looks={looks})",
                         hint="size >= 16 pixels, gsd > 0 metres, looks > 0")
    seed0 = seed
    images = Path(out_dir) / "images"
    recipe = BUILTIN_RECIPES["sarlang"]
    for i in range(n):
        for gsd in gsds:
            seed = seed0 + i
            scene_id = f"sim{seed:06d}_g{gsd:g}"
            scene = simulate_scene(seed, SimulationConfig(height=size, width=size, gsd=gsd, looks=looks), scene_id=scene_id)
            png = images / f"{scene_id}.png"
            sidecar = images / f"{scene_id}.json"
            made_from = {"simulate": {"seed": seed, "gsd": gsd, "size": size, "looks": looks}}
            # an image left by an earlier build is reused only if it was made from the same settings
            if not png.exists() or _sidecar_input(sidecar) != made_from:
                pixels, resolved = apply_recipe(scene.pixels, recipe)
                write_png(png, pixels)
                atomic_write_json(sidecar, {"recipe": recipe.to_dict(), "resolved": resolved, "input": made_from})
            scene.image = str(png)
            scene.group = f"sim{seed:06d}"
            yield scene


def _sidecar_input(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("input")
    except (OSError, ValueError, AttributeError):
        return None
