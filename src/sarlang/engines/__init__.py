"""Where per-item work runs: this machine's cores (:mod:`sarlang.engines.local`, the default) or a
Ray cluster (:mod:`sarlang.engines.ray`, the ``ray`` extra).

Stages never schedule work themselves: they hand it to :func:`ordered_map` (stateless work:
preprocessing a file, checking an image, tiling a scene, generating a batch of records) or
:func:`model_map` (work that needs a loaded model: answering a batch of records, a tile of a
scene). Both give results **in the order of the items**, whichever engine runs them, and the
stage writes them as they come; so outputs are byte-identical across engines and a killed run
resumes the same way. The engine is chosen for a block of code::

    from sarlang.engines import using

    with using("ray", address="auto"):      # an existing cluster; None starts a local one
        build(...)
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from sarlang.errors import InputError

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

#: The engines ``--engine`` accepts.
ENGINES: tuple[str, ...] = ("local", "ray")


@dataclass(frozen=True)
class Engine:
    """An engine and its settings: ``address`` of a Ray cluster (None: start a local one) and
    ``actors``, how many Ray actors hold a model (None: one per GPU of the cluster, or one per CPU
    where it has none)."""

    name: str = "local"
    address: str | None = None
    actors: int | None = None


_CURRENT = Engine()


def current() -> Engine:
    """The engine work runs on now (``local`` unless inside :func:`using`)."""
    return _CURRENT


@contextlib.contextmanager
def using(name: str = "local", address: str | None = None, actors: int | None = None) -> Iterator[Engine]:
    """Run the stages called inside the block on engine ``name`` (``local`` or ``ray``).

    For Ray, ``address`` is an existing cluster's (``auto``, ``ray://host:10001``, ``host:6379``);
    None starts a local Ray instance on this machine's cores, shut down when the block ends.
    ``actors`` caps the Ray actors that each load a model (``predict``, ``scene``).

    Raises:
        InputError: an unknown engine, or an address given to the local engine.
        MissingDependencyError: ``ray`` asked for but not installed (the ``ray`` extra).
    """
    global _CURRENT
    if name not in ENGINES:
        raise InputError(f"unknown engine '{name}'", hint=f"use one of {', '.join(ENGINES)}")
    if (address or actors) and name != "ray":
        raise InputError(f"{'--ray-address' if address else '--ray-actors'} is for the Ray engine", hint="add --engine ray")
    if actors is not None and actors < 1:
        raise InputError(f"--ray-actors must be at least 1, got {actors}")
    engine = Engine(name, address or None, actors)
    previous = _CURRENT
    started = False
    if name == "ray":
        from sarlang.engines.ray import connect

        started = connect(engine.address)
    _CURRENT = engine
    try:
        yield engine
    finally:
        _CURRENT = previous
        if started:
            from sarlang.engines.ray import disconnect

            disconnect()


def ordered_map(func: Callable[[T], R], items: Iterable[T], chunksize: int = 1, workers: int | None = None) -> Iterator[R]:
    """``map(func, items)`` in order on the current engine; ``func`` must be a module-level function.

    ``workers`` caps the local engine's processes (default: every core); Ray places work itself.
    """
    if _CURRENT.name == "ray":
        from sarlang.engines.ray import ray_map

        return ray_map(func, list(items), chunksize)
    from sarlang.engines.local import fork_map

    return fork_map(func, items, workers=workers, chunksize=chunksize)


def shared_map(func: Callable[[S, T], R], shared: S, items: Iterable[T]) -> Iterator[R]:
    """``func(shared, item)`` for each item, in order, on the current engine.

    ``shared`` (a build's plan, say) reaches each worker once: forked workers inherit it, Ray
    puts it in the object store once and each worker process reads it once.
    """
    if _CURRENT.name == "ray":
        from sarlang.engines.ray import ray_shared_map

        return ray_shared_map(func, shared, list(items))
    return _local_shared(func, shared, list(items))


def _local_shared(func: Callable[[S, T], R], shared: S, items: list[T]) -> Iterator[R]:
    from sarlang.engines.local import call_shared, fork_map, sharing

    with sharing(shared):
        yield from fork_map(functools.partial(call_shared, func), items)


def model_map(load: Callable[[], S], func: Callable[[S, T], R], items: Iterable[T]) -> Iterator[R]:
    """``func(model, item)`` for each item, in order, on the current engine, ``model`` being what
    ``load()`` gives (e.g. ``functools.partial(load_model, spec)``).

    Locally ``load()`` runs once here. On Ray each actor (the engine's ``actors``; default one per
    GPU of the cluster with a GPU each, or one per CPU where it has none; at most one per item)
    calls it once and answers its share of the items; the results come back in the items' order.
    """
    if _CURRENT.name == "ray":
        from sarlang.engines.ray import ray_model_map

        return ray_model_map(load, func, list(items), _CURRENT.actors)
    model = load()
    return (func(model, item) for item in items)
