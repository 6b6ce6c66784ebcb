"""Per-item work on a Ray cluster (Moritz et al., "Ray: A distributed framework for emerging AI
applications", OSDI 2018): Ray's scheduler places the tasks, Ray's object store carries shared
inputs, Ray actors hold loaded models. Nothing here schedules anything itself.

Results come back in the order of the items (the driver waits on the oldest task first, keeping
a bounded number in flight), so a stage writes exactly what the local engine writes. Workers
import sarlang: on a cluster, install it (with its extras) on every node, or give Ray a
``runtime_env``.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sarlang.errors import InputError, SarlangError
from sarlang.files import require

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

#: Tasks in flight per CPU of the cluster: enough to keep every worker busy while the driver
#: writes results, few enough that a huge input list is not all submitted at once.
_IN_FLIGHT_PER_CPU = 2


def _ray() -> Any:
    return require("ray", "ray", "the Ray engine (ray)")


def connect(address: str | None) -> bool:
    """Join the cluster at ``address`` or start a local Ray instance (None); True when this call
    connected (so the caller disconnects), False when Ray was already running in this process.

    Raises:
        InputError: no Ray cluster at ``address``.
    """
    ray = _ray()
    if ray.is_initialized():
        return False
    if address:
        _check_reachable(address)
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                 configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot reach a Ray cluster at '{address}': {exc}",
                         hint="start one with `ray start --head`, pass its address (or 'auto' on a node of it), "
                              "or leave out --ray-address for a local one") from None
    if not address:
        _start_reaper()
    return True


_REAPER: list[Any] = []


def _start_reaper() -> None:
    """Watch the local instance just started (:mod:`sarlang.engines.reaper`): stopped with it if this process is killed."""
    import subprocess
    import sys

    if not os.path.isdir("/proc"):
        return
    _REAPER.append(subprocess.Popen([sys.executable, "-m", "sarlang.engines.reaper", str(os.getpid())], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True))  # a signal to the command's group must not stop it first


def _stop_reaper() -> None:
    while _REAPER:
        reaper = _REAPER.pop()
        try:
            reaper.stdin.write(b"done")
            reaper.stdin.close()
        except OSError:
            pass
        reaper.wait(timeout=10)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A clear error now for a cluster address nothing answers at (Ray itself retries for minutes)."""
    from urllib.parse import urlsplit

    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise InputError(f"'{address}' is not a Ray cluster address", hint="HOST:6379 (the head's GCS), ray://HOST:10001 (Ray Client) or auto")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"nothing answers at the Ray cluster address '{address}': {exc}",
                         hint="check the head node is up (`ray status` on it) and the port is reachable, or leave out "
                              "--ray-address for a local instance") from None


def disconnect() -> None:
    """Leave the cluster (a local instance this process started is stopped)."""
    _ray().shutdown()
    _stop_reaper()


def cluster_cpus() -> int:
    """The CPUs of the cluster Ray is connected to (at least 1)."""
    return max(1, int(_ray().cluster_resources().get("CPU", 1)))


def _unwrap(exc: Exception) -> BaseException:
    """The exception a worker raised, when it is one of ours (a clear error, not a Ray traceback)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, SarlangError) else exc


def _in_order(submit: Callable[[Any], Any], jobs: list[Any], window: int) -> Iterator[Any]:
    """Submit ``jobs`` as tasks, at most ``window`` in flight, and yield their results in order."""
    pending: collections.deque[Any] = collections.deque()
    for job in jobs:
        pending.append(submit(job))
        if len(pending) >= window:
            yield _result(pending.popleft(), pending)
    while pending:
        yield _result(pending.popleft(), pending)


def _result(ref: Any, pending: collections.deque[Any]) -> Any:
    """The value of a task; on its failure the tasks still ``pending`` are cancelled and the
    worker's error is raised (ours as such, not wrapped in Ray's)."""
    ray = _ray()
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        for other in pending:
            ray.cancel(other)
        raise _unwrap(exc) from None


def _enter(folder: str) -> None:
    """Work in the driver's folder, so relative paths mean there what they mean to the driver.

    Workers of a cluster start elsewhere; the inputs must be at the same paths on every node (a
    shared file system), and this says so when the folder is not there.
    """
    if os.getcwd() != folder:
        try:
            os.chdir(folder)
        except OSError:
            raise InputError(f"the Ray worker on {socket.gethostname()} does not see the folder '{folder}' the command runs in",
                             hint="Ray workers read inputs and write outputs at the driver's paths: put them on a file system "
                                  "every node mounts at the same path") from None


def _run_chunk(folder: str, func: Callable[[T], R], chunk: list[T]) -> list[R]:
    _enter(folder)
    return [func(item) for item in chunk]


def ray_map(func: Callable[[T], R], items: list[T], chunksize: int = 1) -> Iterator[R]:
    """``map(func, items)`` in order, as Ray tasks of ``chunksize`` items each."""
    ray = _ray()
    task = ray.remote(_run_chunk)
    chunks = [items[i : i + chunksize] for i in range(0, len(items), max(1, chunksize))]
    folder = os.getcwd()
    for results in _in_order(lambda chunk: task.remote(folder, func, chunk), chunks, _IN_FLIGHT_PER_CPU * cluster_cpus()):
        yield from results


#: The shared object a worker process read last, by object id: read once per process, not per task.
_SHARED_CACHE: dict[str, Any] = {}


def _run_shared(folder: str, func: Callable[[S, T], R], boxed: list[Any], item: T) -> R:
    import ray

    _enter(folder)
    ref = boxed[0]
    key = ref.hex()
    if key not in _SHARED_CACHE:
        _SHARED_CACHE.clear()
        _SHARED_CACHE[key] = ray.get(ref)
    return func(_SHARED_CACHE[key], item)


def ray_shared_map(func: Callable[[S, T], R], shared: S, items: list[T]) -> Iterator[R]:
    """``func(shared, item)`` in order, as Ray tasks; ``shared`` goes into the object store once."""
    ray = _ray()
    # boxed in a list, the reference is not resolved per task: each worker reads it once
    boxed = [ray.put(shared)]
    task = ray.remote(_run_shared)
    folder = os.getcwd()
    yield from _in_order(lambda item: task.remote(folder, func, boxed, item), items, _IN_FLIGHT_PER_CPU * cluster_cpus())


class _ModelWorker:
    """A Ray actor holding one loaded model."""

    def __init__(self, folder: str, load: Callable[[], Any]) -> None:
        self.folder = folder
        # one of our errors while loading is raised by the first call, as a task error whose
        # cause the driver can show (an actor that dies in __init__ reports only Ray's text)
        self.error: SarlangError | None = None
        try:
            _enter(folder)
            self.model = load()
        except SarlangError as exc:
            self.error = exc

    def run(self, func: Callable[[Any, T], R], item: T) -> R:
        if self.error is not None:
            raise self.error
        _enter(self.folder)
        return func(self.model, item)


def ray_model_map(load: Callable[[], S], func: Callable[[S, T], R], items: list[T], actors: int | None = None) -> Iterator[R]:
    """``func(model, item)`` in order, on ``actors`` Ray actors that each ``load()`` the model once
    (default: one per GPU, each holding one, on a cluster with GPUs; else one per CPU)."""
    if not items:
        return
    ray = _ray()
    from ray.util import ActorPool

    gpus = int(ray.cluster_resources().get("GPU", 0))
    n = max(1, min(actors or gpus or cluster_cpus(), len(items)))
    actor_class = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0)(_ModelWorker)
    folder = os.getcwd()
    workers = [actor_class.remote(folder, load) for _ in range(n)]
    try:
        # Ray's pool gives each item to the next idle actor and the results in the items' order
        results = ActorPool(workers).map(lambda actor, item: actor.run.remote(func, item), items)
        while True:
            try:
                yield next(results)
            except StopIteration:
                return
            except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
                raise _unwrap(exc) from None
    finally:
        for worker in workers:
            ray.kill(worker)
