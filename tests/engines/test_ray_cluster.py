"""``--ray-address``: a build on an existing Ray cluster (a head node started with ``ray start``
on this machine, with token authentication) writes what the local engine writes, with relative
paths meaning what they mean to the command (cluster workers start in another folder)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.engines.test_ray import same_tree

pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="ray is not installed (the ray extra)")

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: what the head and its clients share: the cluster's token
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def head() -> Iterator[str]:
    """A one-node Ray cluster of 2 CPUs; its GCS address."""
    port = _free_port()
    env = ENV
    started = subprocess.run([RAY, "start", "--head", "--num-cpus", "2", "--port", str(port), "--node-ip-address", "127.0.0.1",
                              "--include-dashboard", "false", "--disable-usage-stats"], capture_output=True, text=True, timeout=180, env=env)
    if started.returncode != 0:
        pytest.fail(f"ray start failed: {started.stderr[-2000:]}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=180, env=env)


def test_build_on_an_existing_cluster_matches_the_local_engine(head: str, tmp_path: Path) -> None:
    for name, extra in (("local", []), ("cluster", ["--engine", "ray", "--ray-address", head])):
        result = run_cli("build", "--source", "simulate:12,size=80,seed=4", "--out", "out", *extra, cwd=tmp_path, env=ENV)
        assert result.returncode == 0, result.stderr
        (tmp_path / "out").rename(tmp_path / name)
    same_tree(tmp_path / "local", tmp_path / "cluster")
