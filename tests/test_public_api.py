"""The public API: every name of sarlang.__all__ resolves, lazily, to the library's object."""

from __future__ import annotations

import subprocess
import sys

import sarlang


def test_every_public_name_resolves() -> None:
    for name in sarlang.__all__:
        assert getattr(sarlang, name) is not None, name
    from sarlang.corpus.dataset import build_dataset
    from sarlang.eval.vqa import score_vqa

    assert sarlang.build_corpus is build_dataset and sarlang.score_vqa is score_vqa


def test_import_sarlang_stays_light() -> None:
    code = "import sys, sarlang; sarlang.Record; print(sorted(m for m in ('torch', 'transformers', 'rasterio', 'numba', 'scipy') if m in sys.modules))"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "[]"
