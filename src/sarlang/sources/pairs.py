"""Bi-temporal pairs in a folder layout: ``pairs:DIR``.

Two co-registered SAR images of one place at two dates, named ``<name>_<date>.<ext>`` (any
picture or raster suffix), where the dates sort in time order as text (``1997-05`` before
``1997-08``; ISO dates and years do), with, optionally:

- ``<name>_change.png``: the reference change map (white = changed; see :mod:`sarlang.sources._pairs`);
- ``<name>_<date>.objects.json``: the objects of that date, a JSON list of
  ``{"category": "ship", "box": [x, y, w, h]}`` in pixels.

A folder per place works too: ``DIR/<name>/<date>.<ext>`` (+ ``change.png``,
``<date>.objects.json``). Folders are searched recursively, every name giving one pair; a name
with one image, or more than two, is a reject with the reason. Options: ``change=`` says what the
change maps show (``pairs:DIR,change=flooded area``; default "change"), ``classes=`` names the
classes of a map of change classes in order (``classes=flooded area+new building``: grey 1 is a
flooded area, 2 a new building), ``gsd=`` and ``sensor=``.
The two dates of a pair are one place: a pair is its own group, so its tiles share a split.

The real pair of ``../shared/data/change/ottawa_north`` (RADARSAT, May and August 1997, a flood;
cite Gao et al. and the dataset's providers, as the SAR change-detection papers do) is in this layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene
from sarlang.sources._pairs import DEFAULT_CAUSE, class_names, pair_scene

_NAMED = re.compile(r"^(?P<name>.+)_(?P<date>[^_]+)$")
MAP_NAMES = ("change",)


def _pairs_in(folder: Path) -> dict[str, dict[str, Path]]:
    """Files of a folder by pair name, then by date (``change`` for the map)."""
    found: dict[str, dict[str, Path]] = {}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for path in files:
        match = _NAMED.match(path.stem)
        if match:  # <name>_<date> beside other pairs
            found.setdefault(match["name"], {})[match["date"]] = path
        else:  # a folder per place: <date>.<ext>
            found.setdefault(folder.name, {})[path.stem] = path
    return found


def read(path: str, change: str = DEFAULT_CAUSE, classes: str = "", gsd: float | None = None, sensor: str = "") -> Iterator[Scene | Reject]:
    """The pairs under ``path`` (see the module docstring), in name order.

    Raises:
        InputError: no such folder, or no pair in it.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"pairs folder '{root}' does not exist", hint="give a folder of <name>_<date> image pairs")
    folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    any_pair = False
    for folder in folders:
        for name, by_date in sorted(_pairs_in(folder).items()):
            change_map = next((by_date.pop(m) for m in MAP_NAMES if m in by_date), None)
            dates = sorted(by_date)
            where = str(folder / name)
            if len(dates) != 2:
                if dates or change_map is not None:
                    yield Reject(where, 0, f"a pair needs two dates, '{name}' has {len(dates)} ({', '.join(dates) or 'none'})", id=name)
                continue
            any_pair = True
            earlier, later = by_date[dates[0]], by_date[dates[1]]
            labels = tuple(_objects_file(p) for p in (earlier, later))
            scene_id = f"{folder.relative_to(root).as_posix()}/{name}".lstrip("./") if folder != root else name
            yield pair_scene(scene_id, earlier, later, (dates[0], dates[1]), "pairs", change_map, change, labels, gsd, sensor, group=scene_id,
                             classes=class_names(classes))
    if not any_pair:
        raise InputError(f"no image pair in '{root}'", hint="name them <name>_<date>.<ext>, two dates each (see sarlang.sources.pairs)")


def _objects_file(image: Path) -> Path | None:
    path = image.with_name(image.stem + ".objects.json")
    return path if path.is_file() else None
