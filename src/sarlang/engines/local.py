"""Per-item work spread over this machine's cores, in worker processes that die with their parent.

Workers are forked, so they inherit what the parent prepared (a build plan, a loaded table)
instead of having it pickled to them. Each worker asks the Linux kernel to send it SIGTERM when
its parent dies (``prctl(PR_SET_PDEATHSIG)``): a command killed with SIGTERM or SIGKILL leaves no
worker processes behind, busy or idle. Each worker also keeps numba to one thread, since the
processes already use every core.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to end this process when its parent dies (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request: nobody will send the signal
        os._exit(1)


def worker_init() -> None:
    """Initialiser of every worker process: die with the parent, one numba thread."""
    die_with_parent()
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:
        pass


def can_fork() -> bool:
    """Whether forking is safe here (the platform has it and no other thread is running)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def fork_map(func: Callable[[T], R], items: Iterable[T], workers: int | None = None, chunksize: int = 1) -> Iterator[R]:
    """``map(func, items)`` in order, on ``workers`` forked processes (default: all cores).

    Runs in this process when one worker would do or forking is not safe.
    """
    items = list(items)
    workers = min(workers or os.cpu_count() or 1, len(items))
    if workers < 2 or not can_fork():
        yield from map(func, items)
        return
    with multiprocessing.get_context("fork").Pool(workers, initializer=worker_init) as pool:
        yield from pool.imap(func, items, chunksize=chunksize)


_SHARED: Any = None


@contextlib.contextmanager
def sharing(shared: Any) -> Iterator[None]:
    """Make ``shared`` what :func:`call_shared` passes, for workers forked inside the block."""
    global _SHARED
    previous, _SHARED = _SHARED, shared
    try:
        yield
    finally:
        _SHARED = previous


def call_shared(func: Callable[[Any, T], R], item: T) -> R:
    """``func(shared, item)`` with the object of the enclosing :func:`sharing` block."""
    return func(_SHARED, item)
