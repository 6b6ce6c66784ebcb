"""The built-in model's network: a convolutional image encoder with an object head, and a
transformer decoder that cross-attends to the image (see :mod:`sarlang.models.baseline`).

Importing this module imports torch (the ``train`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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


def category_names(categories: Sequence[str], vocab: Vocabulary, distinct: bool = False, plurals: bool = True) -> list[list[int]]:
    """Token ids of each category's name in the singular and the plural ("ship ships"), the words
    questions name it by (``plurals`` False: the singular alone, as answers name it). ``distinct``
    keeps only the tokens that tell the categories apart: in "class 3 target" and "class 7 target"
    only "3" and "7" do, and a mean over all six tokens leaves the decoder a third of a difference
    to match the question against."""
    from sarlang.vocabulary import plural

    names = [vocab.encode(f"{c} {plural(c)}" if plurals else c) or [UNK] for c in categories]
    if distinct and len(names) > 1:
        shared = set.intersection(*(set(n) for n in names))
        names = [[t for t in n if t not in shared] or n for n in names]
    return names


#: Glimpsed objects: per image, the (x, y) centres (fractions of width and height) of its
#: glimpses, and the category probabilities of all glimpses in that order, (n, classes).
Glimpses = tuple[list[list[tuple[float, float]]], Any]


def find_objects(counts: Any, threshold: float = 0.5, limit: int = 8) -> list[list[tuple[float, float]]]:
    """Object centres in a count map (batch, s, s) of expected object centres per cell: cells that
    hold more than any of their eight neighbours (ties go to the later cell) and whose 3x3
    neighbourhood holds at least ``threshold`` objects, at most ``limit`` per image (the fullest
    first), each placed at its neighbourhood's count-weighted centroid (x, y as fractions of the
    width and height)."""
    batch, side, _ = counts.shape
    c = counts.detach()[:, None]
    ones = torch.ones(1, 1, 3, 3)
    mass = torch.nn.functional.conv2d(c, ones, padding=1)
    # a count split evenly over two cells must give one peak, not two
    ranked = c + 1e-6 * torch.arange(side * side, dtype=c.dtype).reshape(1, 1, side, side) / (side * side)
    peaks = (ranked == torch.nn.functional.max_pool2d(ranked, 3, 1, 1)) & (mass >= threshold)
    centre = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    ys, xs = torch.meshgrid(centre, centre, indexing="ij")
    mx = torch.nn.functional.conv2d(c * xs, ones, padding=1) / mass.clamp_min(1e-12)
    my = torch.nn.functional.conv2d(c * ys, ones, padding=1) / mass.clamp_min(1e-12)
    found = []
    for b in range(batch):
        cells = peaks[b, 0].nonzero().tolist()
        cells.sort(key=lambda rc: -float(mass[b, 0, rc[0], rc[1]]))
        found.append([(float(mx[b, 0, r, q]), float(my[b, 0, r, q])) for r, q in cells[:limit]])
    return found


def glimpse_shares(share: Any, centres: list[list[tuple[float, float]]], probabilities: Any) -> Any:
    """Category shares (batch, classes, s, s) with each glimpse's category probabilities put on
    the cells within 1.5 cells of its centre (the nearest glimpse's where two reach one cell)."""
    side = share.shape[-1]
    centre = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    ys, xs = torch.meshgrid(centre, centre, indexing="ij")
    out, start = [], 0
    for b, found in enumerate(centres):
        if not found:
            out.append(share[b])
            continue
        where = torch.tensor(found, dtype=torch.float32)
        distance = torch.maximum((xs[..., None] - where[:, 0]).abs(), (ys[..., None] - where[:, 1]).abs())  # (s, s, k), in fractions
        nearest = distance.argmin(-1)
        near = distance.min(-1).values <= 1.5 / side
        chosen = probabilities[start : start + len(found)][nearest].permute(2, 0, 1)
        start += len(found)
        out.append(torch.where(near[None], chosen, share[b]))
    return torch.stack(out)


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

    def object_density(self, grid: Any, glimpses: Glimpses | None = None) -> Any:
        """(batch, classes, s, s): the expected number of object centres of each class per cell
        (the from-scratch encoder's config allows no glimpses)."""
        return torch.nn.functional.softplus(self.density(grid))

    def object_loss(self, guess: Any, truth: Any) -> Any:
        """Per image: the squared error of the per-cell centre counts plus the absolute error of
        each category's total (Lempitsky and Zisserman, NeurIPS 2010)."""
        cells_error = ((guess - truth) ** 2).sum((1, 2, 3))
        totals_error = (guess.sum((2, 3)) - truth.sum((2, 3))).abs().sum(1)
        return cells_error + totals_error

    def from_grid(self, grid: Any, glimpses: Glimpses | None = None) -> tuple[Any, Any]:
        """Grid -> grid cells (with their position code) and per-category object-centre densities
        (the categories of glimpsed objects from their glimpses, see :func:`glimpse_shares`)."""
        cells = grid.flatten(2).transpose(1, 2) + self.grid_code + self.position
        if not self.classes:
            return cells, None
        return cells, self.object_density(grid, glimpses)

    def forward(self, images: Any) -> tuple[Any, Any]:
        """Image -> grid cells (with their position code) and per-category object-centre densities."""
        return self.from_grid(self.grid(images))


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
        from sarlang.models.towers import DEPTHS, ImageTower

        # with glimpses the whole tower: the grid is read after block 10 (stride 16), glimpses
        # go on through the last blocks and the head (1280 channels, ImageNet's pooled features)
        self.tower = ImageTower("stride32" if config.glimpse_size else "stride16", pretrained=pretrained, frozen_blocks=config.frozen_blocks)
        self.grid_blocks, grid_channels, _ = DEPTHS["stride16"]
        self.trunk_channels = grid_channels
        self.frozen_blocks = config.frozen_blocks
        # normalised as the from-scratch encoder's output is: the tower's block outputs are
        # unbounded (std ~4 on SAR), which drove the object head into softplus's flat zero at once
        self.project = nn.Sequential(nn.Conv2d(grid_channels, config.width, 1), nn.BatchNorm2d(config.width), nn.GELU())
        self._add_grid_and_heads(config)

    def _add_object_head(self, config: BaselineConfig) -> None:
        """The object head in two parts: how many object centres a cell holds (any class), and
        which class they are (a softmax). A single per-class count regression collapsed to "no
        objects anywhere" on MSTAR, where classes look alike: zero is the safe answer for every
        class and softplus has no gradient there; a class softmax always has one."""
        self.objectness = nn.Conv2d(config.width, 1, 1)
        nn.init.constant_(self.objectness.bias, -4.0)
        self.classify = nn.Conv2d(config.width, self.classes, 1)
        if config.glimpse_size:
            self.glimpse_head = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.tower.channels, self.classes))

    @property
    def locked(self) -> bool:
        """Whether every block under the grid is frozen: the trunk's output of a picture never
        changes, so training computes it once (:meth:`trunk`, :meth:`grid_from_trunk`)."""
        return self.frozen_blocks >= self.grid_blocks + 1

    def trunk(self, images: Any) -> Any:
        """The tower's stem and blocks under the grid (112 channels, stride 16)."""
        return self.tower.trunk(images, self.grid_blocks)

    def grid_from_trunk(self, features: Any) -> Any:
        return self.project(features)

    def grid(self, images: Any) -> Any:
        return self.project(self.trunk(images))

    def counts(self, grid: Any) -> Any:
        """(batch, s, s): the expected number of object centres of any category per cell."""
        return torch.nn.functional.softplus(self.objectness(grid))[:, 0]

    def glimpse_logits(self, crops: Any) -> Any:
        """(n, classes) category logits of glimpses (n, 1, glimpse_size, glimpse_size): the whole
        tower (the grid's blocks, then the rest and the head), pooled, and a linear classifier."""
        features = self.tower.head(self.tower.blocks_from(self.tower.trunk(crops, self.grid_blocks), self.grid_blocks))
        return self.glimpse_head(features.mean((2, 3)))

    def object_density(self, grid: Any, glimpses: Glimpses | None = None) -> Any:
        share = torch.softmax(self.classify(grid), 1)
        if glimpses is not None:
            share = glimpse_shares(share, *glimpses)
        return torch.nn.functional.softplus(self.objectness(grid)) * share

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
            names = category_names(config.categories, vocab, config.distinct_names)
            longest = max(len(n) for n in names)
            self.register_buffer("names", torch.tensor([n + [PAD] * (longest - len(n)) for n in names]), persistent=False)
            self.name_tokens = [set(n) for n in names]
            if config.mark_mentions:
                self.mentioned = nn.Parameter(torch.randn(config.width) * 0.02)
            if config.mark_most:
                self.most = nn.Parameter(torch.randn(config.width) * 0.02)
            if config.copy_names:
                # where a category's name may be copied to: its distinct singular words, evenly
                spelled = category_names(config.categories, vocab, distinct=True, plurals=False)
                copy_to = torch.zeros(classes, vocab_size)
                for c, words in enumerate(spelled):
                    for word in words:
                        copy_to[c, word] += 1.0 / len(words)
                self.register_buffer("copy_to", copy_to, persistent=False)
                self.copy_query = nn.Linear(config.width, config.width)
                self.copy_gate = nn.Linear(config.width, 1)
                nn.init.constant_(self.copy_gate.bias, -2.0)  # start by writing from the vocabulary
            self.density_in = nn.Linear(classes, config.width)
            self.count_token = nn.Embedding(MAX_COUNT + 1, config.width)
            self.where = nn.Linear(config.width, config.width)
        if config.pairs:
            self.dates = nn.Embedding(3, config.width)  # earlier date, later date, their log-ratio
            # the change token: the share of the log-ratio beyond 3 dB (binned as the extent
            # answers are) and where it lies, as the category tokens carry a count and a place
            self.change_extent = nn.Embedding(len(CHANGE_BINS) + 1, config.width)
            self.change_where = nn.Linear(config.width, config.width)
        if config.mask_size:  # after every other part, so a model without masks initialises as it did
            from sarlang.models.baseline.masks import MaskHead

            self.mask_head = MaskHead()
            self.mask_size = config.mask_size

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
        if hasattr(self, "most"):
            # the category with the most estimated objects (at least a tenth of one), which "what is
            # the predominant category?" asks for: comparing ten count tokens by attention is hard
            totals = known.sum(2)
            top = torch.nn.functional.one_hot(totals.argmax(1), totals.shape[1]).float() * (totals.max(1).values >= 0.1).float()[:, None]
            slots = slots + top[..., None] * self.most
        return torch.cat([cells, slots], 1)

    def encode(self, images: Any, originals: Sequence[Any], glimpse_pixels: float, glimpse_size: int, views: int = 1,
               with_density: bool = False) -> Any:
        """Decoder memory of pictures (batch, 1, H, W) for answering: with glimpses, the objects the
        object head finds are cropped from the full-resolution grey ``originals`` and classified,
        each in ``views`` turned and mirrored views whose class probabilities are averaged (a
        vehicle's class does not depend on which way the image is turned). ``with_density``: the
        object-centre densities (batch, classes, s, s) too, as (memory, density)."""
        from sarlang.models.baseline.config import glimpse

        grid = self.encoder.grid(images)
        glimpses = None
        if glimpse_size and self.encoder.classes:
            centres = find_objects(self.encoder.counts(grid))
            crops = [glimpse(original, x, y, glimpse_pixels, glimpse_size) for original, found in zip(originals, centres) for x, y in found]
            if crops:
                glimpses = (centres, self.glimpse_probabilities(torch.from_numpy(np.stack(crops))[:, None], views))
        cells, density = self.encoder.from_grid(grid, glimpses)
        memory = self.memory(cells, density)
        return (memory, density) if with_density else memory

    def encode_pairs(self, earlier: Any, later: Any, ratios: Any, originals: Sequence[tuple[Any, Any]], glimpse_pixels: float,
                     glimpse_size: int, views: int = 1) -> Any:
        """Decoder memory of pairs for answering (:func:`pair_memory`): each date encoded as
        :meth:`encode` encodes a picture, the log-ratio pictures (batch, 1, H, W) by the grid alone."""
        first = self.encode(earlier, [o[0] for o in originals], glimpse_pixels, glimpse_size, views)
        second = self.encode(later, [o[1] for o in originals], glimpse_pixels, glimpse_size, views)
        cells, _ = self.encoder.from_grid(self.encoder.grid(ratios), None)
        return pair_memory(self, first, cells, second, ratios)

    def glimpse_probabilities(self, crops: Any, views: int = 1) -> Any:
        """(n, classes) category probabilities of glimpses (n, 1, size, size), the mean over their
        first ``views`` dihedral views (upright, mirrored, half-turned, half-turned mirrored, then
        the quarter turns)."""
        turned = [crops if not flip else crops.flip(-1) for flip in (False, True)]
        every = [t.rot90(k, (-2, -1)) for k in (0, 2, 1, 3) for t in turned][:views]
        logits = self.encoder.glimpse_logits(torch.cat(every))
        return torch.softmax(logits, 1).reshape(len(every), len(crops), -1).mean(0)


#: Upper bounds of the change token's bins of changed share (the extent answers' bins).
CHANGE_BINS = (0.005, 0.05, 0.15, 0.30)
#: Where the log-ratio picture (0.5 = no change, 40 dB full range) counts as changed: 3 dB.
CHANGE_DB = 3.0


def change_token(net: Any, ratios: Any) -> Any:
    """(batch, 1, width): what the log-ratio pictures (batch, 1, H, W; :func:`ratio_picture`)
    say at a glance: the share of pixels beyond :data:`CHANGE_DB` (its bin) and the position code
    of where they lie, learned embeddings of both (the change-detection evidence a decoder
    would otherwise have to pool from the grid itself)."""
    changed = ((ratios - 0.5).abs() * 40.0 > CHANGE_DB).float()
    side = int(round(net.encoder.grid_code.shape[1] ** 0.5))
    cells = torch.nn.functional.adaptive_avg_pool2d(changed, side).flatten(1)
    share = changed.mean((1, 2, 3))
    bins = torch.bucketize(share, torch.tensor(CHANGE_BINS, dtype=share.dtype))
    where = (cells / cells.sum(1, keepdim=True).clamp_min(1e-6)) @ net.encoder.grid_code[0]
    return (net.change_extent(bins) + net.change_where(where))[:, None]


def pair_memory(net: Any, earlier: Any, ratio: Any, later: Any, ratios: Any) -> Any:
    """The decoder memory of bi-temporal pairs: the earlier date's memory, the log-ratio picture's
    grid cells and its change token (:func:`change_token` of the pictures ``ratios``), and the
    later date's memory, each marked with a learned date embedding. The later date's category
    tokens stay last, where :func:`decode` finds the tokens it marks and points at; the earlier
    date's stand before them, so "how many ships appeared?" compares two counts."""
    dates = net.dates.weight
    return torch.cat([earlier + dates[0], ratio + dates[2], change_token(net, ratios) + dates[2], later + dates[1]], 1)


def mentions(net: Any, prompts: Sequence[Sequence[int]]) -> Any:
    """(questions, classes): 1 where the prompt names the category (any of its name's tokens), else 0;
    None when the network marks no mentions."""
    if not hasattr(net, "mentioned"):
        return None
    return torch.tensor([[float(bool(words & set(prompt))) for words in net.name_tokens] for prompt in prompts])


def decode(net: Any, memory: Any, tokens: Any, mentioned: Any = None) -> Any:
    """The decoder over already-encoded images (the encoder runs once per batch, not per token):
    log-probabilities of the next token (batch, length, vocabulary).

    ``mentioned`` (:func:`mentions` of the prompts) marks the category tokens the question
    names with a learned vector, so "is there a class 3 target?" points at class 3's token
    instead of having to match its name. With ``copy_names`` the next word is a mixture, as in
    a pointer-generator network (See et al., "Get to the point", ACL 2017): a learned gate
    weighs the vocabulary's softmax against pointing at one of the category tokens (attention
    over them), whose distinct name words then get the pointer's probability. Naming the
    category whose token is marked as the most numerous is then one attention away, instead of
    a mapping from each token's features to its word that ten classes' few examples must teach."""
    if mentioned is not None:
        classes = mentioned.shape[1]
        memory = torch.cat([memory[:, :-classes], memory[:, -classes:] + mentioned[..., None] * net.mentioned], 1)
    length = tokens.shape[1]
    x = net.embed(tokens) + net.position(torch.arange(length))[None]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.bool)
    h = net.norm(net.decoder(x, memory, tgt_mask=mask, tgt_key_padding_mask=tokens == PAD))
    words = torch.log_softmax(net.head(h), -1)
    if not hasattr(net, "copy_gate"):
        return words
    slots = memory[:, -net.copy_to.shape[0] :]
    pointer = torch.softmax(net.copy_query(h) @ slots.transpose(1, 2) / slots.shape[-1] ** 0.5, -1)  # (batch, length, classes)
    copied = torch.log((pointer @ net.copy_to).clamp_min(1e-30))
    gate = net.copy_gate(h)
    return torch.logaddexp(words + torch.nn.functional.logsigmoid(-gate), copied + torch.nn.functional.logsigmoid(gate))
