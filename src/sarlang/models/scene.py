"""``sarlang scene``: a model over a whole SAR scene, tile by tile, to GeoJSON.

The raster is read by windows (:mod:`sarlang.sar.scene`), never whole; each tile is preprocessed
with the recipe made scene-wide and asked, in one batch: a caption, how many objects of each
category it shows, the boxes of each category (a grounding question; the answer read in any box
convention, :func:`~sarlang.formats.boxes.parse_boxes`) and the ``ask`` questions. Boxes go to
scene pixels and map coordinates, duplicates from overlapping tiles are merged, and the GeoJSON
holds one feature per object (polygon, category, score, tile) and one per tile (footprint,
caption, answers). Finished tiles are kept in ``OUT.tiles.jsonl`` as they come, so a killed run
resumes at the next tile when the raster, the model and the settings are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sarlang.errors import InputError, SarlangError
from sarlang.formats.boxes import CONVENTION_HINTS, parse_boxes
from sarlang.formats.prompts import CAPTION_PROMPT, COUNT_PROMPT, GROUNDING_ALL_PROMPT, prompt_for
from sarlang.sar.scene import Detection, Window, border_margin, box_polygon, scene_recipe, scene_windows, suppress_duplicates, tile_picture
from sarlang.vocabulary import extract_numbers, plural


def tile_prompts(categories: Sequence[str], asks: Sequence[str], convention: str = "sarlang") -> list[tuple[str, str]]:
    """(what, prompt) pairs asked of every tile: ``caption``, ``count:C`` and ``boxes:C`` per category, ``ask:k``."""
    from sarlang.schema import Record

    def wrapped(question: str) -> str:  # as sarlang predict wraps a record's question
        return prompt_for(Record("tile", "", "others", question, "-"))

    out = [("caption", CAPTION_PROMPT)]
    for c in categories:
        out.append((f"count:{c}", wrapped(COUNT_PROMPT.format(cs=plural(c)))))
        out.append((f"boxes:{c}", wrapped(GROUNDING_ALL_PROMPT.format(cs=plural(c), hint=CONVENTION_HINTS[convention]))))
    out += [(f"ask:{k}", wrapped(q.strip())) for k, q in enumerate(asks)]
    return out


def _fingerprint(raster: Path, model_id: str, settings: dict[str, Any]) -> str:
    stat = raster.stat()
    return hashlib.sha256(json.dumps({"raster": str(raster.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
                                      "model": model_id, **settings}, sort_keys=True, default=str).encode()).hexdigest()


def _resume(journal: Path, fingerprint: str, restart: bool) -> dict[str, dict[str, Any]]:
    """Finished tiles of an interrupted run with the same fingerprint (the first line); a cut last line is dropped."""
    if restart or not journal.exists():
        journal.write_text(json.dumps({"fingerprint": fingerprint}) + "\n", encoding="utf-8")
        return {}
    lines = [line for line in journal.read_text(encoding="utf-8").split("\n") if line]  # "\n" only: answers may hold U+2028
    try:
        head = json.loads(lines[0])
    except (IndexError, json.JSONDecodeError):
        head = {}
    if head.get("fingerprint") != fingerprint:
        raise InputError(f"'{journal}' holds tiles of another run (another raster, model or settings)",
                         hint="pass --restart to start again, or another --out")
    done: dict[str, dict[str, Any]] = {}
    good = [lines[0]]
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break  # a line cut by a kill: that tile is asked again
        done[row["tile"]] = row
        good.append(line)
    from sarlang.files import atomic_write_text

    atomic_write_text(journal, "\n".join(good) + "\n")  # a kill now must not lose the finished tiles
    return done


_ZERO_WORDS = frozenset({"no", "none", "nothing", "zero", "no one", "not any"})


def read_count(answer: str | None) -> tuple[int | None, str | None]:
    """The number of objects an answer to "how many ...?" gives, as a whole number, or None and
    why not: "3", "three", "There are 3 ships." and "3." give 3, "no"/"none"/"there are no
    ships" give 0; several different numbers, a fraction, a negative number, no number at all or
    no answer give None (the GeoJSON's ``counts`` hold numbers or null, never a model's text)."""
    import unicodedata

    if answer is None:
        return None, "no answer (the model's requests failed)"
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", unicodedata.normalize("NFKC", answer).lower())  # twenty-one
    words = " ".join("".join(c if c.isalnum() or c in ".-" else " " for c in text).split())
    words = " ".join(w.rstrip(".") for w in words.split())
    numbers = sorted(set(extract_numbers(words)))
    if not numbers:
        if words in _ZERO_WORDS or re.search(r"\b(?:no|none|zero|not any)\b", words):
            return 0, None
        return None, f"no number in the answer {answer[:80]!r}"
    if len(numbers) > 1:
        return None, f"several numbers in the answer {answer[:80]!r}"
    value = numbers[0]
    if value < 0 or value != int(value):
        return None, f"not a count: {answer[:80]!r}"
    return int(value), None


def ask_tile(model: Any, picture_path: str, prompts: Sequence[tuple[str, str]], window: Window, height: int, width: int) -> dict[str, Any]:
    """One tile's answers: the caption, counts, boxes (scene pixels) and the other answers."""
    answers = model.answer([(picture_path, prompt) for _, prompt in prompts])
    row: dict[str, Any] = {"tile": window.name, "window": [window.row, window.col, window.height, window.width], "caption": "", "counts": {},
                           "answers": {}, "boxes": [], "unread": {}}
    for (what, _), answer in zip(prompts, answers):
        if answer is None and not what.startswith("count:"):  # an API model whose requests failed
            row["unread"][what] = "no answer (the model's requests failed)"
            continue
        if what == "caption":
            row["caption"] = answer
        elif what.startswith("count:"):
            count, reason = read_count(answer)
            row["counts"][what[6:]] = count
            if reason:
                row.setdefault("unread_counts", {})[what[6:]] = reason
        elif what.startswith("boxes:"):
            category = what[6:]
            parsed = parse_boxes(answer, "sarlang", window.width, window.height)
            if parsed.reason:
                row["unread"][category] = parsed.reason
            for box, score in zip(parsed.boxes, parsed.scores):
                x1, y1, x2, y2 = max(0.0, box[0]), max(0.0, box[1]), min(float(window.width), box[2]), min(float(window.height), box[3])
                if x2 > x1 and y2 > y1:
                    scene_box = (x1 + window.col, y1 + window.row, x2 + window.col, y2 + window.row)
                    row["boxes"].append([category, *scene_box, 1.0 if score is None else score, border_margin(scene_box, window, height, width)])
        else:
            row["answers"][what] = answer
    return row


def tile_row(model: Any, job: tuple[str, Window, Any, str | None, Sequence[tuple[str, str]], int, int]) -> dict[str, Any]:
    """The journal row of one tile (``job``: raster path, window, fixed recipe, units, prompts, scene
    height and width): its answers, or why a tile of no-data only was not asked."""
    from sarlang.sar.io import write_png

    raster, window, fixed, units, prompts, height, width = job
    try:
        pixels = tile_picture(Path(raster), window, fixed, units)
    except InputError:
        raise
    except SarlangError as exc:  # a tile of no-data only (a swath's edge): said, not asked
        return {"tile": window.name, "window": [window.row, window.col, window.height, window.width], "caption": "", "counts": {},
                "answers": {}, "boxes": [], "unread": {}, "skipped": exc.message}
    with tempfile.TemporaryDirectory(prefix="sarlang-tile-") as work:
        picture = Path(work) / f"{window.name}.png"
        write_png(picture, pixels)
        return ask_tile(model, str(picture), prompts, window, height, width)


def run_scene(raster: str | Path, model: Any, out: str | Path, tile: int = 512, overlap: int = 64, recipe: str = "sarlang",
              categories: Sequence[str] | None = None, asks: Sequence[str] = (), wgs84: bool = False, units: str | None = None,
              restart: bool = False, model_id: str = "", on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run ``model`` over the scene at ``raster`` and write the GeoJSON ``out`` (see the module docstring).

    Raises:
        InputError: an unreadable raster, unusable tiling, no categories to ask about, or a
            journal of another run.
    """
    from sarlang.formats.geojson import feature_collection, polygon, write_geojson
    from sarlang.sar.io import raster_header
    from sarlang.sar.recipes import load_recipe

    path = Path(raster)
    height, width, crs, transform = raster_header(path)
    georeferenced = crs is not None and transform is not None and not transform.is_identity
    if categories is None:
        categories = list(getattr(getattr(model, "config", None), "categories", []) or [])
    if not categories:
        raise InputError("no categories to ask the tiles about", hint="pass --categories ship,car (the built-in model knows its own)")
    windows = scene_windows(height, width, tile, overlap)
    fixed, measured = scene_recipe(path, load_recipe(recipe), height, width, units)
    prompts = tile_prompts(categories, asks)
    settings = {"tile": tile, "overlap": overlap, "recipe": asdict(fixed), "categories": list(categories), "asks": list(asks), "units": units}
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    journal = out_path.with_name(out_path.name + ".tiles.jsonl")
    done = _resume(journal, _fingerprint(path, model_id, settings), restart)
    from sarlang.models.run import map_with_model

    todo = [w for w in windows if w.name not in done]
    jobs = [(str(path), w, fixed, units, prompts, height, width) for w in todo]
    finished = len(windows) - len(todo)
    if on_progress:
        on_progress(finished, len(windows))
    with journal.open("a", encoding="utf-8") as log:
        # tiles are answered on the current engine and journalled in order, the same on every engine
        for w, row in zip(todo, map_with_model(model, model_id, tile_row, jobs)):
            log.write(json.dumps(row) + "\n")
            log.flush()
            os.fsync(log.fileno())
            done[w.name] = row
            finished += 1
            if on_progress:
                on_progress(finished, len(windows))
    found = [Detection(b[0], tuple(b[1:5]), float(b[5]), row["tile"], float(b[6])) for row in done.values() for b in row["boxes"]]
    kept = suppress_duplicates(found)
    place = transform if georeferenced else None
    features = [{"type": "Feature", "geometry": polygon(box_polygon(place, d.box)),
                 "properties": {"kind": "object", "category": d.category, "score": d.score, "tile": d.tile,
                                "pixel_box": [round(v, 1) for v in d.box]}} for d in kept]
    for w in windows:
        row = done[w.name]
        features.append({"type": "Feature", "geometry": polygon(box_polygon(place, (w.col, w.row, w.col + w.width, w.row + w.height))),
                         "properties": {"kind": "tile", "tile": w.name, "window": row["window"], "caption": row["caption"], "counts": row["counts"],
                                        "unread_counts": row.get("unread_counts", {}), "answers": {asks[int(k[4:])]: v for k, v in row["answers"].items()}, "unread_boxes": row["unread"],
                                        **({"skipped": row["skipped"]} if "skipped" in row else {})}})
    skipped = sum(1 for row in done.values() if "skipped" in row)
    properties = {"raster": str(path.resolve()), "width": width, "height": height, "tiles": len(windows), "tile": tile, "overlap": overlap,
                  "recipe": recipe, "scene_statistics": measured, "model": model_id, "categories": list(categories),
                  "objects": len(kept), "duplicates_merged": len(found) - len(kept), "tiles_without_data": skipped}
    write_geojson(out_path, feature_collection(features, crs if georeferenced else None, wgs84 and georeferenced, properties))
    journal.unlink()
    return {"out": str(out_path), "tiles": len(windows), "objects": len(kept), "duplicates_merged": len(found) - len(kept),
            "georeferenced": georeferenced, "scene_statistics": measured}
