"""sarlang: vision-language modelling on SAR (synthetic aperture radar) imagery.

Implements the SARLANG-1M benchmark system (Wei et al., IEEE TGRS 2026, arXiv 2504.03254):
SAR preprocessing, dataset construction, models and the benchmark's scoring protocol.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sarlang")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
