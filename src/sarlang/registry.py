"""One shape for every extension point: plug-ins found by name, loaded only when used.

A :class:`Plugins` registry is a package of the project in which each public module (its name
not starting with ``_``) is one plug-in named after the module (``_`` read as ``-``), holding an
entry point of an agreed name — so adding a label source or an export is adding one file. Third
parties add theirs without editing sarlang, through a Python entry-point group, e.g. in their
``pyproject.toml``::

    [project.entry-points."sarlang.sources"]
    sentinel1 = "mypackage.sentinel1:read"

Nothing is imported until a plug-in is used: listing names reads module names only, so the CLI
can show every choice in its help and still start in a fraction of a second.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from functools import cached_property
from importlib import metadata
from typing import Any

from sarlang.errors import InputError


class Entries:
    """Plug-ins that live side by side in one module: ``name -> "module:attribute"``, loaded when used.

    For extension points whose built-in members share a module (the speckle filters and their
    numba kernels); other packages add theirs through the entry-point group ``group``. ``normalize``
    maps what a user types to a name ("Gamma-Map" -> "gamma map").
    """

    def __init__(self, kind: str, group: str, entries: dict[str, str], normalize: Callable[[str], str] = str) -> None:
        self.kind = kind
        self.group = group
        self.normalize = normalize
        self._builtin = dict(entries)

    @cached_property
    def _external(self) -> dict[str, metadata.EntryPoint]:
        return {self.normalize(ep.name): ep for ep in metadata.entry_points(group=self.group) if self.normalize(ep.name) not in self._builtin}

    def names(self) -> tuple[str, ...]:
        return (*self._builtin, *self._external)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (self.normalize(name) in self._builtin or self.normalize(name) in self._external)

    def get(self, name: str) -> Any:
        key = self.normalize(name)
        if key in self._builtin:
            module, _, attribute = self._builtin[key].partition(":")
            return getattr(importlib.import_module(module), attribute)
        if key in self._external:
            return self._external[key].load()
        raise InputError(f"unknown {self.kind} '{name}'", hint=f"use one of {', '.join(self.names())}")


class Plugins:
    """The plug-ins of one kind (see the module docstring).

    Parameters
    ----------
    kind:
        What a plug-in is, in messages ("source kind", "export format").
    package:
        The package whose public modules are the built-in plug-ins.
    attribute:
        The name every plug-in module defines (a function or a class).
    group:
        The entry-point group third parties register theirs in.
    elsewhere:
        Built-in plug-ins whose module lives in another package, ``name -> module``, because it is
        first something else there (SARLANG-1M's text files are a records format that is also a
        source); named by string, so the package does not import it until it is used.
    """

    def __init__(self, kind: str, package: str, attribute: str, group: str, elsewhere: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.package = package
        self.attribute = attribute
        self.group = group
        self.elsewhere = dict(elsewhere or {})

    @cached_property
    def _builtin(self) -> dict[str, str]:
        path = importlib.import_module(self.package).__path__
        found = {m.name.replace("_", "-"): f"{self.package}.{m.name}" for m in pkgutil.iter_modules(path) if not m.name.startswith("_")}
        return dict(sorted({**found, **self.elsewhere}.items()))

    @cached_property
    def _external(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group) if ep.name not in self._builtin}

    def names(self) -> tuple[str, ...]:
        """Every plug-in's name: the built-in ones, then those of installed packages."""
        return (*self._builtin, *self._external)

    def __contains__(self, name: object) -> bool:
        return name in self._builtin or name in self._external

    def each(self) -> Iterator[tuple[str, Any]]:
        """(name, attribute) of every plug-in whose module defines the attribute (helper modules of the
        package that do not are passed over); imports them in name order."""
        for name in self._builtin:
            found = getattr(importlib.import_module(self._builtin[name]), self.attribute, None)
            if found is not None:
                yield name, found
        for name, entry in self._external.items():
            yield name, entry.load()

    def get(self, name: str) -> Any:
        """The plug-in called ``name``, imported now; an :class:`InputError` naming the choices otherwise."""
        if name in self._builtin:
            return getattr(importlib.import_module(self._builtin[name]), self.attribute)
        if name in self._external:
            return self._external[name].load()
        raise InputError(f"unknown {self.kind} '{name}'", hint=f"use one of {', '.join(self.names())}")
