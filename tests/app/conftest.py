"""What the web-page tests share: a tiny trained model, free ports, and ``sarlang serve`` started
as a user types it, in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import sarlang_cli


@pytest.fixture(scope="package")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small simulated build and a built-in model trained on it for one epoch (scratch encoder)."""
    pytest.importorskip("torch", reason="torch is not installed (the train extra)")
    from sarlang.corpus.dataset import build_dataset
    from sarlang.models.run import train_from_config

    root = tmp_path_factory.mktemp("serve")
    build_dataset(["simulate:8,size=64,seed=5"], root / "build")
    train_from_config({"model": "baseline", "records": str(root / "build" / "records.jsonl"), "out": str(root / "model"), "epochs": 1,
                       "batch_size": 16, "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch"})
    return {"build": root / "build", "model": root / "model"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until ``url`` answers 200 (the process must stay alive meanwhile)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the server exited with {process.returncode} before answering:\n{out}\n{err}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def serving(args: list[str], cwd: Path, env: dict[str, str] | None = None, command: list[str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``sarlang serve ARGS --port P`` (or ``command``, which must serve on ``P``: it is given
    as ``{port}``) in its own process group, as typed in a terminal; yields (URL, process) once
    the page answers; stops it with SIGTERM to the group, as a terminal's Ctrl+C reaches
    everything it started, and checks it exited 0 without a traceback."""
    port = free_port()
    argv = [c.format(port=port) for c in command] if command else [sarlang_cli(), "serve", *args, "--port", str(port)]
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, **(env or {})})
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            pytest.fail(f"the server did not stop within 60 s of SIGTERM:\n{out}\n{err}")
    process.stdout_text, process.stderr_text = out, err  # type: ignore[attr-defined]
    assert "Traceback" not in out + err, out + err
    assert process.returncode == 0, (process.returncode, out, err)
