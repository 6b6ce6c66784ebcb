"""Image-classification folders: one sub-folder per class (MSTAR chips, OpenSARShip, FUSAR-Ship, ...).

``path/<class>/<image>``: every image becomes a scene with one object, of its folder's class,
whose box covers the whole image (a classification chip shows its target and little else). A
class folder named by a bare number (MSTAR's ``0`` ... ``9``) is named ``class N target``, as the
VOC reader names MSTAR scenes' labels, so chips and scenes can be built together
(``--source folders:chips/ --source voc:scenes/``). Files that are not images (by suffix) are left
out and named in a reject; hidden files are passed over.

Raises a clear error for a folder without class sub-folders or with an empty class: a
classification set with a class missing is broken, not merely smaller.

How to cite MSTAR: Ross, Worrell, Velten, Mossing and Bryant, "Standard SAR ATR evaluation
experiments using the MSTAR public release data set", Proc. SPIE 3370, 1998, doi:10.1117/12.321859.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject, Scene, SceneObject
from sarlang.vocabulary import label_name


def class_folders(path: str | Path) -> list[Path]:
    """The class sub-folders of a classification folder, sorted by name.

    Raises:
        InputError: the path is not a folder, has no class sub-folders, or a class is empty.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"folders source '{root}' is not a folder", hint="give the folder holding one sub-folder per class")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputError(f"'{root}' has no class sub-folders", hint="put each class's images in a sub-folder named after the class")
    empty = [c.name for c in classes if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in c.rglob("*") if f.is_file())]
    if empty:
        raise InputError(f"class folders without images in '{root}': {', '.join(empty[:5])}",
                         hint="remove the empty class folders or add their images")
    return classes


def read(path: str, gsd: float | None = None, sensor: str = "") -> Iterator[Scene | Reject]:
    """The scenes of a classification folder (see the module docstring).

    Args:
        path: The folder holding one sub-folder per class.
        gsd: Ground sampling distance in metres per pixel, given to every scene.
        sensor: The sensor's name, given to every scene (e.g. ``MSTAR``).

    Yields:
        A :class:`Scene` per image (one object, box ``[0, 0, width, height]`` in pixels), a
        :class:`Reject` per file that is not an image or cannot be opened.

    Raises:
        InputError: the folder has no class sub-folders or an empty class.
    """
    from PIL import Image, UnidentifiedImageError

    for folder in class_folders(path):
        category = label_name(folder.name)
        for file in sorted(f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                yield Reject(str(file), 0, f"not an image ({file.suffix or 'no suffix'}) in class folder '{folder.name}'")
                continue
            try:
                with Image.open(file) as image:
                    width, height = image.size
            except (OSError, UnidentifiedImageError) as exc:
                yield Reject(str(file), 0, f"image cannot be read: {exc}")
                continue
            yield Scene(
                image=str(file),
                width=width,
                height=height,
                objects=[SceneObject(category, (0.0, 0.0, float(width), float(height)), attributes={"whole_image": True})],
                gsd=gsd,
                sensor=sensor,
                id=f"{folder.name}/{file.relative_to(folder).with_suffix('').as_posix()}",
            )
