"""Named preprocessing recipes: SAR pixels to an 8-bit picture a vision-language model can read.

A recipe is data (YAML or JSON, the fields of :class:`Recipe`), applied in this order:

1. pick the band (``polarization``, or the first band);
2. linear intensity (8-bit pictures are taken as amplitude, ``display8_as``);
3. speckle filter (``speckle_filter`` with ``filter_params``, on intensity);
4. the scale to stretch on (``scale``: ``db``, ``amplitude`` or ``intensity``);
5. the stretch to 0..255 (``stretch``: ``percentile`` between the ``low``/``high`` percentiles of
   the image, ``window`` between fixed ``low``/``high`` values in the scale's units, ``minmax``,
   or ``none`` to keep an 8-bit input as it is);
6. ``channels``: 1 (grey) or 3 (grey replicated, for RGB models).

Built-in recipes:

``sarlang``     SARLANG-1M's preprocessing: Refined Lee (7x7, looks estimated from the image),
                log transform (dB), linear stretch to 8 bits, three channels. The paper gives
                no stretch limits; ours are the 1st and 99th percentiles of the image's dB
                values, so a few very bright targets do not darken the scene.
``sarclip``     a fixed dB window as SARCLIP-style models use: no filter, dB, -25 dB..0 dB
                to 0..255 (suited to calibrated sigma0 intensity), three channels.
``percentile``  no filter, amplitude stretched between its 2nd and 98th percentiles, three channels.
``none``        no filter; 8-bit pictures pass through unchanged, others stretched min..max; one channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, SarlangError
from sarlang.schema import SarImage

SCALES = ("db", "amplitude", "intensity")
STRETCHES = ("percentile", "window", "minmax", "none")


@dataclass(frozen=True)
class Recipe:
    """A preprocessing recipe (see the module docstring for the meaning of each field)."""

    name: str
    polarization: str | None = None
    display8_as: str = "amplitude"
    speckle_filter: str | None = None
    filter_params: dict[str, Any] = field(default_factory=dict)
    scale: str = "db"
    stretch: str = "percentile"
    low: float = 1.0
    high: float = 99.0
    channels: int = 3

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise SarlangError(f"recipe '{self.name}': unknown scale '{self.scale}'", hint=f"use one of {', '.join(SCALES)}")
        if self.stretch not in STRETCHES:
            raise SarlangError(f"recipe '{self.name}': unknown stretch '{self.stretch}'", hint=f"use one of {', '.join(STRETCHES)}")
        if self.display8_as not in ("amplitude", "intensity"):
            raise SarlangError(f"recipe '{self.name}': display8_as must be amplitude or intensity")
        if self.channels not in (1, 3):
            raise SarlangError(f"recipe '{self.name}': channels must be 1 or 3")
        if not self.high > self.low:
            raise SarlangError(f"recipe '{self.name}': high ({self.high}) must exceed low ({self.low})")
        if self.stretch == "percentile" and not (0 <= self.low < self.high <= 100):
            raise SarlangError(f"recipe '{self.name}': percentiles must lie in 0..100")
        if self.speckle_filter is not None:
            from sarlang.sar.filters import filter_function

            filter_function(self.speckle_filter)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        if not isinstance(data, dict):
            raise SarlangError("a recipe must be a mapping of fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SarlangError(f"unknown recipe field(s) {', '.join(unknown)}", hint=f"known fields: {', '.join(sorted(known))}")
        if "name" not in data:
            raise SarlangError("a recipe needs a 'name'")
        try:
            return cls(**data)
        except TypeError as exc:
            raise SarlangError(f"bad recipe: {exc}") from None


BUILTIN_RECIPES: dict[str, Recipe] = {
    "sarlang": Recipe("sarlang", speckle_filter="Refined Lee", scale="db", stretch="percentile", low=1.0, high=99.0, channels=3),
    "sarclip": Recipe("sarclip", scale="db", stretch="window", low=-25.0, high=0.0, channels=3),
    "percentile": Recipe("percentile", scale="amplitude", stretch="percentile", low=2.0, high=98.0, channels=3),
    "none": Recipe("none", scale="amplitude", stretch="none", channels=1),
}


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A built-in recipe by name (``sarlang``, ``sarclip``, ``percentile``, ``none``), or a recipe file.

    Parameters
    ----------
    name_or_path:
        A built-in name, or a YAML (.yaml/.yml) or JSON file holding the recipe's fields.

    Returns
    -------
    Recipe

    Raises
    ------
    SarlangError
        An unknown name, an unreadable file, an unknown field or an impossible value.
    """
    key = str(name_or_path)
    if key in BUILTIN_RECIPES:
        return BUILTIN_RECIPES[key]
    p = Path(key)
    if not p.exists():
        raise InputError(f"no built-in recipe or recipe file '{key}'", hint=f"built-in recipes: {', '.join(BUILTIN_RECIPES)}")
    from sarlang.files import read_settings

    return Recipe.from_dict(read_settings(p, "recipe file"))


def in_scale(intensity: SarImage, scale: str) -> np.ndarray:
    """Linear intensity in the scale a recipe stretches on: ``db``, ``amplitude`` or ``intensity``."""
    from sarlang.sar.scaling import intensity_to_db

    if scale == "db":
        return intensity_to_db(intensity).data
    if scale == "amplitude":
        return np.sqrt(np.maximum(intensity.data, 0))
    return intensity.data


#: Share of pixels at or above a fixed window's top at which the window is refused (uncalibrated values).
WINDOW_SATURATION = 0.9


def check_window_fits(scaled: np.ndarray, recipe: Recipe) -> None:
    """Refuse a fixed stretch window that would turn the picture white: values in the recipe's
    scale of which :data:`WINDOW_SATURATION` or more lie at or above the window's top are not
    the calibrated backscatter the window was chosen for (``sarclip``'s -25..0 dB fits sigma0,
    not the digital numbers of an 8-bit picture or of a GRD product, whose dB are all positive).

    Raises:
        InputError: the window does not fit the values, with what to use instead.
    """
    finite = scaled[np.isfinite(scaled)]
    white = float(np.mean(finite >= recipe.high)) if finite.size else 0.0
    if white >= WINDOW_SATURATION:
        raise InputError(f"recipe '{recipe.name}' stretches the fixed window {recipe.low:g}..{recipe.high:g} ({recipe.scale}) of calibrated "
                         f"backscatter, but {white:.0%} of the pixels lie at or above {recipe.high:g}: the values are not calibrated "
                         "(an 8-bit picture, or digital numbers), so the picture would be white",
                         hint="use the sarlang or percentile recipe for uncalibrated images, or calibrate them first (sigma0)")


def apply_recipe(image: SarImage, recipe: Recipe, check_window: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply a preprocessing recipe to one band: speckle filter, scale, stretch to 8 bits.

    Parameters
    ----------
    image:
        One band in any units (``display8`` pictures are read as the recipe's ``display8_as``).
    recipe:
        What to do (see the module docstring and :data:`BUILTIN_RECIPES`).

    Returns
    -------
    tuple
        The uint8 picture (rows, columns) or (rows, columns, 3), and what was resolved from the
        image (estimated looks, the stretch limits and their units), for the sidecar.

    Raises
    ------
    SarlangError
        An image with no finite or no positive pixel, or a filter window that does not fit it.
    """
    from sarlang.sar.filters import estimate_looks, filter_parameters, speckle_filter
    from sarlang.sar.scaling import finite_percentiles, linear_stretch, to_channels, to_intensity

    resolved: dict[str, Any] = {"input_units": image.units}
    if image.units == "display8":
        if recipe.stretch == "none" and recipe.speckle_filter is None:
            return to_channels(np.asarray(image.data, dtype=np.uint8), recipe.channels), resolved
        image = image.with_data(np.asarray(image.data, dtype=np.float32), recipe.display8_as)
        resolved["display8_read_as"] = recipe.display8_as
    intensity = to_intensity(image)
    finite = intensity.data[np.isfinite(intensity.data)]
    if finite.size == 0:
        raise SarlangError("the image has no finite pixel")
    if finite.max() <= 0:
        raise SarlangError("the image has no positive pixel (all zero or no-data)")
    if recipe.speckle_filter is not None:
        params = dict(recipe.filter_params)
        if "looks" in filter_parameters(recipe.speckle_filter) and params.get("looks") is None:
            found = estimate_looks(intensity.data)
            params["looks"] = found.looks
            resolved["looks_estimated"] = found.looks
            resolved["looks_rule"] = found.rule
            if found.reason:
                resolved["looks_reason"] = found.reason
        intensity = speckle_filter(intensity, recipe.speckle_filter, **params)
    scaled = in_scale(intensity, recipe.scale)
    if recipe.stretch == "percentile":
        low, high = finite_percentiles(scaled, recipe.low, recipe.high)
    elif recipe.stretch == "window":
        low, high = recipe.low, recipe.high
        if check_window:
            check_window_fits(scaled, recipe)
    else:  # minmax, or none on a non-8-bit input
        finite = scaled[np.isfinite(scaled)]
        if finite.size == 0:
            raise SarlangError("the image has no finite pixel to scale")
        low, high = float(finite.min()), float(finite.max())
    resolved["stretch_limits"] = [low, high]
    resolved["stretch_units"] = recipe.scale
    grey = linear_stretch(scaled, low, high)
    return to_channels(grey, recipe.channels), resolved



def apply_pair_recipe(earlier: SarImage, later: SarImage, recipe: Recipe) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The two dates of a pair through one recipe made pair-wide, so one backscatter gets one grey
    at both dates (per-image percentiles would stretch a flooded date differently and hide or
    invent change): the looks are estimated on the earlier date and used for both, and a
    percentile stretch takes its limits from the pixels of both dates together.

    Returns:
        (earlier picture, later picture, what was resolved: looks, their rule, the shared limits).

    Raises:
        SarlangError: dates of different sizes, or what :func:`apply_recipe` refuses.
    """
    from dataclasses import replace

    from sarlang.sar.filters import estimate_looks, filter_parameters, speckle_filter
    from sarlang.sar.scaling import finite_percentiles, to_intensity

    if earlier.shape != later.shape:
        raise SarlangError(f"the dates of a pair differ in size: {earlier.shape} and {later.shape}")

    def as_intensity(image: SarImage) -> SarImage:
        if image.units == "display8":
            image = image.with_data(np.asarray(image.data, dtype=np.float32), recipe.display8_as)
        return to_intensity(image)

    first, second = as_intensity(earlier), as_intensity(later)
    params = dict(recipe.filter_params)
    resolved: dict[str, Any] = {"input_units": [earlier.units, later.units], "pair_wide": True}
    if recipe.speckle_filter is not None and "looks" in filter_parameters(recipe.speckle_filter) and params.get("looks") is None:
        found = estimate_looks(first.data)
        params["looks"], resolved["looks_estimated"], resolved["looks_rule"] = found.looks, found.looks, found.rule
    fixed = replace(recipe, filter_params=params)
    if recipe.stretch == "percentile":
        scaled = []
        for image in (first, second):
            if recipe.speckle_filter is not None:
                image = speckle_filter(image, recipe.speckle_filter, **params)
            scaled.append(np.ravel(in_scale(image, recipe.scale)))
        low, high = finite_percentiles(np.concatenate(scaled), recipe.low, recipe.high)
        fixed = replace(fixed, stretch="window", low=low, high=high if high > low else low + 1e-6)
    one, _ = apply_recipe(first, fixed, check_window=recipe.stretch == "window")
    two, extra = apply_recipe(second, fixed, check_window=False)
    resolved.update({"stretch_limits": extra["stretch_limits"], "stretch_units": extra["stretch_units"]})
    return one, two, resolved
