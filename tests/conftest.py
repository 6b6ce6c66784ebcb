"""Shared test helpers: the real CLI entry point, and markers for what a machine may lack."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"

HAS_JAVA = shutil.which("java") is not None
needs_java = pytest.mark.skipif(not HAS_JAVA, reason="Java is not installed (METEOR and the PTB tokenizer need it)")


def sarlang_cli() -> str:
    """The installed ``sarlang`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "sarlang"
    if not script.exists():
        pytest.fail("the sarlang console script is not installed; run `make test`, which installs the package")
    return str(script)


def run_cli(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sarlang_cli(), *args], capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def sim_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one small simulated benchmark of the suite, built once per test process: six 64-pixel
    scenes (seed 3: four in the train split, with varied object counts). Tests read it and write
    their outputs elsewhere."""
    from sarlang.corpus.dataset import build_dataset

    out = tmp_path_factory.mktemp("sim_bench")
    build_dataset(["simulate:6,size=64,seed=3"], out)
    return out
