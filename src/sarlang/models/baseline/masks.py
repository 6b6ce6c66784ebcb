"""The built-in model's mask head: which pixels belong to objects, for mask answers.

A small decoder over the pretrained tower's feature grids (EfficientNet-Lite0 after blocks 3, 5
and 11: strides 4, 8 and 16, 24, 40 and 112 channels), each projected to 32 channels, the
coarser ones upsampled and added, in the manner of a feature pyramid (Lin et al., CVPR 2017),
then two 3x3 convolutions and a 1x1 to one logit per stride-4 cell; the probabilities are
upsampled (bilinear) to the image. The tower sees the picture at its own size (the longer side
at most ``mask_size`` pixels; whole multiples of 16), not the 128-pixel picture the text model
sees, because a ship of HRSID is a few pixels wide there.

It is trained after the text model, on the masks of the training split's referring-segmentation
records (each image's target: the union of its records' masks), with the tower frozen, so every
picture's features are computed once: binary cross-entropy against the share of each cell the
masks cover, plus a soft Dice loss (Milletari et al., 3DV 2016), Adam for ``mask_steps`` steps of
one image each.

Answering a mask question, the head's mask (probability 0.5 or more) is cut into 8-connected
parts; the object head's peaks, chosen as for grounding (the leftmost, the one nearest the top
left ...), pick the part under (or nearest) each chosen centre; "the largest" and "the smallest"
pick by the parts' areas; "all" takes every part of the category. The parts are written as the
question's convention writes masks (:mod:`sarlang.formats.masks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

#: Tower blocks whose outputs the head reads (strides 4, 8, 16) and their channels.
LEVELS = ((3, 24), (5, 40), (11, 112))
#: Parts of the mask smaller than this many pixels of the image are noise.
MIN_PART_PIXELS = 4


class MaskHead(nn.Module):
    """Stride-4 object-pixel logits from the tower's three grids (see the module docstring)."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for _, c in LEVELS)
        self.smooth = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(channels, channels, 3, padding=1), nn.GELU())
        self.out = nn.Conv2d(channels, 1, 1)
        nn.init.constant_(self.out.bias, -3.0)  # start near "no object here": most pixels are sea

    def forward(self, levels: Sequence[Any]) -> Any:
        """(batch, 1, H/4, W/4) logits of the three grids (strides 4, 8, 16)."""
        x = self.lateral[2](levels[2])
        for k in (1, 0):
            x = nn.functional.interpolate(x, size=levels[k].shape[-2:], mode="bilinear", align_corners=False) + self.lateral[k](levels[k])
        return self.out(self.smooth(x))


def tower_levels(tower: Any, picture: Any) -> list[Any]:
    """The tower's grids after blocks 3, 5 and 11 of a (1, 1, H, W) grey picture in [0, 1]."""
    x = (picture.expand(-1, 3, -1, -1) - tower.mean) / tower.std
    x = tower.stem(x)
    out, start = [], 0
    for stop, _ in LEVELS:
        x = tower.blocks_from(x, start, stop)
        out.append(x)
        start = stop
    return out


def mask_picture(grey: np.ndarray, mask_size: int) -> np.ndarray:
    """The picture the mask head sees: float32 in [0, 1], the longer side at most ``mask_size``
    pixels, each side a whole multiple of 16 (at least 64)."""
    from PIL import Image

    h, w = grey.shape
    scale = min(1.0, mask_size / max(h, w))
    th, tw = (max(64, int(round(v * scale / 16)) * 16) for v in (h, w))
    if (th, tw) == (h, w):
        return grey.astype(np.float32) / 255.0
    return np.asarray(Image.fromarray(grey).resize((tw, th), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0


def _cell_target(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The share of each of ``shape`` cells the mask covers (area averaging)."""
    from PIL import Image

    return np.asarray(Image.fromarray(mask.astype(np.float32)).resize((shape[1], shape[0]), Image.Resampling.BOX), dtype=np.float32)


def train_mask_head(net: Any, pictures: Sequence[np.ndarray], targets: Sequence[np.ndarray], steps: int, seed: int = 0,
                    on_progress: Callable[[int, int, float], None] | None = None) -> float:
    """Train ``net.mask_head`` on grey pictures (uint8, original size) and their object masks
    (bool, the same size) with the tower frozen; returns the last running loss."""
    tower = net.encoder.tower
    head = net.mask_head
    tower.eval()
    features, cells = [], []
    with torch.no_grad():
        for grey, mask in zip(pictures, targets):
            levels = tower_levels(tower, torch.from_numpy(mask_picture(grey, net.mask_size))[None, None])
            features.append([f.detach() for f in levels])
            cells.append(torch.from_numpy(np.array(_cell_target(mask, tuple(levels[0].shape[-2:]))))[None, None])
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / max(1, steps))))
    head.train()
    running = 0.0
    for step in range(steps):
        k = int(torch.randint(len(features), (1,), generator=generator))
        turns, flip = int(torch.randint(4, (1,), generator=generator)), bool(torch.randint(2, (1,), generator=generator))

        def view(x: Any) -> Any:  # the grids turned and mirrored as the picture would be: features of a turned sea are alike
            x = torch.rot90(x, turns, (2, 3))
            return torch.flip(x, (3,)) if flip else x

        logits = head([view(f) for f in features[k]])
        target = view(cells[k])
        bce = nn.functional.binary_cross_entropy_with_logits(logits, target)
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        loss = bce + dice
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        running = 0.9 * running + 0.1 * float(loss.detach()) if step else float(loss.detach())
        if on_progress:
            on_progress(step + 1, steps, running)
    head.eval()
    return running


def object_probabilities(net: Any, grey: np.ndarray) -> np.ndarray:
    """(rows, columns) probability that each pixel of the picture belongs to an object."""
    with torch.no_grad():
        levels = tower_levels(net.encoder.tower, torch.from_numpy(mask_picture(grey, net.mask_size))[None, None])
        logits = net.mask_head(levels)
        full = nn.functional.interpolate(logits, size=grey.shape, mode="bilinear", align_corners=False)
    return torch.sigmoid(full)[0, 0].numpy()


def mask_parts(probabilities: np.ndarray, threshold: float = 0.5) -> list[np.ndarray]:
    """The 8-connected parts of the thresholded mask (bool, image-sized), largest first."""
    from scipy import ndimage

    labels, count = ndimage.label(probabilities >= threshold, structure=np.ones((3, 3)))
    if not count:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    order = [int(k) for k in np.argsort(-sizes) if sizes[k] >= MIN_PART_PIXELS]
    return [labels == k + 1 for k in order]


def pick_parts(parts: Sequence[np.ndarray], centres: Sequence[tuple[float, float]], text: str, every: bool) -> list[np.ndarray]:
    """The parts a mask question asks for: every part (``every``); else by area ("largest",
    "smallest"), else the part under (or nearest) the first chosen centre (fractions of the width
    and height)."""
    if not parts:
        return []
    if every:
        return list(parts)
    if "largest" in text:
        return [parts[0]]
    if "smallest" in text:
        return [parts[-1]]
    height, width = parts[0].shape
    if not centres:
        return [parts[0]]
    x, y = centres[0]
    col, row = min(width - 1, int(x * width)), min(height - 1, int(y * height))
    for part in parts:
        if part[row, col]:
            return [part]
    distances = []
    for part in parts:
        rows, cols = np.nonzero(part)
        distances.append(float(np.min((rows - row) ** 2 + (cols - col) ** 2)))
    return [parts[int(np.argmin(distances))]]
