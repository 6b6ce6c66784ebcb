"""A watchdog for the local Ray instance a command starts: when the command dies without
stopping it (SIGKILL, a crash), the watchdog stops what it started.

Ray's own clean-up after its driver is killed leaves two agents (``ray::DashboardAgent``,
``ray::RuntimeEnvAgent``) running for about a minute (measured here on Ray 2.60). The command
starts this module as ``python -m sarlang.engines.reaper PID`` with a pipe on its standard
input; while the pipe is open it notes, twice a second, the processes descended from ``PID``
(Ray's GCS, raylet, agents and workers). When the command disconnects it writes ``done`` and
the watchdog exits; when the pipe closes without it (the command is gone), the watchdog sends
SIGTERM to the processes it noted, then SIGKILL to any left after 3 seconds. Linux only (it
reads ``/proc``); elsewhere it is not started.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

#: Seconds between two looks at the process tree, and between SIGTERM and SIGKILL.
PERIOD = 0.5
GRACE = 3.0


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[19]


def descendants(root: int) -> dict[int, str]:
    """Processes descended from ``root`` (not ``root``), by pid, with their start time."""
    parents: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = _stat(int(name))
            if found is not None:
                parents.setdefault(found[0], []).append(int(name))
                started[int(name)] = found[1]
    out: dict[int, str] = {}
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in out and pid in started:
            out[pid] = started[pid]
            todo += parents.get(pid, [])
    return out


def _signal(noted: dict[int, str], sig: int) -> list[int]:
    alive = []
    for pid, start in noted.items():
        found = _stat(pid)
        if found is not None and found[1] == start:  # the same process, not a new one with a reused pid
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except OSError:
                pass
    return alive


def watch(root: int) -> None:
    """Note ``root``'s descendants until standard input says ``done`` (exit) or closes (stop them)."""
    me = os.getpid()
    noted: dict[int, str] = {}
    stdin = sys.stdin.buffer
    root_start = (_stat(root) or (0, ""))[1]
    open_pipe = True
    while True:
        ready, _, _ = select.select([stdin] if open_pipe else [], [], [], PERIOD)
        if ready:
            data = os.read(stdin.fileno(), 64)
            if data.startswith(b"done"):
                return
            open_pipe = bool(data)  # closed: the command is gone, or a process it forked still holds the pipe
        # the command's own process gone is what counts (a forked child may keep the pipe open)
        if not open_pipe or (_stat(root) or (0, ""))[1] != root_start:
            break
        noted.update({pid: start for pid, start in descendants(root).items() if pid != me})
    noted.pop(me, None)
    if _signal(noted, signal.SIGTERM):
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and any(_stat(p) is not None and _stat(p)[1] == s for p, s in noted.items()):
            time.sleep(0.1)
        _signal(noted, signal.SIGKILL)


if __name__ == "__main__":  # pragma: no cover - run as a process by sarlang.engines.ray
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole group: the command stops Ray itself
    watch(int(sys.argv[1]))
