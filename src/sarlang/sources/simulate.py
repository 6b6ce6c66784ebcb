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


def parse_spec(spec: str) -> tuple[int, dict[str, str]]:
    head, *pairs = spec.split(",")
    try:
        count = int(head)
    except ValueError:
        raise InputError(f"simulate source '{spec}' must start with a scene count, e.g. simulate:200,gsd=1+4") from None
    if count < 1:
        raise InputError(f"simulate source '{spec}' asks for {count} scenes", hint="give a positive count, e.g. simulate:200")
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in ("seed", "size", "gsd", "looks"):
            raise InputError(f"bad simulate option '{pair}'", hint="keys: seed, size, gsd, looks")
        options[key.strip()] = value.strip()
    return count, options


def simulated_scenes(spec: str, out_dir: str | Path | None = None) -> Iterator[Scene | Reject]:
    from sarlang.files import atomic_write_json
    from sarlang.sar.io import write_png
    from sarlang.sar.recipes import BUILTIN_RECIPES, apply_recipe
    from sarlang.sar.simulate import SimulationConfig, simulate_scene

    if out_dir is None:
        raise InputError("the simulate source needs an output folder for its images")
    count, options = parse_spec(spec)
    try:
        seed0 = int(options.get("seed", 0))
        size = int(options.get("size", 512))
        gsds = [float(g) for g in options.get("gsd", "2").split("+")]
        looks = float(options.get("looks", 1))
    except ValueError as exc:
        raise InputError(f"bad simulate option value: {exc}") from None
    if not (size >= 16 and looks > 0 and all(math.isfinite(g) and g > 0 for g in gsds) and math.isfinite(looks)):
        raise InputError(f"bad simulate options in '{spec}'", hint="size >= 16 pixels, gsd > 0 metres, looks > 0")
    images = Path(out_dir) / "images"
    recipe = BUILTIN_RECIPES["sarlang"]
    for i in range(count):
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


#: The entry point of this source (see sarlang.sources).
read = simulated_scenes
