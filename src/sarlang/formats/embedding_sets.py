"""What a retrieval or zero-shot evaluation embeds: images and captions of a build, or class folders.

Retrieval uses a build's caption records of one split: each image once, each caption once, and
for each caption its image. Zero-shot classification uses an image folder with one sub-folder per
class (:func:`sarlang.sources.folders.class_folders`), or a build whose images each show objects
of one category (a build of class folders, through ``objects.jsonl``). Class names come from the
folder names (a bare number ``3`` reads ``class 3 target``, as the build names it) or from a
classes file: one ``FOLDER=NAME`` line per class, or one name per line in the folders' sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sarlang.errors import InputError
from sarlang.files import IMAGE_SUFFIXES
from sarlang.schema import Reject


@dataclass
class CaptionSet:
    """Images (absolute paths), captions, and for each caption the index of its image."""

    images: list[str]
    texts: list[str]
    text_image: list[int]


@dataclass
class ClassSet:
    """Images (absolute paths), the class index of each, and the class names in index order."""

    images: list[str]
    labels: list[int]
    classes: list[str]


def caption_set(records_path: str | Path, split: str = "test") -> CaptionSet:
    """The captions of ``split`` of a build (a folder or its records file), for retrieval.

    Raises:
        InputError: no caption records of that split.
    """
    from sarlang.formats.records import load_records

    records, _ = load_records(records_path)
    base = Path(records_path) if Path(records_path).is_dir() else Path(records_path).parent
    captions = [r for r in records if r.is_caption and (split == "all" or r.split == split)]
    if not captions:
        raise InputError(f"'{records_path}' has no captions of split '{split}'", hint="build with captions, or pick another --split")
    index: dict[str, int] = {}
    texts, owners = [], []
    for r in captions:
        path = str((base / r.image).resolve())
        owners.append(index.setdefault(path, len(index)))
        texts.append(r.answer)
    return CaptionSet(list(index), texts, owners)


def read_classes_file(path: str | Path, folders: list[str]) -> list[str]:
    """Class names for ``folders`` from a classes file (see the module docstring).

    Raises:
        InputError: the file names other folders, misses one, or has another number of lines.
    """
    from sarlang.files import read_bytes

    lines = [line.strip() for line in read_bytes(path, "classes file").decode("utf-8-sig", "replace").splitlines() if line.strip()]
    if all("=" in line for line in lines):
        named = {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in lines)}
        unknown, missing = sorted(set(named) - set(folders)), [f for f in folders if f not in named]
        if unknown or missing:
            raise InputError(f"classes file '{path}' does not match the class folders",
                             hint=f"unknown folders: {', '.join(unknown) or 'none'}; folders without a name: {', '.join(missing) or 'none'}")
        return [named[f] for f in folders]
    if len(lines) != len(folders):
        raise InputError(f"classes file '{path}' has {len(lines)} names for {len(folders)} class folders",
                         hint="one name per class folder, in sorted folder order, or FOLDER=NAME lines")
    return lines


def class_set(path: str | Path, classes_file: str | Path | None = None, split: str = "test") -> ClassSet:
    """The images and classes of a class-folder tree, or of ``split`` of a build (see the module docstring).

    Raises:
        InputError: no class folders, an empty class, a classes file that does not match, or a
            build whose images show no single category.
    """
    from sarlang.vocabulary import label_name

    root = Path(path)
    if (root / "records.jsonl").is_file() and (root / "objects.jsonl").is_file():
        if classes_file:
            raise InputError("a build names its classes itself; a classes file applies to class folders",
                             hint="leave out --classes, or give the folder of class sub-folders")
        return _build_class_set(root, split)
    from sarlang.sources.folders import class_folders

    folders = class_folders(root)
    names = read_classes_file(classes_file, [f.name for f in folders]) if classes_file else [label_name(f.name) for f in folders]
    images, labels = [], []
    for label, folder in enumerate(folders):
        for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
            images.append(str(f.resolve()))
            labels.append(label)
    return ClassSet(images, labels, names)


def _build_class_set(root: Path, split: str) -> ClassSet:
    from sarlang.formats.records import load_records

    records, _ = load_records(root)
    in_split = {r.image for r in records if split == "all" or r.split == split}
    from sarlang.files import iter_jsonl, read_bytes

    category: dict[str, str] = {}
    bad: list[Reject] = []
    path = root / "objects.jsonl"
    for number, row in iter_jsonl(read_bytes(path, "object labels"), str(path), bad):
        try:
            image, kinds = row["image"], {o["category"] for o in row.get("objects", [])}
        except (KeyError, TypeError, AttributeError):
            raise InputError(f"'{path}' line {number} is not an image with its objects") from None
        if image in in_split and len(kinds) == 1:
            category[image] = kinds.pop()
    if bad:  # a cut or broken line: its image's class is unknown, so the set would be silently smaller
        raise InputError(f"'{path}' line {bad[0].row}: {bad[0].reason}", hint="rebuild the build folder")
    if not category:
        raise InputError(f"no image of split '{split}' of '{root}' shows objects of a single category",
                         hint="zero-shot classification needs one class per image (a build of class folders)")
    classes = sorted(set(category.values()))
    ordered = sorted(category)
    return ClassSet([str((root / i).resolve()) for i in ordered], [classes.index(category[i]) for i in ordered], classes)
