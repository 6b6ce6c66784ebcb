"""The built-in model's network: a convolutional image encoder with an object head, and a
transformer decoder that cross-attends to the image (see :mod:`sarlang.models.baseline`).

Importing this module imports torch (the ``train`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sarlang.errors import SarlangError
from sarlang.files import require
from sarlang.models.baseline.config import BaselineConfig
from sarlang.models.baseline.text import PAD, UNK, Vocabulary

torch = require("torch", "train", "the built-in model (torch)")
nn = torch.nn

MAX_COUNT = 31  # counts above this share one count embedding


def grid_code(side: int, width: int) -> Any:
    """Fixed 2-D sine-cosine position code of a side x side grid, (1, side^2, width): half the
    channels encode the row, half the column (as in MAE, He et al., CVPR 2022), so where a cell
    lies is known from the first step instead of being learned."""
    quarter = width // 4
    frequencies = 1.0 / (100.0 ** (torch.arange(quarter, dtype=torch.float32) / max(quarter, 1)))
    rows, cols = torch.meshgrid(torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32), indexing="ij")
    parts = []
    for axis in (rows, cols):
        angles = axis.reshape(-1, 1) * frequencies[None]
        parts += [torch.sin(angles), torch.cos(angles)]
    code = torch.cat(parts, 1)
    return torch.nn.functional.pad(code, (0, width - code.shape[1]))[None]


def category_names(categories: Sequence[str], vocab: Vocabulary) -> list[list[int]]:
    """Token ids of each category's name in the singular and the plural ("ship ships"), the words questions name it by."""
    from sarlang.vocabulary import plural

    return [vocab.encode(f"{c} {plural(c)}") or [UNK] for c in categories]


class _GridEncoder(nn.Module):
    """What both encoders share: a feature grid of ``width`` channels at stride 16 (or 8) with its
    fixed sine-cosine code and a learned position, and the object head's density maps."""

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.classes = len(config.categories)

    def _add_grid_and_heads(self, config: BaselineConfig) -> None:
        """The position code and object head, made after the backbone (so a seed initialises
        the from-scratch encoder as it always has)."""
        side = config.image_size // config.grid_stride
        self.position = nn.Parameter(torch.zeros(1, side * side, config.width))  # learned, on top of the fixed grid code
        self.register_buffer("grid_code", grid_code(side, config.width), persistent=False)
        if self.classes:
            self._add_object_head(config)

    def _add_object_head(self, config: BaselineConfig) -> None:
        """One count map per category: softplus of a 1x1 convolution."""
        self.density = nn.Conv2d(config.width, self.classes, 1)
        nn.init.constant_(self.density.bias, -4.0)  # start near "no objects" rather than 0.7 per cell

    def grid(self, images: Any) -> Any:
        """(batch, width, s, s) features of (batch, 1, H, W) grey pictures in [0, 1]."""
        raise NotImplementedError

    def object_density(self, grid: Any) -> Any:
        """(batch, classes, s, s): the expected number of object centres of each class per cell."""
        return torch.nn.functional.softplus(self.density(grid))

    def object_loss(self, guess: Any, truth: Any) -> Any:
        """Per image: the squared error of the per-cell centre counts plus the absolute error of
        each category's total (Lempitsky and Zisserman, NeurIPS 2010)."""
        cells_error = ((guess - truth) ** 2).sum((1, 2, 3))
        totals_error = (guess.sum((2, 3)) - truth.sum((2, 3))).abs().sum(1)
        return cells_error + totals_error

    def forward(self, images: Any) -> tuple[Any, Any]:
        """Image -> grid cells (with their position code) and per-category object-centre densities."""
        grid = self.grid(images)
        cells = grid.flatten(2).transpose(1, 2) + self.grid_code + self.position
        if not self.classes:
            return cells, None
        return cells, self.object_density(grid)


class Encoder(_GridEncoder):
    """The from-scratch encoder: four 3x3 convolution blocks (batch norm, GELU)."""

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__(config)
        chans = [1, 16, 32, 64, config.width]
        strides = [2, 2, 2, 2 if config.grid_stride == 16 else 1]
        blocks = []
        for a, b, stride in zip(chans[:-1], chans[1:], strides):
            blocks += [nn.Conv2d(a, b, 3, stride=stride, padding=1), nn.BatchNorm2d(b), nn.GELU()]
        self.net = nn.Sequential(*blocks)
        self._add_grid_and_heads(config)

    def grid(self, images: Any) -> Any:
        return self.net(images)


class PretrainedEncoder(_GridEncoder):
    """The pretrained encoder: EfficientNet-Lite0's stride-16 grid (:class:`~sarlang.models.towers.ImageTower`)
    projected to ``width`` channels (1x1 convolution, batch norm, GELU).

    ``pretrained`` False builds the same network without reading the ImageNet weights (a saved
    model's weights replace them anyway).
    """

    def __init__(self, config: BaselineConfig, pretrained: bool = True) -> None:
        super().__init__(config)
        from sarlang.models.towers import ImageTower

        self.tower = ImageTower("stride16", pretrained=pretrained, frozen_blocks=config.frozen_blocks)
        # normalised as the from-scratch encoder's output is: the tower's block outputs are
        # unbounded (std ~4 on SAR), which drove the object head into softplus's flat zero at once
        self.project = nn.Sequential(nn.Conv2d(self.tower.channels, config.width, 1), nn.BatchNorm2d(config.width), nn.GELU())
        self._add_grid_and_heads(config)

    def _add_object_head(self, config: BaselineConfig) -> None:
        """The object head in two parts: how many object centres a cell holds (any class), and
        which class they are (a softmax). A single per-class count regression collapsed to "no
        objects anywhere" on MSTAR, where classes look alike: zero is the safe answer for every
        class and softplus has no gradient there; a class softmax always has one."""
        self.objectness = nn.Conv2d(config.width, 1, 1)
        nn.init.constant_(self.objectness.bias, -4.0)
        self.classify = nn.Conv2d(config.width, self.classes, 1)

    def grid(self, images: Any) -> Any:
        return self.project(self.tower(images))

    def object_density(self, grid: Any) -> Any:
        return torch.nn.functional.softplus(self.objectness(grid)) * torch.softmax(self.classify(grid), 1)

    def object_loss(self, guess: Any, truth: Any) -> Any:
        """Per image: counts of any class (squared cell error plus absolute total error), then the
        class of each labelled centre's cell (cross-entropy of the cell's class shares, weighted by
        how many centres of each class it holds). Per-class count errors would push the
        class-agnostic count down until the classes are told apart, and it collapses."""
        found, known = guess.sum(1), truth.sum(1)
        cells_error = ((found - known) ** 2).sum((1, 2))
        totals_error = (found.sum((1, 2)) - known.sum((1, 2))).abs()
        share = guess / found[:, None].clamp_min(1e-12)
        classes_error = -(truth * torch.log(share.clamp_min(1e-12))).sum((1, 2, 3)) / known.sum((1, 2)).clamp_min(1.0)
        return cells_error + totals_error + classes_error


class BaselineNetwork(nn.Module):
    """Encoder, word and position embeddings, decoder and output head; with categories, the
    object-centric memory (one token per category: name, estimated count, where)."""

    def __init__(self, config: BaselineConfig, vocab: Vocabulary, pretrained: bool = True) -> None:
        super().__init__()
        classes = len(config.categories)
        vocab_size = len(vocab.tokens)
        if config.encoder == "auto":
            raise SarlangError("the encoder must be resolved before the network is built (BaselineConfig.resolved)")
        self.encoder = Encoder(config) if config.encoder == "scratch" else PretrainedEncoder(config, pretrained)
        self.embed = nn.Embedding(vocab_size, config.width, padding_idx=PAD)
        self.position = nn.Embedding(config.max_prompt_tokens + config.max_answer_tokens + 3, config.width)
        layer = nn.TransformerDecoderLayer(config.width, config.heads, 2 * config.width, dropout=0.1, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, config.layers)
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, vocab_size)
        if classes:
            names = category_names(config.categories, vocab)
            longest = max(len(n) for n in names)
            self.register_buffer("names", torch.tensor([n + [PAD] * (longest - len(n)) for n in names]), persistent=False)
            self.density_in = nn.Linear(classes, config.width)
            self.count_token = nn.Embedding(MAX_COUNT + 1, config.width)
            self.where = nn.Linear(config.width, config.width)

    def memory(self, cells: Any, density: Any) -> Any:
        """Memory for the decoder from the encoder's output: the grid cells (plus what the
        object head sees in each) and, with an object head, one token per category: its
        name's word embedding (the same vectors the question's words have), its estimated
        count, and where its objects lie (the density-weighted mean position code)."""
        if density is None:
            return cells
        flat = density.flatten(2)  # (batch, classes, cells)
        cells = cells + self.density_in(flat.transpose(1, 2))
        known = flat.detach()
        counts = known.sum(2).round().clamp(0, MAX_COUNT).long()
        where = (known / known.sum(2, keepdim=True).clamp_min(1e-6)) @ self.encoder.grid_code[0]
        name_ids = self.names
        name = (self.embed(name_ids) * (name_ids != PAD)[..., None]).sum(1) / (name_ids != PAD).sum(1, keepdim=True)
        slots = name[None] + self.count_token(counts) + self.where(where)
        return torch.cat([cells, slots], 1)


def decode(net: Any, memory: Any, tokens: Any) -> Any:
    """The decoder over already-encoded images (the encoder runs once per batch, not per token)."""
    length = tokens.shape[1]
    x = net.embed(tokens) + net.position(torch.arange(length))[None]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.bool)
    h = net.decoder(x, memory, tgt_mask=mask, tgt_key_padding_mask=tokens == PAD)
    return net.head(net.norm(h))
