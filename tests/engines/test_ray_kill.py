"""A command on the local Ray engine killed with SIGKILL leaves nothing it started running: its
watchdog (:mod:`sarlang.engines.reaper`) stops Ray's processes, which Ray alone leaves for about
a minute (its dashboard and runtime-env agents)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import sarlang_cli

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.isdir("/proc") or sys.platform != "linux", reason="reads /proc (Linux)")]
pytest.importorskip("ray", reason="ray is not installed (the ray extra)")


def _started(pid: int) -> dict[int, str]:
    from sarlang.engines.reaper import descendants

    return descendants(pid)


def _names(pids) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:80])
        except OSError:
            pass
    return out


def test_a_killed_ray_build_leaves_no_ray_process(tmp_path: Path) -> None:
    from sarlang.engines.reaper import _stat

    command = subprocess.Popen([sarlang_cli(), "build", "--source", "simulate:3000,size=64", "--out", str(tmp_path / "b"), "--engine", "ray"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    started: dict[int, str] = {}
    while time.monotonic() < deadline:
        started = _started(command.pid)
        names = " ".join(_names(started))
        if "raylet" in names and "ray::" in names:
            break
        assert command.poll() is None, command.stderr.read().decode()
        time.sleep(0.5)
    else:
        pytest.fail("the Ray instance did not start")
    time.sleep(2)  # its agents are up
    started.update(_started(command.pid))
    os.kill(command.pid, signal.SIGKILL)
    command.wait()
    deadline = time.monotonic() + 20
    alive = list(started)
    while time.monotonic() < deadline and alive:
        alive = [pid for pid, start in started.items() if (_stat(pid) or (0, ""))[1] == start]
        time.sleep(0.5)
    leftover = _names(alive)
    for pid in alive:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"still running 20 s after the kill: {leftover}"
