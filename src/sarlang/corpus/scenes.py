"""The scenes a build reads: every source's scenes, each image opened and checked, large ones tiled.

Scenes come from the source registry (:mod:`sarlang.sources`); every image is decoded and its
size compared with its labels on all cores (a scene whose image disagrees is a reject), the same
picture labelled twice within a source rejects both, ``group_by`` names the place an image
shows from its file name, and images larger than ``tile`` pixels become tiles in ``OUT/tiles/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.engines import ordered_map
from sarlang.errors import SarlangError
from sarlang.files import atomic_write_bytes
from sarlang.schema import Record, Reject, Scene
from sarlang.sources import read_source


def scene_key(kind: str, scene: Scene) -> str:
    return f"{kind}:{scene.id or scene.image}"


def group_key(kind: str, scene: Scene) -> str:
    """The key a scene is split by: its group (the place it shows), or the scene itself."""
    return f"{kind}:group:{scene.group}" if scene.group else scene_key(kind, scene)


def name_group(pattern: str, image: str) -> str:
    """The group an image file's name falls in under ``pattern`` (its first capture group, or the
    whole match), or "" when the pattern does not match (the image is then its own group)."""
    if not pattern or not image:
        return ""
    match = re.search(pattern, os.path.basename(image))
    if match is None:
        return ""
    return next((g for g in match.groups() if g), match.group(0))


def collect_scenes(kind: str, path: str, out_dir: Path, rejects: list[Reject], file_stats: dict[str, tuple[int, int]],
             tile: int = 0, overlap: int = 0, group_by: str = "", source_options: dict[str, Any] | None = None,
             records: list[Record] | None = None, notes: list[str] | None = None) -> list[Scene]:
    """The usable scenes of one source; every image is opened and checked against its labels (on all cores).

    ``file_stats`` receives each kept image's (size in bytes, modification time in ns); ``records``
    the finished records a source of records gives (a :class:`SarlangError` if there is no list for
    them); ``notes`` the source's remarks.
    """
    scenes: list[Scene] = []
    seen: set[str] = set()
    for item in read_source(kind, path, source_options or {}, out_dir, notes):
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        if isinstance(item, Record):
            if records is None:
                raise SarlangError(f"source '{kind}' gives finished records where scenes are needed")
            records.append(item)
            continue
        key = scene_key(kind, item)
        if key in seen:
            rejects.append(Reject(item.image, 0, "duplicate image id within the source (the first is kept)", id=item.id))
            continue
        seen.add(key)
        item.pixels = item.later_pixels = None  # written to disk already; keep memory bounded
        if group_by and not item.group:
            item.group = name_group(group_by, item.image)
        scenes.append(item)
    # one picture labelled by two annotation files of a source: two label sets contradict each other
    labelled_by: dict[str, list[Scene]] = {}
    for s in scenes:
        if s.image:
            labelled_by.setdefault(os.path.realpath(s.image), []).append(s)
    twice = {image for image, owners in labelled_by.items() if len(owners) > 1}
    if twice:
        for s in [s for s in scenes if s.image and os.path.realpath(s.image) in twice]:
            others = [o.id for o in labelled_by[os.path.realpath(s.image)] if o is not s]
            rejects.append(Reject(s.image, 0, f"the image is labelled by several annotations ({', '.join([s.id, *others][:4])}); "
                                              "all are rejected", id=s.id))
        scenes = [s for s in scenes if not (s.image and os.path.realpath(s.image) in twice)]
    checks = ordered_map(_check_image, [(s.image, s.width, s.height) for s in scenes], chunksize=8)
    later_checks = ordered_map(_check_image, [(s.later_image, s.width, s.height) for s in scenes if s.is_pair], chunksize=8)
    later = iter(later_checks)
    kept: list[Scene] = []
    for scene, (reason, size, mtime_ns) in zip(scenes, checks):
        if scene.is_pair:  # both dates are opened, decoded and measured
            later_reason, later_size, later_mtime = next(later)
            if reason is None and later_reason is not None:
                reason = f"the later date: {later_reason}"
            elif reason is None:
                reason = pair_disagreement(scene)
                file_stats[scene.later_image] = (later_size, later_mtime)
        if reason is not None:
            rejects.append(Reject(scene.image, 0, reason, id=scene.id))
            continue
        file_stats[scene.image] = (size, mtime_ns)
        kept.append(scene)
    if tile:
        kept = _tiled(kept, out_dir, tile, overlap, rejects, file_stats)
    for scene in kept:
        if scene.is_pair and scene.change_map is not None and not scene.change_map_image:
            scene.change_map_image = _write_tile(out_dir / "changes" / (re.sub(r"[^A-Za-z0-9._-]", "_", scene.id or Path(scene.image).stem) + ".png"),
                                                 np.asarray(scene.change_map, dtype=np.uint8) * 255)
    return kept


def pair_disagreement(scene: Scene) -> str | None:
    """Why a pair's labels disagree with its pixels or with each other, or None: a change map
    (or labelled changes) saying part of the place changed while the two dates are the same
    picture, or objects coming or going where the map shows no change
    (:func:`sarlang.corpus.change.pair_disagreement`)."""
    import filecmp

    from sarlang.corpus import change

    changed = bool(scene.changes) or (scene.change_map is not None and bool(scene.change_map.any()))
    if changed and filecmp.cmp(scene.image, scene.later_image, shallow=False):
        return "the change map marks changed pixels, but both dates are the same picture"
    return change.pair_disagreement(scene)


def _tiled(scenes: list[Scene], out_dir: Path, tile: int, overlap: int, rejects: list[Reject],
           file_stats: dict[str, tuple[int, int]]) -> list[Scene]:
    """Scenes larger than ``tile`` pixels replaced by their tiles (written to ``out_dir/tiles``), in order."""
    large = [i for i, s in enumerate(scenes) if s.width > tile or s.height > tile]
    results = dict(zip(large, ordered_map(_tile_any, [(scenes[i], str(out_dir / "tiles"), tile, overlap) for i in large])))
    kept: list[Scene] = []
    for i, scene in enumerate(scenes):
        if i not in results:
            kept.append(scene)
            continue
        tiles, tile_rejects, error = results[i]
        if error:
            rejects.append(Reject(scene.image, 0, f"cannot be tiled: {error}", id=scene.id))
            continue
        rejects.extend(Reject(scene.image, 0, reason, id=tile_id) for tile_id, reason in tile_rejects)
        for t in tiles:
            for image in (t.image, t.later_image):
                if image:
                    stat = os.stat(image)
                    file_stats[image] = (stat.st_size, stat.st_mtime_ns)
        kept.extend(tiles)
    return kept


#: Windows of a block share a split (see :func:`sarlang.sar.tiling.tile_pair`).
PAIR_BLOCK = 2


def _tile_any(item: tuple[Scene, str, int, int]) -> tuple[list[Scene], list[tuple[str, str]], str]:
    return _tile_pair(item) if item[0].is_pair else _tile_one(item)


def _tile_pair(item: tuple[Scene, str, int, int]) -> tuple[list[Scene], list[tuple[str, str]], str]:
    """The windows of a pair (both dates written as PNG, one stretch for both; unchanged files not rewritten)."""
    import dataclasses
    import hashlib

    from sarlang.sar.io import read_sar
    from sarlang.sar.recipes import BUILTIN_RECIPES, apply_pair_recipe
    from sarlang.sar.tiling import tile_pair
    from sarlang.schema import SarImage

    scene, folder, tile, _ = item  # windows of a pair never overlap (a window of another block would share pixels)
    try:
        first, second = read_sar(scene.image), read_sar(scene.later_image)
        if first.units != "display8" or second.units != "display8":
            one, two, _ = apply_pair_recipe(first, second, dataclasses.replace(BUILTIN_RECIPES["sarlang"], channels=1))
            first, second = SarImage(one, "display8"), SarImage(two, "display8")
        whole = dataclasses.replace(scene, pixels=first, later_pixels=second, group=scene.group or scene.id or scene.image)
        tile_rejects: list[tuple[str, str]] = []
        tiles = tile_pair(whole, tile, PAIR_BLOCK, rejects=tile_rejects)
    except SarlangError as exc:
        return [], [], str(exc)
    Path(folder).mkdir(parents=True, exist_ok=True)
    origin = hashlib.sha1(os.path.realpath(scene.image).encode("utf-8")).hexdigest()[:8]
    for t in tiles:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", t.id) + f"-{origin}"
        t.image = _write_tile(Path(folder) / f"{stem}_1.png", t.pixels.data)
        t.later_image = _write_tile(Path(folder) / f"{stem}_2.png", t.later_pixels.data)
        if t.change_map is not None:
            t.change_map_image = _write_tile(Path(folder) / f"{stem}_change.png", np.asarray(t.change_map, dtype=np.uint8) * 255)
        t.pixels = t.later_pixels = None
    return tiles, tile_rejects, ""


def _write_tile(path: Path, pixels: Any) -> str:
    """A tile's picture as PNG, not rewritten when the file holds it already."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        atomic_write_bytes(path, buffer.getvalue())
    return str(path)


def _tile_one(item: tuple[Scene, str, int, int]) -> tuple[list[Scene], list[tuple[str, str]], str]:
    """The tiles of one scene (images written as PNG; an unchanged tile file is not rewritten)."""
    import dataclasses
    import hashlib
    import io

    from PIL import Image

    from sarlang.sar.io import read_sar
    from sarlang.sar.recipes import BUILTIN_RECIPES, apply_recipe
    from sarlang.sar.tiling import tile_scene
    from sarlang.schema import SarImage

    scene, folder, tile, overlap = item
    try:
        image = read_sar(scene.image)
        if image.units != "display8":
            pixels, _ = apply_recipe(image, dataclasses.replace(BUILTIN_RECIPES["sarlang"], channels=1))
            image = SarImage(pixels, "display8")
        whole = dataclasses.replace(scene, pixels=image, group=scene.group or scene.id or scene.image)
        tile_rejects: list[tuple[str, str]] = []
        tiles = tile_scene(whole, tile_size=tile, levels=(1,), overlap=overlap, rejects=tile_rejects)
    except SarlangError as exc:
        return [], [], str(exc)
    Path(folder).mkdir(parents=True, exist_ok=True)
    # the image's path in the name: scenes of two sources (or ids that differ only in characters a
    # file name cannot hold) never write their tiles over each other's
    origin = hashlib.sha1(os.path.realpath(scene.image).encode("utf-8")).hexdigest()[:8]
    for t in tiles:
        buffer = io.BytesIO()
        Image.fromarray(t.pixels.data).save(buffer, format="PNG")
        path = Path(folder) / (re.sub(r"[^A-Za-z0-9._-]", "_", t.id) + f"-{origin}.png")
        if not path.exists() or path.read_bytes() != buffer.getvalue():
            atomic_write_bytes(path, buffer.getvalue())
        t.image, t.pixels = str(path), None
    return tiles, tile_rejects, ""


def _check_image(item: tuple[str, int, int]) -> tuple[str | None, int, int]:
    """(why the image is unusable or None, its size in bytes, its modification time in ns)."""
    from sarlang.sar.io import verify_image

    path, width, height = item
    if not path:
        return "scene has no image file", 0, 0
    try:
        stat = os.stat(path)
    except OSError as exc:
        return f"image cannot be read: {exc.strerror}", 0, 0
    return verify_image(path, width, height), stat.st_size, stat.st_mtime_ns
