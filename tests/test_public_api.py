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


def test_public_functions_and_plugins_are_documented() -> None:
    import inspect

    from sarlang.formats.exports import EXPORTS
    from sarlang.formats.predictions import PREDICTION_FORMATS
    from sarlang.models.base import MODELS
    from sarlang.sources import SOURCES

    undocumented = []
    for name in sarlang.__all__:
        obj = getattr(sarlang, name)
        doc = inspect.getdoc(obj) or ""
        if inspect.isfunction(obj) and not ({"Parameters", "Args"} & set(doc.split()) and ("Returns" in doc or "Yields" in doc)):
            undocumented.append(f"sarlang.{name}: no Parameters/Returns sections")
        elif inspect.isclass(obj) and len(doc) < 40:
            undocumented.append(f"sarlang.{name}: no docstring")
    for registry, attributes in ((SOURCES, ("read",)), (EXPORTS, ("export",)), (PREDICTION_FORMATS, ("detect", "rows")),
                                 (MODELS, ("claims", "load"))):
        for plugin, found in registry.each():
            module = inspect.getmodule(found)
            for attribute in attributes:
                if not inspect.getdoc(getattr(module, attribute)):
                    undocumented.append(f"{registry.kind} {plugin}: {attribute} has no docstring")
    assert undocumented == []
