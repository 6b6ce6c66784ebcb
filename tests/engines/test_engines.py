"""Choosing an engine: names, addresses and a missing Ray are clear errors, before any work."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sarlang.engines import current, ordered_map, using
from sarlang.errors import InputError, MissingDependencyError
from tests.conftest import run_cli


def _square(x: int) -> int:
    return x * x


def test_local_engine_maps_in_order() -> None:
    assert current().name == "local"
    assert list(ordered_map(_square, range(40), chunksize=3)) == [x * x for x in range(40)]


def test_engine_names_and_addresses_are_checked() -> None:
    with pytest.raises(InputError, match="unknown engine"):
        with using("spark"):
            pass
    with pytest.raises(InputError, match="for the Ray engine"):
        with using("local", address="auto"):
            pass
    with pytest.raises(InputError, match="--ray-actors is for the Ray engine"):
        with using("local", actors=2):
            pass
    with pytest.raises(InputError, match="at least 1"):
        with using("ray", actors=0):
            pass
    assert current().name == "local"


def test_missing_ray_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match="ray"):
        with using("ray"):
            pass
    assert current().name == "local"


def test_unreachable_or_malformed_cluster_addresses_fail_fast(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (the ray extra)")
    refused = run_cli("build", "--source", "simulate:2,size=32", "--out", str(tmp_path / "b"), "--engine", "ray", "--ray-address", "127.0.0.1:1",
                      timeout=60)
    assert refused.returncode != 0 and "nothing answers at the Ray cluster address" in refused.stderr and "Traceback" not in refused.stderr
    malformed = run_cli("predict", "--model", "blobs:", "--records", "x.jsonl", "--out", str(tmp_path / "p.jsonl"), "--engine", "ray",
                        "--ray-address", "ray://:x", timeout=60)
    assert malformed.returncode != 0 and "is not a Ray cluster address" in malformed.stderr
    local = run_cli("scene", "x.tif", "--model", "blobs:", "--ray-address", "auto", timeout=60)
    assert local.returncode != 0 and "add --engine ray" in local.stderr
