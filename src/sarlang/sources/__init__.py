"""Label formats and datasets read as :class:`~sarlang.schema.Scene` s, one module each.

Every source is a function ``(path, **options) -> Iterator[Scene | Reject]``: a scene for each
usable image, a :class:`~sarlang.schema.Reject` with the reason for each unusable one (or each
unusable label, which is left out of an otherwise usable scene). Adding a dataset means adding a
module and one line in :data:`SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sarlang.errors import InputError
from sarlang.schema import Reject, Scene

SceneStream = Iterator["Scene | Reject"]


def _coco(path: str, **options: Any) -> SceneStream:
    from sarlang.sources.coco import read_coco

    return read_coco(path, **options)


def _voc(path: str, **options: Any) -> SceneStream:
    from sarlang.sources.voc import read_voc

    return read_voc(path, **options)


def _masks(path: str, **options: Any) -> SceneStream:
    from sarlang.sources.masks import read_masks

    return read_masks(path, **options)


def _landcover(path: str, **options: Any) -> SceneStream:
    from sarlang.sources.landcover import read_landcover

    return read_landcover(path, **options)


def _simulate(path: str, **options: Any) -> SceneStream:
    from sarlang.sources.simulated import simulated_scenes

    return simulated_scenes(path, **options)


SOURCES: dict[str, Callable[..., SceneStream]] = {
    "coco": _coco,
    "voc": _voc,
    "masks": _masks,
    "landcover": _landcover,
    "simulate": _simulate,
}


def parse_source(spec: str) -> tuple[str, str]:
    """``KIND:PATH`` -> (kind, path), with a clear error for an unknown kind."""
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not path:
        raise InputError(f"source '{spec}' is not KIND:PATH", hint=f"e.g. voc:../shared/data/mstar_scenes; kinds: {', '.join([*SOURCES, 'sarlang1m'])}")
    if kind not in SOURCES and kind != "sarlang1m":
        raise InputError(f"unknown source kind '{kind}'", hint=f"use one of {', '.join([*SOURCES, 'sarlang1m'])}")
    return kind, path
