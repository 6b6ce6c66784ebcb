"""The built-in model's network: a convolutional image encoder with an object head, and a
transformer decoder that cross-attends to the image (see :mod:`sarlang.models.baseline`).

Importing this module imports torch (the ``train`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


class Encoder(nn.Module):
    """Image -> a grid of feature vectors (with their position code) and per-category object-centre densities."""

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        classes = len(config.categories)
        self.classes = classes
        chans = [1, 16, 32, 64, config.width]
        strides = [2, 2, 2, 2 if config.grid_stride == 16 else 1]
        blocks = []
        for a, b, stride in zip(chans[:-1], chans[1:], strides):
            blocks += [nn.Conv2d(a, b, 3, stride=stride, padding=1), nn.BatchNorm2d(b), nn.GELU()]
        self.net = nn.Sequential(*blocks)
        side = config.image_size // config.grid_stride
        self.position = nn.Parameter(torch.zeros(1, side * side, config.width))  # learned, on top of the fixed grid code
        self.register_buffer("grid_code", grid_code(side, config.width), persistent=False)
        if classes:
            self.density = nn.Conv2d(config.width, classes, 1)
            nn.init.constant_(self.density.bias, -4.0)  # start near "no objects" rather than 0.7 per cell

    def forward(self, images: Any) -> tuple[Any, Any]:
        grid = self.net(images)  # (batch, width, s, s)
        cells = grid.flatten(2).transpose(1, 2) + self.grid_code + self.position
        if not self.classes:
            return cells, None
        return cells, torch.nn.functional.softplus(self.density(grid))  # (batch, classes, s, s): expected object centres per cell


class BaselineNetwork(nn.Module):
    """Encoder, word and position embeddings, decoder and output head; with categories, the
    object-centric memory (one token per category: name, estimated count, where)."""

    def __init__(self, config: BaselineConfig, vocab: Vocabulary) -> None:
        super().__init__()
        classes = len(config.categories)
        vocab_size = len(vocab.tokens)
        self.encoder = Encoder(config)
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
