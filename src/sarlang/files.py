"""Reading text inputs row by row without losing any, and writing outputs atomically.

Readers yield ``(row_number, value)`` for good rows and collect a :class:`Reject` with the
reason for each bad one (bytes that are not UTF-8, malformed JSON, a ragged CSV row), so a
caller can score the good rows and report the bad ones. Writers go through a temporary file
in the same folder and a rename, so a crash never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sarlang.errors import InputError, MissingDependencyError
from sarlang.schema import Reject


#: File suffixes of images: 8-bit pictures (Pillow) and rasters (GDAL through rasterio), in the
#: order a source prefers them when one image id has several files.
PICTURE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")
RASTER_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".img", ".vrt", ".nc", ".h5", ".hdf5", ".jp2")
IMAGE_SUFFIXES: tuple[str, ...] = PICTURE_SUFFIXES + RASTER_SUFFIXES

#: The one progress protocol of the library: every long call takes ``on_progress(done, total)``
#: with absolute counts (training adds the running loss as a third argument).
Progress = Callable[[int, int], None]


def counting(on_progress: Progress | None, total: int) -> Callable[[int], None] | None:
    """An increment callback (``advance(k)``) that reports ``on_progress(done, total)``."""
    if on_progress is None:
        return None
    done = 0
    on_progress(0, total)

    def advance(k: int) -> None:
        nonlocal done
        done += k
        on_progress(done, total)

    return advance


#: Extras whose packages need torch, which must be installed first with an explicit (CPU) version.
_TORCH_EXTRAS = frozenset({"train", "hf", "embedding", "towers", "knowledge"})


def require(module: str, extra: str, what: str = "", hint: str | None = None) -> Any:
    """Import an optional dependency, or raise :class:`MissingDependencyError` saying which extra to install.

    ``what`` names the feature that needs it ("GeoTIFF support (rasterio)"); the hint pins torch
    to the CPU build for the extras that need torch, so pip never resolves a CUDA build.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if hint is None and extra in _TORCH_EXTRAS:
            hint = f"pip install torch==2.13.0 (the CPU build), then pip install 'sarlang[{extra}]'"
        raise MissingDependencyError(what or module, extra=extra, hint=hint) from exc


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The whole file, or an :class:`InputError` saying it is missing, a folder, unreadable or empty."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} '{p}' does not exist")
    if p.is_dir():
        raise InputError(f"{what} '{p}' is a folder, not a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} '{p}': {exc.strerror}") from exc
    if not data.strip():
        raise InputError(f"{what} '{p}' is empty")
    return data


def _strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def iter_text_lines(data: bytes, source: str, rejects: list[Reject]) -> Iterator[tuple[int, str]]:
    """Non-blank lines as text; a line that is not UTF-8 becomes a reject."""
    for number, raw in enumerate(_strip_bom(data).splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.append(Reject(source, number, f"line is not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"))


def iter_jsonl(data: bytes, source: str, rejects: list[Reject]) -> Iterator[tuple[int, Any]]:
    """JSON values of a JSONL file; malformed lines become rejects."""
    for number, line in iter_text_lines(data, source, rejects):
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(source, number, f"malformed JSON: {exc.msg} at column {exc.colno}"))


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 of a file's bytes (hex), read in blocks; None when it cannot be read."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def csv_text(rows: Iterable[Sequence[Any]], delimiter: str = ",") -> str:
    """Rows as CSV (or, with ``delimiter="\\t"``, TSV) text, lines ending in ``\\n``. A cell is
    quoted (RFC 4180: in double quotes, a quote doubled) when it holds the delimiter, a quote, a
    line break of any kind (``\\r`` too, which the csv module leaves bare), another control
    character or a Unicode line separator, so :func:`iter_csv`, Python's csv module and pandas
    read every cell back as written."""
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        if delimiter in text or '"' in text or any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in text):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "".join(delimiter.join(cell(v) for v in row) + "\n" for row in rows)


def iter_csv(data: bytes, source: str, rejects: list[Reject]) -> Iterator[tuple[int, list[str]]]:
    """CSV rows (with the line each starts on); rows holding non-UTF-8 bytes become rejects."""
    text = _strip_bom(data).decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if any(_has_surrogates(cell) for cell in row):
                rejects.append(Reject(source, start, "row is not UTF-8"))
                continue
            yield start, row
    except csv.Error as exc:
        rejects.append(Reject(source, line, f"malformed CSV: {exc}; the rest of the file was not read"))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_settings(path: str | Path, what: str = "settings file") -> dict[str, Any]:
    """A YAML (.yaml/.yml) or JSON file holding a mapping, or an :class:`InputError` saying what is wrong."""
    p = Path(path)
    text = read_bytes(p, what).decode("utf-8", errors="replace")
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise their own error types
        raise InputError(f"cannot parse {what} '{p}': {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} '{p}' must hold a mapping of settings")
    return data


def checked_settings(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    """Settings for the dataclass ``cls``: unknown keys and values of the wrong type are clear errors.

    Every field needs a default; an int is accepted for a float field (and made a float), a bool
    never stands for a number. ``what`` names the settings in messages ("model setting").
    """
    from dataclasses import fields

    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown {what}(s) {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}")
    defaults = cls()
    clean: dict[str, Any] = {}
    for key, value in data.items():
        default = getattr(defaults, key)
        number_for_float = isinstance(default, float) and isinstance(value, int)
        if isinstance(value, bool) != isinstance(default, bool) or not (isinstance(value, type(default)) or number_for_float):
            raise InputError(f"{what} '{key}' must be {type(default).__name__}, got {value!r}")
        clean[key] = type(default)(value)
    return clean


def _probe_folder(folder: Path, what: str) -> None:
    """Raise unless a file can be created in the existing ``folder`` (a real try: root ignores modes)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"cannot write the {what} into '{folder}': {exc.strerror}") from None


def _existing_ancestor(path: Path, what: str) -> Path:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"'{parent}' is a file, so the {what} '{path}' cannot be made under it")
            return parent
    return Path.cwd()


def keep_run_fingerprint(journal: str | Path, fingerprint: str, resuming: bool, refusal: str, hint: str) -> None:
    """The guard of every resumable run: resume only the outputs of the same inputs and options.

    A fresh run (``resuming`` false) records ``fingerprint`` in ``journal``; a run that would
    resume earlier outputs first checks that they were made with the same fingerprint, and
    raises :class:`InputError` (``refusal``, ``hint``) when not, or when no journal says.
    """
    path = Path(journal)
    if not resuming:
        atomic_write_json(path, {"fingerprint": fingerprint})
        return
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != fingerprint:
        raise InputError(refusal, hint=hint)


def resume_jsonl(path: str | Path, journal: str | Path, fingerprint: str, restart: bool, refusal: str, hint: str,
                 companions: Sequence[Path] = (), keep: Callable[[Any], bool] | None = None) -> list[Any]:
    """The rows of an interrupted run's JSONL output, for a rerun of the same work to go on from.

    The one resume protocol of the build, ``predict`` and the LLM captions: the output is appended
    to as work finishes; a rerun keeps what was written (lines cut by a kill are dropped, as are
    rows ``keep`` refuses) only if the run was made from the same inputs (:func:`keep_run_fingerprint`
    with ``fingerprint``, ``refusal`` and ``hint``); ``restart`` deletes the output, its journal and
    its ``companions`` (files the run needs to resume, such as the build's ``done.txt``) first. The
    output file is rewritten, atomically, only when a line was dropped.

    Returns:
        The kept rows (empty for a fresh run, whose output and companions are removed).

    Raises:
        InputError: the output was made from other inputs or options.
    """
    out = Path(path)
    if restart:
        for stale in (out, Path(journal), *companions):
            stale.unlink(missing_ok=True)
    resuming = out.exists() and out.stat().st_size > 0 and all(c.exists() for c in companions)
    if not resuming:
        for stale in (out, *companions):
            stale.unlink(missing_ok=True)
    keep_run_fingerprint(journal, fingerprint, resuming, refusal, hint)
    if not resuming:
        return []
    # JSONL lines end at "\n" only: a text may hold U+2028, U+0085 or \x1c, which str.splitlines would cut at
    lines = [line + "\n" for line in out.read_text(encoding="utf-8").split("\n") if line]
    rows, kept = [], []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill: its work is done again
        if keep is not None and not keep(row):
            continue
        rows.append(row)
        kept.append(line if line.endswith("\n") else line + "\n")
    if kept != lines:
        atomic_write_text(out, "".join(kept))
    return rows


def check_output_file(path: str | Path, what: str = "output file") -> Path:
    """Check, before any work, that ``path`` can be written as a file (its folders may not exist yet)."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"the {what} '{p}' is a folder", hint="give a file path")
    if p.parent.exists() and not p.parent.is_dir():
        raise InputError(f"'{p.parent}' is a file, so the {what} '{p}' cannot be made under it")
    _probe_folder(p.parent if p.parent.exists() else _existing_ancestor(p, what), what)
    return p


def check_output_folder(path: str | Path, what: str = "output folder") -> Path:
    """Check, before any work, that ``path`` is or can become a writable folder."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"the {what} '{p}' is a file", hint="give a folder path")
    _probe_folder(p if p.exists() else _existing_ancestor(p, what), what)
    return p


def _new_file_mode(path: Path) -> int:
    """The mode a file written at ``path`` should get: the existing file's, or 0o666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` if the block succeeds.

    A crash or an exception leaves ``path`` as it was and no temporary file behind. The file gets
    the mode an ordinary write would give it (the user's umask), or keeps the mode of the file it
    replaces, instead of the 0600 of a temporary file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_ranges(settings: Any, what: str, **ranges: tuple[float | None, float | None]) -> None:
    """Each named setting must be a finite number in ``[low, high]`` (either bound None: open); clear errors.

    A low bound given as a negative zero (``-0.0``) means "strictly above 0".
    """
    import math

    for name, (low, high) in ranges.items():
        value = getattr(settings, name)
        strict = low == 0 and math.copysign(1.0, low) < 0
        bad = (not math.isfinite(value) or (low is not None and (value <= 0 if strict else value < low))
               or (high is not None and value > high))
        if bad:
            bounds = ("above 0" if strict else f"at least {low:g}") if low is not None else ""
            if high is not None:
                bounds += (" and " if bounds else "") + f"at most {high:g}"
            raise InputError(f"{what} '{name}' must be {bounds}, got {value!r}")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: str | Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[Any]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
