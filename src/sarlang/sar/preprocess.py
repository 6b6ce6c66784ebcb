"""Batch preprocessing: many SAR rasters to pictures with the recipe that made them.

For every input ``X`` the output folder gets ``X-stem.png`` and ``X-stem.json``, the sidecar:
the recipe with its parameters, what was resolved from the image (looks, stretch limits), the
input's path, size, units, polarisation and SHA-256, and the sarlang version. Inputs run on all
cores; an output whose sidecar says it was made from the same input bytes (size and mtime, then
checksum) with the same recipe is up to date and skipped, so an interrupted run resumes; an
input that cannot be read or processed goes to ``rejects.jsonl`` with the reason, and the run
goes on.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarlang.engines import ordered_map
from sarlang.errors import InputError, SarlangError
from sarlang.files import IMAGE_SUFFIXES, atomic_write_json, atomic_write_jsonl
from sarlang.sar.recipes import Recipe
from sarlang.schema import Reject



@dataclass
class PreprocessSummary:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    #: images written, by how their number of looks was found (:data:`sarlang.sar.filters.LOOKS_RULES`)
    looks_rules: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"written": len(self.written), "up_to_date": len(self.skipped), "rejected": len(self.rejects), "looks_rules": dict(self.looks_rules),
                "rejects": [r.to_dict() for r in self.rejects]}


def expand_inputs(inputs: Iterable[str]) -> tuple[list[Path], list[Reject]]:
    """Files, folders (searched recursively for images) and glob patterns, in a stable order."""
    found: list[Path] = []
    rejects: list[Reject] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            found.append(p)
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                rejects.append(Reject(item, 0, "pattern matches no file"))
            found += matches
        else:
            rejects.append(Reject(item, 0, "no such file or folder"))
    unique = list(dict.fromkeys(f.resolve() for f in found))
    return unique, rejects


def sha256_of(path: Path) -> str:
    from sarlang.files import file_sha256

    digest = file_sha256(path)
    if digest is None:
        raise InputError(f"cannot read '{path}'")
    return digest


def _up_to_date(source: Path, png: Path, sidecar: Path, recipe: Recipe) -> bool:
    if not (png.exists() and sidecar.exists()):
        return False
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("recipe") != recipe.to_dict():
        return False
    info = meta.get("input", {})
    stat = source.stat()
    if info.get("size") == stat.st_size and info.get("mtime_ns") == stat.st_mtime_ns:
        return True
    return info.get("size") == stat.st_size and info.get("sha256") == sha256_of(source)


def process_one(source: Path, out_dir: Path, recipe: Recipe) -> dict[str, Any]:
    """Preprocess one file; returns its sidecar (raises :class:`SarlangError` for a bad input)."""
    from sarlang import __version__
    from sarlang.sar.io import read_sar, write_png
    from sarlang.sar.recipes import apply_recipe

    image = read_sar(source, polarization=recipe.polarization)
    pixels, resolved = apply_recipe(image, recipe)
    png = out_dir / f"{source.stem}.png"
    stat = source.stat()
    sidecar = {
        "recipe": recipe.to_dict(),
        "resolved": resolved,
        "input": {
            "path": str(source),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": sha256_of(source),
            "units": image.units,
            "polarization": image.polarization,
            "shape": list(image.shape),
            "gsd": image.gsd,
        },
        "output": {"path": png.name, "shape": list(pixels.shape), "dtype": "uint8"},
        "sarlang_version": __version__,
    }
    write_png(png, pixels)
    atomic_write_json(out_dir / f"{source.stem}.json", sidecar)
    return sidecar


def _safe_process(source: str, out_dir: str, recipe: dict[str, Any]) -> tuple[str, str | None, str | None]:
    try:
        sidecar = process_one(Path(source), Path(out_dir), Recipe.from_dict(recipe))
        return source, None, sidecar["resolved"].get("looks_rule")
    except SarlangError as exc:
        return source, str(exc), None
    except Exception as exc:  # one bad file must not stop the batch; the reason is recorded
        return source, f"{type(exc).__name__}: {exc}", None


def preprocess(
    inputs: Iterable[str],
    recipe: Recipe,
    out_dir: str | Path,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> PreprocessSummary:
    """Preprocess every input into ``out_dir``: ``<stem>.png`` and its ``<stem>.json`` sidecar each.

    Parameters
    ----------
    inputs:
        Image files, folders (searched recursively) or glob patterns.
    recipe:
        The recipe every input goes through.
    out_dir:
        The output folder (created). Outputs already made from the same input and recipe are kept.
    workers:
        Parallel processes on the local engine (default: every core); they end with the parent.
        On the Ray engine (:func:`sarlang.engines.using`) Ray places the work instead.
    on_progress:
        ``on_progress(done, total)`` as files finish.

    Returns
    -------
    PreprocessSummary
        Written, up-to-date and rejected inputs (rejects also in ``out_dir/rejects.jsonl``).

    Raises
    ------
    InputError
        No input at all.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files, rejects = expand_inputs(inputs)
    if not files and not rejects:
        raise InputError("no input images given")
    summary = PreprocessSummary(rejects=list(rejects))
    by_stem: dict[str, Path] = {}
    todo: list[Path] = []
    for f in files:
        if f.stem in by_stem:
            summary.rejects.append(Reject(str(f), 0, f"same output name as {by_stem[f.stem]} ({f.stem}.png)"))
            continue
        by_stem[f.stem] = f
        if _up_to_date(f, out / f"{f.stem}.png", out / f"{f.stem}.json", recipe):
            summary.skipped.append(str(f))
        else:
            todo.append(f)
    total = len(todo)
    if on_progress:
        on_progress(0, total)
    jobs = [(str(f), str(out), recipe.to_dict()) for f in todo]
    # results in input order on every engine, so the rejects file is the same whatever finishes first
    _collect(summary, ordered_map(_safe_process_job, jobs, workers=workers), on_progress, total)
    summary.written.sort()
    # this run's rejects only: a rejects file left by an earlier run would mix with them
    if summary.rejects:
        atomic_write_jsonl(out / "rejects.jsonl", [r.to_dict() for r in summary.rejects])
    else:
        (out / "rejects.jsonl").unlink(missing_ok=True)
    return summary


def _safe_process_job(job: tuple[str, str, dict[str, Any]]) -> tuple[str, str | None, str | None]:
    return _safe_process(*job)


def _collect(summary: PreprocessSummary, results: Iterable[tuple[str, str | None, str | None]],
             on_progress: Callable[[int, int], None] | None, total: int) -> None:
    for done, (source, error, rule) in enumerate(results, start=1):
        if error is None:
            summary.written.append(source)
            if rule is not None:
                summary.looks_rules[rule] = summary.looks_rules.get(rule, 0) + 1
        else:
            summary.rejects.append(Reject(source, 0, error))
        if on_progress:
            on_progress(done, total)
