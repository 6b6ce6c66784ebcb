"""sarlang: vision-language modelling on SAR (synthetic aperture radar) imagery.

Implements the SARLANG-1M benchmark system (Wei et al., "SARLANG-1M: A Benchmark for
Vision-Language Modeling in SAR Image Understanding", IEEE TGRS 2026, arXiv:2504.03254): SAR
preprocessing, dataset construction, models and the benchmark's scoring protocol.

The public API is importable from here; each name is loaded on first use, so ``import sarlang``
stays light (numpy-class dependencies only)::

    import sarlang

    image = sarlang.read_sar("S1A_GRD_VV.tif")                       # SarImage with units
    summary = sarlang.build_corpus(["voc:mstar_scenes/"], "bench/")  # records, rejects, summary
    loaded = sarlang.load_eval_items("generated_predictions.jsonl", records_path="bench/", task="vqa")
    scores = sarlang.score_vqa(loaded.items, mode="strict")
    print(scores.overall.accuracy, scores.overall.ci95)
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("sarlang")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: public name -> "module:attribute", imported when first used
_PUBLIC = {
    # SAR pixels
    "read_sar": "sarlang.sar.io:read_sar",
    "speckle_filter": "sarlang.sar.filters:speckle_filter",
    "apply_recipe": "sarlang.sar.recipes:apply_recipe",
    "load_recipe": "sarlang.sar.recipes:load_recipe",
    "preprocess": "sarlang.sar.preprocess:preprocess",
    "filter_raster": "sarlang.sar.blocks:filter_raster",
    "tile_scene": "sarlang.sar.tiling:tile_scene",
    "simulate_scene": "sarlang.sar.simulate:simulate_scene",
    # benchmarks from labels
    "build_corpus": "sarlang.corpus.dataset:build_dataset",
    "BuildOptions": "sarlang.corpus.dataset:BuildOptions",
    "export_records": "sarlang.formats.exports:export_records",
    "load_records": "sarlang.formats.records:load_records",
    # models
    "load_model": "sarlang.models.base:load_model",
    "train_from_config": "sarlang.models.run:train_from_config",
    "predict_records": "sarlang.models.run:predict_records",
    # scoring
    "load_eval_items": "sarlang.formats.predictions:load_eval_items",
    "score_captions": "sarlang.eval.captions:score_captions",
    "score_vqa": "sarlang.eval.vqa:score_vqa",
    "make_judge": "sarlang.eval.judges:make_judge",
    "compare_score_files": "sarlang.eval.compare:compare_score_files",
    # core types
    "Record": "sarlang.schema:Record",
    "Scene": "sarlang.schema:Scene",
    "SceneObject": "sarlang.schema:SceneObject",
    "SarImage": "sarlang.schema:SarImage",
    "EvalItem": "sarlang.schema:EvalItem",
    "Reject": "sarlang.schema:Reject",
    "SarlangError": "sarlang.errors:SarlangError",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, _, attribute = _PUBLIC[name].partition(":")
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sarlang' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
