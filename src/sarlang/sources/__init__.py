"""Label formats and datasets read as :class:`~sarlang.schema.Scene` s, one module each.

Every public module here is a source named after the module, and defines
``read(path, **options) -> Iterator[Scene | Reject]``: a scene for each usable image, a
:class:`~sarlang.schema.Reject` with the reason for each unusable one. Adding a dataset is adding
one module (``sarlang/sources/<kind>.py``); other packages add theirs through the entry-point
group ``sarlang.sources`` (see :mod:`sarlang.registry`). The build gives ``read`` two more
arguments when it names them: ``out_dir`` (the build folder, for a source that writes images:
the simulator) and ``notes`` (a list for remarks the build summary shows).

A source whose files hold finished question–answer records rather than labels yields
:class:`~sarlang.schema.Record` s instead of scenes: ``sarlang1m`` (SARLANG-1M's own text files,
read by :func:`sarlang.formats.sarlang1m.read`, which lives with that records format).

A source spec is ``KIND:PATH[,key=value...]``: trailing ``key=value`` parts that name a
parameter of the source's ``read`` are its options (``voc:scenes/,gsd=0.3,sensor=MSTAR``), with
values converted to the parameter's type.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from sarlang.errors import InputError
from sarlang.registry import Plugins
from sarlang.schema import Record, Reject, Scene

SceneStream = Iterator["Scene | Record | Reject"]

#: Every source: built-in modules, SARLANG-1M's text files, and installed plug-ins.
SOURCES = Plugins("source kind", "sarlang.sources", "read", "sarlang.sources", elsewhere={"sarlang1m": "sarlang.formats.sarlang1m"})

#: Arguments the build gives a source itself; never options of a spec.
_BUILD_ARGUMENTS = ("path", "out_dir", "notes")


def source_kinds() -> tuple[str, ...]:
    """The name of every source, for choices and help."""
    return SOURCES.names()


def parse_source(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``KIND:PATH[,key=value...]`` -> (kind, path, options), with clear errors for an unknown kind or option."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not rest:
        raise InputError(f"source '{spec}' is not KIND:PATH", hint=f"e.g. voc:../shared/data/mstar_scenes; kinds: {', '.join(source_kinds())}")
    if kind not in SOURCES:
        raise InputError(f"unknown source kind '{kind}'", hint=f"use one of {', '.join(source_kinds())}")
    parameters = inspect.signature(SOURCES.get(kind)).parameters
    parts = rest.split(",")
    options: dict[str, Any] = {}
    while len(parts) > 1 and "=" in parts[-1]:
        key, _, value = parts[-1].partition("=")
        key = key.strip()
        if key not in parameters or key in _BUILD_ARGUMENTS or key == next(iter(parameters), None):
            known = [p for p in list(parameters)[1:] if p not in _BUILD_ARGUMENTS]
            raise InputError(f"source '{spec}': unknown option '{key}'", hint=f"options of {kind}: {', '.join(known) or 'none'}")
        options[key] = _convert(spec, key, value.strip(), parameters[key].default)
        parts.pop()
    return kind, ",".join(parts), dict(reversed(options.items()))


def _convert(spec: str, key: str, value: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float) or (default is None and key == "gsd"):
            number = float(value)
            if not number > 0:
                raise ValueError(value)
            return number
    except ValueError:
        raise InputError(f"source '{spec}': option {key}={value} is not usable") from None
    if not isinstance(default, str):  # a mapping or list (VOC's names) cannot be written in a spec
        raise InputError(f"source '{spec}': option {key} cannot be given in a source spec", hint="call the source from Python for it")
    return value


def read_source(kind: str, path: str, options: dict[str, Any], out_dir: Any, notes: list[str] | None = None) -> SceneStream:
    """The scenes (or records) and rejects of one source; ``out_dir`` and ``notes`` go to a source that names them."""
    read = SOURCES.get(kind)
    parameters = inspect.signature(read).parameters
    given = {"out_dir": out_dir, "notes": notes}
    return read(path, **options, **{k: v for k, v in given.items() if k in parameters})
