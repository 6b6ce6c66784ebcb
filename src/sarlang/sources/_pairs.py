"""What the sources of bi-temporal pairs share: reading a reference change map, cutting it into
labelled changes, reading per-date object labels, and making the pair's :class:`Scene`.

A pair is two co-registered images of one place at two dates. Its reference change map is a
picture of the pair's size whose changed pixels are white: values 0 and 255 (or 0 and 1); a map
with other grey levels on more than 1% of its pixels (a JPEG, an anti-aliased drawing) is not a
binary map and is a reject, as is a map or an image of another size. A map of change *classes*
holds 0 (no change) and the class numbers 1..K as its grey values, with the source naming the
classes in order (``classes=flooded area+new building``); a value with no name is a reject. The changes are the
8-connected components of the map of at least :data:`MIN_CHANGE_PIXELS` pixels, each a
:class:`~sarlang.schema.SceneObject` whose category is the cause the source names ("flooded
area"; "change" when it names none).

Object labels of a date are a JSON list of ``{"category": ..., "box": [x, y, w, h]}`` (pixels).
"""

from __future__ import annotations

import json
from pathlib import Path
import numpy as np
from scipy import ndimage

from sarlang.schema import Reject, Scene, SceneObject
from sarlang.sources._boxes import InvalidObject, clipped_box, number, scene_reject_reason

#: Smallest change region kept, pixels (smaller specks of a hand-drawn map are noise).
MIN_CHANGE_PIXELS = 4
#: What a change is called when the source does not say.
DEFAULT_CAUSE = "change"


def picture_size(path: Path) -> tuple[int, int]:
    """(width, height) of a picture from its header."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def class_names(classes: str) -> tuple[str, ...]:
    """The ``classes=`` option of a pair source: names joined by ``+`` (empty: a binary map)."""
    return tuple(c.strip() for c in classes.split("+") if c.strip())


def read_change_map(path: Path, width: int, height: int) -> np.ndarray:
    """A binary change map as bool (True = changed).

    Raises:
        ValueError: a map that cannot be read, of another size, or not binary (the message says which).
    """
    grey = _grey_map(path, width, height)
    values = np.unique(grey)
    top = 1 if set(values.tolist()) <= {0, 1} else 255
    other = float(np.mean((grey != 0) & (grey != top)))
    if other > 0.01:
        raise ValueError(f"the change map is not binary: {other:.1%} of its pixels are neither 0 nor {top}")
    return grey >= (top + 1) // 2


def _grey_map(path: Path, width: int, height: int) -> np.ndarray:
    """A change map picture as 8-bit grey, checked to be the pair's size.

    Raises:
        ValueError: a map that cannot be read, or of another size.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            grey = np.asarray(im.convert("L"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"the change map '{path.name}' cannot be read: {exc}") from None
    if grey.shape != (height, width):
        raise ValueError(f"the change map is {grey.shape[1]}x{grey.shape[0]}, the images {width}x{height}")
    return grey


def read_class_map(path: Path, width: int, height: int, classes: tuple[str, ...]) -> np.ndarray:
    """A map of change classes (0: no change, k: ``classes[k - 1]``) as small integers.

    Raises:
        ValueError: a map that cannot be read, of another size, or with a value no class names.
    """
    values = _grey_map(path, width, height)
    unnamed = sorted(int(v) for v in np.unique(values) if v > len(classes))
    if unnamed:
        raise ValueError(f"the change map holds class {unnamed[0]} but only {len(classes)} classes are named ({'+'.join(classes)})")
    return values.astype(np.int16)


def change_regions(change_map: np.ndarray, cause: str) -> list[SceneObject]:
    """The 8-connected regions of a change map (of at least :data:`MIN_CHANGE_PIXELS` pixels) as
    labelled changes of ``cause``, with their boxes, masks and sizes (as a mask source's instances)."""
    from sarlang.sources.masks import _objects_from_labels

    labels, count = ndimage.label(change_map, structure=np.ones((3, 3), dtype=bool))
    return _objects_from_labels(labels, count, cause, MIN_CHANGE_PIXELS)


def read_objects(path: Path, width: int, height: int) -> list[SceneObject]:
    """A date's object labels (JSON list of ``{"category", "box": [x, y, w, h]}``).

    Raises:
        InvalidObject: a label that is not usable (the message says which and why).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidObject(f"'{path.name}' is not a JSON list of objects: {exc}") from None
    if not isinstance(data, list):
        raise InvalidObject(f"'{path.name}' is not a JSON list of objects")
    objects = []
    for k, item in enumerate(data):
        if not isinstance(item, dict) or not str(item.get("category", "")).strip() or not isinstance(item.get("box"), list) or len(item["box"]) != 4:
            raise InvalidObject(f"object {k} of '{path.name}' needs a category and a box [x, y, w, h]")
        x, y, w, h = (number(v, f"object {k} box[{i}]") for i, v in enumerate(item["box"]))
        try:
            box, clipped = clipped_box(x, y, x + w, y + h, width, height)
        except InvalidObject as exc:
            raise InvalidObject(f"object {k} of '{path.name}': {exc}") from None
        objects.append(SceneObject(str(item["category"]).strip().lower(), box, None, {"clipped": True} if clipped else {}))
    return objects


def pair_scene(scene_id: str, earlier: Path, later: Path, dates: tuple[str, str], source: str, change_map: Path | None = None,
               cause: str = DEFAULT_CAUSE, objects: tuple[Path | None, Path | None] = (None, None), gsd: float | None = None,
               sensor: str = "", group: str = "", classes: tuple[str, ...] = ()) -> Scene | Reject:
    """The scene of a pair, or a reject with the reason (a picture that cannot be read, images
    of different sizes, a change map of another size or not binary, a bad object label)."""
    try:
        width, height = picture_size(earlier)
        later_size = picture_size(later)
    except (OSError, ValueError) as exc:
        return Reject(str(earlier), 0, f"an image of the pair cannot be read: {exc}", id=scene_id)
    if later_size != (width, height):
        return Reject(str(earlier), 0, f"the two dates differ in size ({width}x{height} and {later_size[0]}x{later_size[1]}): "
                                       "a pair must be co-registered", id=scene_id)
    scene = Scene(image=str(earlier), width=width, height=height, gsd=gsd, sensor=sensor, source=source, id=scene_id, group=group,
                  later_image=str(later), dates=dates)
    if change_map is not None:
        try:
            if classes:
                labels = read_class_map(change_map, width, height, classes)
                scene.change_map = labels > 0
                scene.changes = [region for k, name in enumerate(classes, 1) for region in change_regions(labels == k, name)]
            else:
                scene.change_map = read_change_map(change_map, width, height)
                scene.changes = change_regions(scene.change_map, cause)
        except ValueError as exc:
            return Reject(str(change_map), 0, str(exc), id=scene_id)
    labelled = []
    for k, path in enumerate(objects):
        if path is None:
            labelled.append(False)
            continue
        try:
            found = read_objects(path, width, height)
        except InvalidObject as exc:
            return Reject(str(path), 0, scene_reject_reason([str(exc)]), id=scene_id)
        if k == 0:
            scene.objects = found
        else:
            scene.later_objects = found
        labelled.append(True)
    scene.object_dates = (labelled[0], labelled[1])
    return scene

