"""Killing a command's parent process leaves no worker processes behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import sarlang_cli


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found |= {int(p) for p in children.read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import numpy as np

    from sarlang.sar.io import write_png

    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for i in range(120):
        write_png(folder / f"p{i:03d}.png", (rng.random((384, 384)) * 255).astype(np.uint8))
    return folder


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists() or (os.cpu_count() or 1) < 2, reason="needs Linux /proc and two cores")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("command", ["build", "preprocess"])
def test_killing_a_command_leaves_no_workers(tmp_path: Path, sig: signal.Signals, command: str, pictures: Path) -> None:
    args = (["build", "--source", "simulate:600,size=32", "--out", str(tmp_path / "out"), "--no-captions"] if command == "build"
            else ["preprocess", str(pictures), "--out", str(tmp_path / "out")])
    proc = subprocess.Popen([sarlang_cli(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the build never started its worker processes"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]
