"""The built-in SAR vision-language model: small enough to train from scratch on a CPU.

It plays the role HCNet plays in SARLANG-1M and gives a user without a GPU or model weights
a model that handles all seven applications and captions:

- **image encoder**: four 3x3 convolution blocks (batch norm, GELU; 16, 32, 64 and ``width``
  channels; stride 2, the last stride 1 when ``grid_stride`` is 8) over the grey SAR picture
  resized to ``image_size`` pixels, giving a grid of (image_size / grid_stride)^2 feature
  vectors (8x8 for the default 128 pixels) with a fixed 2-D sine-cosine position code plus a
  learned one, so answers can depend on where things are;
- **object head** (when the training data has object labels, e.g. a build's ``objects.jsonl``):
  a 1x1 convolution giving, per category and grid cell, the expected number of object centres
  (a density map, trained with a counting loss; Lempitsky and Zisserman, NeurIPS 2010). The
  decoder then also sees one token per category: the word embedding of its name (the same
  vectors the question's words have), its estimated count, and where its objects lie. This
  object-centric memory is what makes counting and positioning learnable from a few thousand
  questions; without labels the model is the plain encoder-decoder;
- **text decoder**: a causal transformer decoder (``layers`` x ``heads``, width ``width``) that
  reads ``[BOS] prompt [SEP]`` and cross-attends to the image memory, then writes the answer;
- **tokenizer**: the words, numbers and punctuation of the training text (lower-cased), built
  at training time; rarer than ``min_count`` become ``<unk>``.

Trained with cross-entropy on the answer tokens (each record weighing the same, so a one-word
answer counts as much as a detailed caption) plus the object loss on ``object_views`` randomly
turned or mirrored labelled images per step (AdamW, cosine schedule). A batch holds all the
questions of a few images, so each image is encoded once per step. Deterministic for a seed on
the CPU, with a checkpoint after every epoch that ``train`` resumes from. Saved as
``model.safetensors`` + ``config.json`` + ``vocab.json``. Needs torch (the ``train`` extra).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, SarlangError
from sarlang.files import atomic_path, atomic_write_text, require
from sarlang.models.base import VisionLanguageModel
from sarlang.schema import Reject

ARCHITECTURE = "sarlang-baseline-v2"
SPECIALS = ("<pad>", "<bos>", "<sep>", "<eos>", "<unk>")
PAD, BOS, SEP, EOS, UNK = range(5)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[^\sa-z\d]")


def _torch() -> Any:
    return require("torch", "train", "the built-in model (torch)")


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineConfig:
        from sarlang.files import check_ranges, checked_settings

        config = cls(**checked_settings(cls, data, "model setting"))
        check_ranges(config, "model setting", image_size=(16, None), width=(1, None), layers=(1, None), heads=(1, None),
                     max_prompt_tokens=(1, None), max_answer_tokens=(1, None), min_count=(1, None), epochs=(1, None),
                     batch_size=(1, None), learning_rate=(-0.0, None), weight_decay=(0, None), object_loss_weight=(0, None),
                     object_views=(0, None))
        if config.architecture != ARCHITECTURE:
            raise InputError(f"this is not a {ARCHITECTURE} checkpoint (architecture '{config.architecture}')")
        if config.width % config.heads:
            raise InputError(f"width {config.width} must be a multiple of heads {config.heads}")
        if config.grid_stride not in (8, 16) or config.image_size % config.grid_stride:
            raise InputError(f"grid_stride must be 8 or 16 and divide image_size {config.image_size}, got {config.grid_stride}")
        if not all(isinstance(c, str) and c for c in config.categories):
            raise InputError("categories must be a list of category names")
        return config


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def detokenize(tokens: Sequence[str]) -> str:
    text = " ".join(tokens)
    text = re.sub(r" ([.,;:!?)\]])", r"\1", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    text = re.sub(r" ' ", "'", text)
    return text


class Vocabulary:
    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Sequence[str], min_count: int) -> Vocabulary:
        counts = Counter(t for text in texts for t in tokenize(text))
        words = sorted(t for t, c in counts.items() if c >= min_count)
        return cls([*SPECIALS, *words])

    def encode(self, text: str) -> list[int]:
        return [self.index.get(t, UNK) for t in tokenize(text)]

    def decode(self, ids: Sequence[int]) -> str:
        return detokenize([self.tokens[i] for i in ids if i >= len(SPECIALS) or i == UNK])


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


def _grid_code(side: int, width: int) -> Any:
    """Fixed 2-D sine-cosine position code of a side x side grid, (1, side^2, width): half the
    channels encode the row, half the column (as in MAE, He et al., CVPR 2022), so where a cell
    lies is known from the first step instead of being learned."""
    torch = _torch()
    quarter = width // 4
    frequencies = 1.0 / (100.0 ** (torch.arange(quarter, dtype=torch.float32) / max(quarter, 1)))
    rows, cols = torch.meshgrid(torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32), indexing="ij")
    parts = []
    for axis in (rows, cols):
        angles = axis.reshape(-1, 1) * frequencies[None]
        parts += [torch.sin(angles), torch.cos(angles)]
    code = torch.cat(parts, 1)
    return torch.nn.functional.pad(code, (0, width - code.shape[1]))[None]


MAX_COUNT = 31  # counts above this share one count embedding


def _category_names(categories: Sequence[str], vocab: Vocabulary) -> list[list[int]]:
    """Token ids of each category's name in the singular and the plural ("ship ships"), the words questions name it by."""
    from sarlang.vocabulary import plural

    return [vocab.encode(f"{c} {plural(c)}") or [UNK] for c in categories]


def _network(config: BaselineConfig, vocab: Vocabulary) -> Any:
    torch = _torch()
    nn = torch.nn
    classes = len(config.categories)
    vocab_size = len(vocab.tokens)

    class Encoder(nn.Module):
        """Image -> a grid of feature vectors (with their position code) and per-category object-centre densities."""

        def __init__(self) -> None:
            super().__init__()
            chans = [1, 16, 32, 64, config.width]
            strides = [2, 2, 2, 2 if config.grid_stride == 16 else 1]
            blocks = []
            for a, b, stride in zip(chans[:-1], chans[1:], strides):
                blocks += [nn.Conv2d(a, b, 3, stride=stride, padding=1), nn.BatchNorm2d(b), nn.GELU()]
            self.net = nn.Sequential(*blocks)
            side = config.image_size // config.grid_stride
            self.position = nn.Parameter(torch.zeros(1, side * side, config.width))  # learned, on top of the fixed grid code
            self.register_buffer("grid_code", _grid_code(side, config.width), persistent=False)
            if classes:
                self.density = nn.Conv2d(config.width, classes, 1)
                nn.init.constant_(self.density.bias, -4.0)  # start near "no objects" rather than 0.7 per cell

        def forward(self, images: Any) -> tuple[Any, Any]:
            grid = self.net(images)  # (batch, width, s, s)
            cells = grid.flatten(2).transpose(1, 2) + self.grid_code + self.position
            if not classes:
                return cells, None
            return cells, torch.nn.functional.softplus(self.density(grid))  # (batch, classes, s, s): expected object centres per cell

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = Encoder()
            self.embed = nn.Embedding(vocab_size, config.width, padding_idx=PAD)
            self.position = nn.Embedding(config.max_prompt_tokens + config.max_answer_tokens + 3, config.width)
            layer = nn.TransformerDecoderLayer(config.width, config.heads, 2 * config.width, dropout=0.1, batch_first=True, norm_first=True)
            self.decoder = nn.TransformerDecoder(layer, config.layers)
            self.norm = nn.LayerNorm(config.width)
            self.head = nn.Linear(config.width, vocab_size)
            if classes:
                names = _category_names(config.categories, vocab)
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

    return Model()


class BaselineModel(VisionLanguageModel):
    """The built-in model (see the module docstring)."""

    def __init__(self, config: BaselineConfig, vocab: Vocabulary) -> None:
        self.config = config
        self.vocab = vocab
        self.network = _network(config, vocab)

    # --- persistence --------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "model.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(tmp))
        atomic_write_text(out / "vocab.json", json.dumps(self.vocab.tokens, ensure_ascii=False))
        atomic_write_text(out / "config.json", json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> BaselineModel:
        from safetensors.torch import load_file

        path = Path(directory)
        for name in ("config.json", "vocab.json", "model.safetensors"):
            if not (path / name).exists():
                raise InputError(f"'{path}' is not a saved baseline model: {name} is missing")
        config = BaselineConfig.from_dict(json.loads((path / "config.json").read_text(encoding="utf-8")))
        vocab = Vocabulary(json.loads((path / "vocab.json").read_text(encoding="utf-8")))
        model = cls(config, vocab)
        try:
            model.network.load_state_dict(load_file(str(path / "model.safetensors")))
        except (RuntimeError, KeyError) as exc:
            raise InputError(f"the weights in '{path}' do not fit its config (another architecture?): {str(exc)[:200]}") from None
        model.network.eval()
        return model

    def info(self) -> dict[str, Any]:
        params = sum(p.numel() for p in self.network.parameters())
        return {"id": ARCHITECTURE, "parameters": int(params), "vocabulary": len(self.vocab.tokens), **asdict(self.config)}

    # --- inference ----------------------------------------------------------------------------

    def _prompt_ids(self, prompt: str) -> list[int]:
        return [BOS, *self.vocab.encode(prompt)[: self.config.max_prompt_tokens], SEP]

    def answer(self, batch: Sequence[tuple[str, str]]) -> list[str]:
        torch = _torch()
        self.network.eval()
        # records of one image come together: read and encode each image of the batch once
        paths = list(dict.fromkeys(path for path, _ in batch))
        row = {path: i for i, path in enumerate(paths)}
        images = torch.from_numpy(np.stack([load_picture(path, self.config.image_size) for path in paths]))[:, None]
        prompts = [self._prompt_ids(p) for _, p in batch]
        outputs: list[list[int]] = [[] for _ in batch]
        with torch.no_grad():
            memory = self.network.memory(*self.network.encoder(images))[torch.tensor([row[path] for path, _ in batch])]
            sequences = [list(p) for p in prompts]
            active = list(range(len(batch)))
            for _ in range(self.config.max_answer_tokens):
                if not active:
                    break
                longest = max(len(sequences[i]) for i in active)
                tokens = torch.full((len(active), longest), PAD, dtype=torch.long)
                for row, i in enumerate(active):
                    tokens[row, : len(sequences[i])] = torch.tensor(sequences[i])  # right-padded, as in training
                logits = _decode(self.network, memory[active], tokens)
                last = torch.tensor([len(sequences[i]) - 1 for i in active])
                next_ids = logits[torch.arange(len(active)), last].argmax(-1).tolist()
                still = []
                for i, token in zip(active, next_ids):
                    if token == EOS:
                        continue
                    sequences[i].append(token)
                    outputs[i].append(token)
                    still.append(i)
                active = still
        return [self.vocab.decode(o) for o in outputs]

    # --- training -----------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        examples: Sequence[tuple[str, str, str]],
        out_dir: str | Path,
        config: BaselineConfig,
        on_progress: Callable[[int, int, float], None] | None = None,
        objects: dict[str, list[tuple[str, float, float]]] | None = None,
    ) -> BaselineModel:
        """Train on (image path, prompt, answer) triples; resumes from ``out_dir/checkpoint.pt``.

        ``objects`` (image path -> (category, x, y) object centres as fractions of the image
        width and height) turns on the object head: it learns where each category's objects are,
        and the decoder reads those maps and per-category counts. Images missing from it add no
        object loss.
        """
        torch = _torch()
        if not examples:
            raise SarlangError("no training examples")
        if objects and not config.categories:
            config = replace(config, categories=sorted({c for found in objects.values() for c, _, _ in found}))
        if config.categories and not objects:
            raise InputError("categories are set but no object labels were given", hint="train on a build with objects.jsonl, or leave categories out")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        checkpoint_path = out / "checkpoint.pt"
        if checkpoint_path.exists():
            state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
            if state.get("config") != asdict(config):
                raise InputError(f"'{checkpoint_path}' was made with other settings", hint="use another output folder or delete the checkpoint")
            vocab = Vocabulary(state["vocab"])
        else:
            state = None
            vocab = Vocabulary.build([p for _, p, _ in examples] + [a for _, _, a in examples], config.min_count)
        model = cls(config, vocab)
        net = model.network
        paths = sorted({path for path, _, _ in examples})
        pictures = [load_picture(path, config.image_size) for path in paths]
        maps = _object_maps(objects or {}, config)
        object_maps = [maps.get(path) for path in paths]
        index = {path: i for i, path in enumerate(paths)}
        by_image: list[list[tuple[list[int], list[int]]]] = [[] for _ in paths]
        for path, prompt, answer in examples:
            by_image[index[path]].append((model._prompt_ids(prompt), vocab.encode(answer)[: config.max_answer_tokens] + [EOS]))
        labelled = [i for i, found in enumerate(object_maps) if found is not None]
        # a batch holds every question of a few images (about batch_size questions), so each image
        # is encoded once per batch; the object head learns from object_views other labelled images
        per_batch = max(1, round(config.batch_size * len(paths) / len(examples)))
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        steps_per_epoch = math.ceil(len(paths) / per_batch)
        total_steps = steps_per_epoch * config.epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, steps_per_epoch // 2)) * 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
        start_epoch = 0
        if state is not None:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
            start_epoch = state["epoch"]
        order_rng = np.random.default_rng(config.seed)
        for epoch in range(config.epochs):
            order = order_rng.permutation(len(paths))
            if epoch < start_epoch:
                continue  # keep the shuffles of finished epochs so a resumed run sees the same order
            net.train()
            running = 0.0
            for step in range(steps_per_epoch):
                shown = order[step * per_batch : (step + 1) * per_batch]
                rng = np.random.default_rng((config.seed, epoch, step))
                views = []
                if labelled and config.categories and config.object_loss_weight > 0:
                    for i in rng.choice(labelled, size=min(config.object_views, len(labelled)), replace=False):
                        views.append(dihedral_view(pictures[i], object_maps[i], int(rng.integers(4)), bool(rng.integers(2))))
                batch = _Batch([pictures[i] for i in shown], [(row, *pair) for row, i in enumerate(shown) for pair in by_image[i]], views)
                loss = _loss(net, batch, config.object_loss_weight)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                running += float(loss.detach())
                if on_progress:
                    on_progress(epoch * steps_per_epoch + step + 1, total_steps, running / (step + 1))
            state = {"config": asdict(config), "vocab": vocab.tokens, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(), "epoch": epoch + 1}
            with atomic_path(checkpoint_path) as tmp:
                torch.save(state, tmp)
        net.eval()
        model.save(out)
        return model


def _decode(net: Any, memory: Any, tokens: Any) -> Any:
    """The decoder over already-encoded images (the encoder runs once per batch, not per token)."""
    torch = _torch()
    length = tokens.shape[1]
    x = net.embed(tokens) + net.position(torch.arange(length))[None]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.bool)
    h = net.decoder(x, memory, tgt_mask=mask, tgt_key_padding_mask=tokens == PAD)
    return net.head(net.norm(h))


def _object_maps(objects: dict[str, list[tuple[str, float, float]]], config: BaselineConfig) -> dict[str, np.ndarray]:
    """Per image, the number of object centres of each category in each grid cell (categories x s x s)."""
    side = config.image_size // config.grid_stride
    index = {c: i for i, c in enumerate(config.categories)}
    maps = {}
    for path, found in objects.items():
        grid = np.zeros((len(index), side, side), dtype=np.float32)
        for category, x, y in found:
            if category in index:
                grid[index[category], min(side - 1, max(0, int(y * side))), min(side - 1, max(0, int(x * side)))] += 1
        maps[path] = grid
    return maps


def dihedral_view(image: np.ndarray, object_map: np.ndarray, turns: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """The image (rows x columns) and its object map (categories x cells x cells) turned by
    ``turns`` quarter turns and, if ``flip``, mirrored left-right: the same view of both."""
    image, object_map = np.rot90(image, turns), np.rot90(object_map, turns, axes=(1, 2))
    if flip:
        image, object_map = image[:, ::-1], object_map[:, :, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(object_map)


@dataclass
class _Batch:
    """One training step: images (grey, image_size square); their questions as (image row, prompt
    ids, answer ids); and turned or mirrored views of labelled images with their object maps."""

    images: list[np.ndarray]
    questions: list[tuple[int, list[int], list[int]]]
    views: list[tuple[np.ndarray, np.ndarray]]


def _length_groups(questions: list[tuple[int, list[int], list[int]]]) -> list[list[tuple[int, list[int], list[int]]]]:
    """Questions in groups of similar length, so short questions are not padded to a detailed caption's length."""
    ordered = sorted(questions, key=lambda q: len(q[1]) + len(q[2]))
    groups: list[list[tuple[int, list[int], list[int]]]] = []
    for question in ordered:
        size = len(question[1]) + len(question[2])
        if groups and size <= 1.5 * (len(groups[-1][0][1]) + len(groups[-1][0][2])) + 4:
            groups[-1].append(question)
        else:
            groups.append([question])
    return groups


def _loss(net: Any, batch: _Batch, object_weight: float) -> Any:
    """Cross-entropy on the answer tokens, each record weighing the same, plus the object head's error.

    The object loss is the squared error of the per-cell centre counts plus the absolute error
    of each category's total count (a density-map counting objective, as in Lempitsky and
    Zisserman, "Learning to count objects in images", NeurIPS 2010), on randomly turned or
    mirrored views of labelled images: the object maps turn with the image, so the encoder sees
    eight views of every training scene, while the answers (which name positions) stay with the
    upright image. Images and views go through the encoder together, so batch norm sees them all.
    """
    torch = _torch()
    shown = len(batch.images)
    cells, density = net.encoder(torch.from_numpy(np.stack(batch.images + [view for view, _ in batch.views]))[:, None])
    memory = net.memory(cells[:shown], None if density is None else density[:shown])
    total = torch.zeros(())
    for group in _length_groups(batch.questions):
        length = max(len(p) + len(a) for _, p, a in group)
        tokens = torch.full((len(group), length), PAD, dtype=torch.long)
        targets = torch.full((len(group), length), -100, dtype=torch.long)
        for row, (_, prompt, answer) in enumerate(group):
            sequence = prompt + answer
            tokens[row, : len(sequence)] = torch.tensor(sequence)
            # position t predicts token t + 1; only answer tokens (and EOS) are learned
            start = len(prompt) - 1
            targets[row, start : start + len(answer)] = torch.tensor(answer)
        logits = _decode(net, memory[torch.tensor([image for image, _, _ in group])], tokens)
        per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="none")
        total = total + (per_token.sum(1) / (targets != -100).sum(1)).sum()
    loss = total / len(batch.questions)
    if batch.views and density is not None:
        truth = torch.from_numpy(np.stack([found for _, found in batch.views]))
        guess = density[shown:]
        cells_error = ((guess - truth) ** 2).sum((1, 2, 3))
        totals_error = (guess.sum((2, 3)) - truth.sum((2, 3))).abs().sum(1)
        loss = loss + object_weight * (cells_error + totals_error).mean()
    return loss


def claims(spec: str) -> bool:
    """A folder written by ``sarlang train`` with ``model: baseline``."""
    from sarlang.models.base import read_model_config

    return not spec.startswith("api:") and str(read_model_config(Path(spec)).get("architecture", "")).startswith("sarlang-baseline")


def load(spec: str) -> BaselineModel:
    return BaselineModel.load(spec)


def train_job(job: Any, on_progress: Callable[[int, int, float], None] | None = None) -> BaselineModel:
    """The ``model: baseline`` trainer (see :class:`sarlang.models.run.TrainingJob`): the object
    head learns from the build's ``objects.jsonl`` unless ``objects: none``."""
    config = BaselineConfig.from_dict(job.settings)
    objects = _object_labels(job.config.get("objects", "auto"), job.records_file, job.root, {path for path, _, _ in job.examples})
    return BaselineModel.train(job.examples, job.out, config, on_progress=on_progress, objects=objects)


def _object_labels(setting: Any, records_file: Path, root: Path, images: set[str]) -> dict[str, list[tuple[str, float, float]]] | None:
    """Object centres (category, x / width, y / height) of the training images, from a build's objects.jsonl."""
    from sarlang.files import iter_jsonl, read_bytes

    if setting in (None, False, "none"):
        return None
    if not isinstance(setting, str):
        raise InputError(f"'objects' must be auto, none or a path to objects.jsonl, got {setting!r}")
    path = records_file.parent / "objects.jsonl" if setting == "auto" else (root / setting).resolve()
    if not path.exists():
        if setting == "auto":
            return None
        raise InputError(f"object labels '{path}' do not exist", hint="sarlang build writes objects.jsonl beside records.jsonl")
    labels: dict[str, list[tuple[str, float, float]]] = {}
    bad: list[Reject] = []
    rows = list(iter_jsonl(read_bytes(path), str(path), bad))
    if bad:
        raise InputError(f"'{path}' line {bad[0].row}: {bad[0].reason}")
    for number, row in rows:
        if not isinstance(row, dict):
            raise InputError(f"'{path}' line {number} is not a JSON object")
        try:
            image = str((path.parent / row["image"]).resolve())
            width, height = float(row["width"]), float(row["height"])
            found = [(str(o["category"]), (o["box"][0] + o["box"][2] / 2) / width, (o["box"][1] + o["box"][3] / 2) / height) for o in row["objects"]]
        except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as exc:
            raise InputError(f"'{path}' has a malformed row for '{row.get('image', '?')}': {exc!r}") from None
        if image in images:
            labels[image] = found
    return labels or None
