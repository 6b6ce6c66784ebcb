"""Label formats and datasets read as :class:`~sarlang.schema.Scene` s, one module each.

Every public module here is a source named after the module, and defines
``read(path, **options) -> Iterator[Scene | Reject]``: a scene for each usable image, a
:class:`~sarlang.schema.Reject` with the reason for each unusable one. Adding a dataset is adding
one module (``sarlang/sources/<kind>.py``); other packages add theirs through the entry-point
group ``sarlang.sources`` (see :mod:`sarlang.registry`). A source that writes files (the
simulator) also takes ``out_dir``.

A source spec is ``KIND:PATH[,key=value...]``: trailing ``key=value`` parts that name a
parameter of the source's ``read`` are its options (``voc:scenes/,gsd=0.3,sensor=MSTAR``), with
values converted to the parameter's type. ``sarlang1m`` (SARLANG-1M's own text files) is not a
source of scenes but of finished records; the build reads it itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from sarlang.errors import InputError
from sarlang.registry import Plugins
from sarlang.schema import Reject, Scene

SceneStream = Iterator["Scene | Reject"]

#: Every source of scenes: built-in modules and installed plug-ins.
SOURCES = Plugins("source kind", "sarlang.sources", "read", "sarlang.sources")

#: Kinds the build reads as finished records instead of scenes.
RECORD_SOURCES = ("sarlang1m",)


def source_kinds() -> tuple[str, ...]:
    return (*SOURCES.names(), *RECORD_SOURCES)


def parse_source(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``KIND:PATH[,key=value...]`` -> (kind, path, options), with clear errors for an unknown kind or option."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not rest:
        raise InputError(f"source '{spec}' is not KIND:PATH", hint=f"e.g. voc:../shared/data/mstar_scenes; kinds: {', '.join(source_kinds())}")
    if kind not in SOURCES and kind not in RECORD_SOURCES:
        raise InputError(f"unknown source kind '{kind}'", hint=f"use one of {', '.join(source_kinds())}")
    if kind in RECORD_SOURCES or kind == "simulate":  # their PATH is their own spec
        return kind, rest, {}
    parameters = inspect.signature(SOURCES.get(kind)).parameters
    parts = rest.split(",")
    options: dict[str, Any] = {}
    while len(parts) > 1 and "=" in parts[-1]:
        key, _, value = parts[-1].partition("=")
        key = key.strip()
        if key not in parameters or key in ("path", "out_dir"):
            known = [p for p in parameters if p not in ("path", "out_dir")]
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


def read_source(kind: str, path: str, options: dict[str, Any], out_dir: Any) -> SceneStream:
    """The scenes and rejects of one source (``out_dir`` is given to sources that write files)."""
    read = SOURCES.get(kind)
    if "out_dir" in inspect.signature(read).parameters:
        options = {**options, "out_dir": out_dir}
    return read(path, **options)
