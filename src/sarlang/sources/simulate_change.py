"""Simulated bi-temporal pairs as a build source: ``simulate-change:COUNT[,key=value...]``.

Keys: ``seed`` (first seed, default 0), ``size`` (pixels, default 256), ``gsd`` (metres, default
4), ``looks`` (default 1), ``changed`` (the share of pairs that change, default 0.5: about half
the pairs are no-change pairs, as change-captioning datasets such as LEVIR-CC keep them), ``shift``
(largest misregistration, pixels, default 2), ``offset`` (largest calibration offset, dB,
default 1.5). Each pair (:func:`sarlang.sar.simulate_change.simulate_pair`) is written to
``<out>/images/<id>_1.png`` and ``_2.png`` through the ``sarlang`` recipe made pair-wide (one
stretch for both dates) with a sidecar; pairs already written from the same settings are reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene


def read(count: str, seed: int = 0, size: int = 256, gsd: float = 4.0, looks: float = 1.0, changed: float = 0.5, shift: float = 2.0,
         offset: float = 1.5, out_dir: str | Path | None = None) -> Iterator[Scene | Reject]:
    """``count`` simulated pairs, seeds ``seed`` onwards (see the module docstring).

    Raises:
        InputError: a count or option that is not usable, or no ``out_dir``.
    """
    from sarlang.errors import SarlangError
    from sarlang.files import atomic_write_json
    from sarlang.sar.io import write_png
    from sarlang.sar.recipes import BUILTIN_RECIPES, apply_pair_recipe
    from sarlang.sar.simulate import SimulationConfig
    from sarlang.sar.simulate_change import PairConfig, simulate_pair
    from sarlang.sources.simulate import _sidecar_input

    if out_dir is None:
        raise InputError("the simulate-change source needs an output folder for its images")
    try:
        n = int(count)
    except ValueError:
        raise InputError(f"simulate-change source '{count}' must start with a pair count, e.g. simulate-change:100") from None
    if n < 1 or size < 32 or not (0 <= changed <= 1) or shift < 0 or offset < 0:
        raise InputError(f"bad simulate_change options (count {n}, size {size}, changed {changed}, shift {shift}, offset {offset})",
                         hint="a positive count, size >= 32 pixels, changed in [0, 1], shift and offset >= 0")
    images = Path(out_dir) / "images"
    recipe = BUILTIN_RECIPES["sarlang"]
    config = PairConfig(SimulationConfig(height=size, width=size, gsd=gsd, looks=looks), change_probability=changed,
                        max_shift=shift, max_offset_db=offset)
    for i in range(n):
        pair_id = f"simpair{seed + i:06d}"
        try:
            scene = simulate_pair(seed + i, config, pair_id)
        except SarlangError as exc:
            raise InputError(f"simulate_change: {exc.message}", hint=exc.hint) from None
        first, second, sidecar = images / f"{pair_id}_1.png", images / f"{pair_id}_2.png", images / f"{pair_id}.json"
        made_from = {"simulate_change": {"seed": seed + i, "size": size, "gsd": gsd, "looks": looks, "changed": changed, "shift": shift,
                                         "offset": offset}}
        if not (first.exists() and second.exists()) or _sidecar_input(sidecar) != made_from:
            one, two, resolved = apply_pair_recipe(scene.pixels, scene.later_pixels, recipe)
            write_png(first, one)
            write_png(second, two)
            atomic_write_json(sidecar, {"recipe": recipe.to_dict(), "resolved": resolved, "input": made_from, "pair": scene.pair_notes})
        scene.image, scene.later_image, scene.group = str(first), str(second), pair_id
        yield scene

