"""The classic SAR change-detection layout: ``changedet:DIR``, a folder of two images and a
ground-truth map per pair.

The public SAR change-detection pairs (Ottawa, Bern, San Francisco, Yellow River, ...) ship as
one folder each holding the two dates and a reference map under names of no fixed pattern:
``Ottawa_1.bmp``, ``Ottawa_2.bmp``, ``Ottawa_gt.bmp``; ``im1.png``, ``im2.png``, ``ref.png``. Here
every folder (searched recursively) with exactly three pictures, one of which is named as a map
(its name holds ``gt``, ``ref``, ``reference``, ``groundtruth``, ``truth``, ``change``, ``mask``
or ``label`` as a word), is a pair: the map is the reference change map (white = changed), the
other two are the dates in name order (``*_1`` before ``*_2``). ``dates=1999-04+1999-05`` names
the dates (default ``date 1``, ``date 2``); ``change=`` says what the maps show, or ``classes=``
names the classes of a map of change classes (grey 1, 2, ... in order); ``gsd=``,
``sensor=``. A folder with another number of pictures is a reject with the reason, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene
from sarlang.sources._pairs import DEFAULT_CAUSE, class_names, pair_scene

_MAP = re.compile(r"(?:^|[^a-z])(gt|ref|reference|groundtruth|ground_truth|truth|change|changemap|mask|label)(?:$|[^a-z])", re.I)


def read(path: str, change: str = DEFAULT_CAUSE, dates: str = "date 1+date 2", classes: str = "", gsd: float | None = None,
         sensor: str = "") -> Iterator[Scene | Reject]:
    """The pairs under ``path`` (see the module docstring), one per folder.

    Raises:
        InputError: no such folder, a ``dates`` option that is not two names, or no pair found.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"change-detection folder '{root}' does not exist", hint="give a folder holding two images and a ground-truth map")
    names = tuple(d.strip() for d in dates.split("+"))
    if len(names) != 2 or not all(names):
        raise InputError(f"dates='{dates}' must name two dates joined by '+', e.g. dates=1997-05+1997-08")
    found = 0
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        pictures = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not pictures:
            continue
        maps = [p for p in pictures if _MAP.search(p.stem)]
        images = [p for p in pictures if p not in maps]
        if len(maps) != 1 or len(images) != 2:
            yield Reject(str(folder), 0, f"a change-detection folder holds two images and one map named as one (gt, ref, ...); "
                                         f"'{folder.name}' has {len(images)} images and {len(maps)} maps")
            continue
        found += 1
        scene_id = folder.relative_to(root).as_posix() if folder != root else folder.name
        yield pair_scene(scene_id, images[0], images[1], names, "changedet", maps[0], change, (None, None), gsd, sensor, group=scene_id,
                         classes=class_names(classes))
    if not found:
        raise InputError(f"no change-detection pair in '{root}'", hint="a folder of two images and a ground-truth map (see sarlang.sources.changedet)")
