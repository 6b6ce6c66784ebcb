"""The built-in SAR vision-language model: small enough to train from scratch on a CPU.

It plays the role HCNet plays in SARLANG-1M and gives a user without a GPU or model weights
a model that handles all seven applications and captions:

- **image encoder**: four stride-2 3x3 convolution blocks (batch norm, GELU; 16, 32, 64 and
  ``width`` channels) over the grey SAR picture resized to ``image_size`` pixels, giving a grid of
  (image_size / 16)^2 feature vectors (6x6 for the default 96 pixels) plus a learned position embedding per cell, so answers can depend on where things are;
- **text decoder**: a causal transformer decoder (``layers`` x ``heads``, width ``width``) that
  reads ``[BOS] prompt [SEP]`` and cross-attends to the image grid, then writes the answer;
- **tokenizer**: the words, numbers and punctuation of the training text (lower-cased), built
  at training time; rarer than ``min_count`` become ``<unk>``.

Trained with cross-entropy on the answer tokens only (AdamW, cosine schedule), deterministic for
a seed on the CPU, with a checkpoint after every epoch that ``train`` resumes from. Saved as
``model.safetensors`` + ``config.json`` + ``vocab.json``. Needs torch (the ``train`` extra).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, MissingDependencyError, SarlangError

ARCHITECTURE = "sarlang-baseline-v1"
SPECIALS = ("<pad>", "<bos>", "<sep>", "<eos>", "<unk>")
PAD, BOS, SEP, EOS, UNK = range(5)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[^\sa-z\d]")


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("the built-in model (torch)", hint="pip install torch==2.13.0 (CPU build), then pip install 'sarlang[train]'") from exc
    return torch


@dataclass(frozen=True)
class BaselineConfig:
    """Architecture and training settings (``config.json``); sizes in pixels and channels."""

    architecture: str = ARCHITECTURE
    image_size: int = 96
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineConfig:
        from sarlang.formats.textio import checked_settings

        config = cls(**checked_settings(cls, data, "model setting"))
        if config.architecture != ARCHITECTURE:
            raise InputError(f"this is not a {ARCHITECTURE} checkpoint (architecture '{config.architecture}')")
        if config.width % config.heads:
            raise InputError(f"width {config.width} must be a multiple of heads {config.heads}")
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


def _network(config: BaselineConfig, vocab_size: int) -> Any:
    torch = _torch()
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            chans = [1, 16, 32, 64, config.width]
            blocks = []
            for a, b in zip(chans[:-1], chans[1:]):
                blocks += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.GELU()]
            self.net = nn.Sequential(*blocks)
            cells = (config.image_size // 16) ** 2
            self.position = nn.Parameter(torch.zeros(1, cells, config.width))

        def forward(self, images: Any) -> Any:
            grid = self.net(images)  # (batch, width, s, s)
            return grid.flatten(2).transpose(1, 2) + self.position

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

        def forward(self, images: Any, tokens: Any) -> Any:
            memory = self.encoder(images)
            length = tokens.shape[1]
            x = self.embed(tokens) + self.position(torch.arange(length, device=tokens.device))[None]
            mask = torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.bool)
            h = self.decoder(x, memory, tgt_mask=mask, tgt_key_padding_mask=tokens == PAD)
            return self.head(self.norm(h))

    return Model()


class BaselineModel:
    """The built-in model (see the module docstring)."""

    def __init__(self, config: BaselineConfig, vocab: Vocabulary, network: Any | None = None) -> None:
        self.config = config
        self.vocab = vocab
        self.network = network or _network(config, len(vocab.tokens))

    # --- persistence --------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".model.safetensors.part"
        save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(tmp))
        os.replace(tmp, out / "model.safetensors")
        (out / "vocab.json").write_text(json.dumps(self.vocab.tokens, ensure_ascii=False), encoding="utf-8")
        (out / "config.json").write_text(json.dumps(asdict(self.config), indent=2), encoding="utf-8")

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
        images = torch.from_numpy(np.stack([load_picture(path, self.config.image_size) for path, _ in batch]))[:, None]
        prompts = [self._prompt_ids(p) for _, p in batch]
        outputs: list[list[int]] = [[] for _ in batch]
        with torch.no_grad():
            memory = self.network.encoder(images)
            sequences = [list(p) for p in prompts]
            active = list(range(len(batch)))
            for _ in range(self.config.max_answer_tokens):
                if not active:
                    break
                longest = max(len(sequences[i]) for i in active)
                tokens = torch.full((len(active), longest), PAD, dtype=torch.long)
                for row, i in enumerate(active):
                    tokens[row, : len(sequences[i])] = torch.tensor(sequences[i])  # right-padded, as in training
                logits = self.network(images[active], tokens) if memory is None else _decode(self.network, memory[active], tokens)
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
    ) -> BaselineModel:
        """Train on (image path, prompt, answer) triples; resumes from ``out_dir/checkpoint.pt``."""
        torch = _torch()
        if not examples:
            raise SarlangError("no training examples")
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
        images = _image_cache(sorted({path for path, _, _ in examples}), config.image_size)
        sequences = []
        for path, prompt, answer in examples:
            prompt_ids = model._prompt_ids(prompt)
            answer_ids = vocab.encode(answer)[: config.max_answer_tokens] + [EOS]
            sequences.append((images[path], prompt_ids, answer_ids))
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        steps_per_epoch = math.ceil(len(sequences) / config.batch_size)
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
            order = order_rng.permutation(len(sequences))
            if epoch < start_epoch:
                continue  # keep the shuffles of finished epochs so a resumed run sees the same order
            net.train()
            running = 0.0
            for step in range(steps_per_epoch):
                batch = [sequences[i] for i in order[step * config.batch_size : (step + 1) * config.batch_size]]
                loss = _loss(net, batch)
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
            tmp = out / ".checkpoint.pt.part"
            torch.save(state, tmp)
            os.replace(tmp, checkpoint_path)
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


def _image_cache(paths: Sequence[str], size: int) -> dict[str, np.ndarray]:
    return {p: load_picture(p, size) for p in paths}


def _loss(net: Any, batch: Sequence[tuple[np.ndarray, list[int], list[int]]]) -> Any:
    torch = _torch()
    length = max(len(p) + len(a) for _, p, a in batch)
    tokens = torch.full((len(batch), length), PAD, dtype=torch.long)
    targets = torch.full((len(batch), length), -100, dtype=torch.long)
    for row, (_, prompt, answer) in enumerate(batch):
        sequence = prompt + answer
        tokens[row, : len(sequence)] = torch.tensor(sequence)
        # position t predicts token t + 1; only answer tokens (and EOS) are learned
        start = len(prompt) - 1
        targets[row, start : start + len(answer)] = torch.tensor(answer)
    images = torch.from_numpy(np.stack([image for image, _, _ in batch]))[:, None]
    logits = net(images, tokens)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
