"""SAR-CLIP: a contrastive image–text model for retrieval and zero-shot classification of SAR images.

The recipe of RS-CapRet and GeoRSCLIP, sized for a CPU: two pretrained towers
(:mod:`sarlang.models.towers`: EfficientNet-Lite0 for images, all-MiniLM-L6-v2 for text), each
followed by a learned linear bridge into one ``embed_dim`` space, trained with the symmetric
InfoNCE loss and a learnable temperature (Radford et al., "Learning Transferable Visual Models
From Natural Language Supervision", ICML 2021; Oord et al., "Representation Learning with
Contrastive Predictive Coding", 2018) on a build's captions. The text tower stays frozen, so
each caption is embedded once; the image tower's first ``frozen_blocks`` blocks and its
batch-norm statistics stay frozen, the rest fine-tunes at ``encoder_learning_rate``. Captions
of one text in a batch (two chips of one class share "This SAR image contains one class 3
target.") count as positives of each other, not as negatives. Training images are mirrored at
random but not turned: quarter turns moved the radar shadow and cost two points of zero-shot
accuracy on MSTAR chips (87.0% against 89.1%, 16 epochs, four blocks frozen).

Trained with ``model: clip`` in a training config; saved as ``model.safetensors`` (image tower
and bridges) + ``config.json``; the text tower comes from its wheel. A CLIP model retrieves and
classifies (``sarlang eval retrieval``, ``sarlang eval zeroshot``); it does not answer questions.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, SarlangError
from sarlang.files import atomic_path, atomic_write_text, require
from sarlang.models.base import EmbeddingModel, read_model_config

ARCHITECTURE = "sarlang-clip-v1"
#: ``frozen_blocks`` at which the whole trunk (stem and 16 blocks) is frozen: training then
#: computes each picture's trunk features once (LiT-style locked image tower, Zhai et al., CVPR
#: 2022, with the head and the bridges still learning): the demo trains it for 30 epochs on
#: 840 pictures in about 76 s on 2 cores.
FROZEN_ALL = 17


@dataclass(frozen=True)
class ClipConfig:
    """SAR-CLIP's settings (``config.json``): sizes in pixels, learning rates per step.

    ``batch_size`` is pairs per step; the image tower (EfficientNet-Lite0, pooled stride-32
    features) learns at ``encoder_learning_rate`` with its first ``frozen_blocks`` blocks fixed;
    the bridges and the temperature at ``learning_rate``.
    """

    architecture: str = ARCHITECTURE
    image_size: int = 128
    embed_dim: int = 256
    epochs: int = 16
    batch_size: int = 64
    learning_rate: float = 1e-3
    encoder_learning_rate: float = 3e-4
    weight_decay: float = 0.01
    frozen_blocks: int = 2
    temperature: float = 0.07
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipConfig:
        """Settings from a ``config.json`` or a training config, checked.

        Raises:
            InputError: an unknown setting, a value out of range, or another architecture.
        """
        from sarlang.files import check_ranges, checked_settings

        config = cls(**checked_settings(cls, data, "clip setting"))
        check_ranges(config, "clip setting", image_size=(32, None), embed_dim=(1, None), epochs=(1, None), batch_size=(2, None),
                     learning_rate=(-0.0, None), encoder_learning_rate=(0, None), weight_decay=(0, None), frozen_blocks=(0, FROZEN_ALL),
                     temperature=(-0.0, None))
        if config.architecture != ARCHITECTURE:
            raise InputError(f"this is not a {ARCHITECTURE} checkpoint (architecture '{config.architecture}')")
        return config


def _network(config: ClipConfig, pretrained: bool) -> Any:
    torch = require("torch", "towers", "SAR-CLIP (torch)")
    from sarlang.models.towers import ImageTower

    class Bridges(torch.nn.Module):
        """Image tower + the two linear bridges + the learnable log inverse temperature."""

        def __init__(self) -> None:
            super().__init__()
            self.tower = ImageTower("stride32", pretrained=pretrained, frozen_blocks=config.frozen_blocks)
            self.image_proj = torch.nn.Linear(self.tower.channels, config.embed_dim)
            self.text_proj = torch.nn.Linear(384, config.embed_dim)
            self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / config.temperature)))

        def images(self, grey: Any) -> Any:
            return self.from_trunk(self.tower.trunk(grey))

        def from_trunk(self, features: Any) -> Any:
            """Unit image vectors from the tower's trunk output: its head, the mean, the bridge."""
            return torch.nn.functional.normalize(self.image_proj(self.tower.head(features).mean((2, 3))), dim=-1)

        def texts(self, sentence_vectors: Any) -> Any:
            return torch.nn.functional.normalize(self.text_proj(sentence_vectors), dim=-1)

    return Bridges()


class ClipModel(EmbeddingModel):
    """SAR-CLIP (see the module docstring): embeds images and texts in one space."""

    kind = "a SAR-CLIP model"

    def __init__(self, config: ClipConfig, pretrained: bool = True) -> None:
        self.config = config
        self.network = _network(config, pretrained)
        self._text_tower: Any = None

    def _sentences(self, texts: Sequence[str]) -> np.ndarray:
        """The frozen MiniLM embeddings (n, 384) of ``texts``."""
        if self._text_tower is None:
            from sarlang.models.towers import text_tower

            self._text_tower = text_tower()
        return np.asarray(self._text_tower.encode(list(texts), batch_size=128, convert_to_numpy=True), dtype=np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (n, embed_dim) of ``texts``."""
        torch = require("torch", "towers")
        self.network.eval()
        with torch.no_grad():
            return self.network.texts(torch.from_numpy(self._sentences(texts))).numpy()

    def embed_images(self, paths: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors (n, embed_dim) of the pictures at ``paths`` (read grey, resized to ``image_size``).

        Raises:
            InputError: an image that is missing or cannot be read.
        """
        torch = require("torch", "towers")
        from sarlang.models.baseline.config import load_picture

        self.network.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(paths), batch_size):
                pictures = np.stack([load_picture(p, self.config.image_size) for p in paths[start : start + batch_size]])
                out.append(self.network.images(torch.from_numpy(pictures)[:, None]).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.embed_dim), dtype=np.float32)

    def save(self, directory: str | Path) -> None:
        """``model.safetensors`` and ``config.json`` in ``directory``, each written atomically."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "model.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(tmp))
        atomic_write_text(out / "config.json", json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> ClipModel:
        """The model saved in ``directory``.

        Raises:
            InputError: a file is missing, or the weights are another architecture's.
        """
        from safetensors.torch import load_file

        path = Path(directory)
        for name in ("config.json", "model.safetensors"):
            if not (path / name).exists():
                raise InputError(f"'{path}' is not a saved SAR-CLIP model: {name} is missing")
        model = cls(ClipConfig.from_dict(read_model_config(path)), pretrained=False)
        try:
            model.network.load_state_dict(load_file(str(path / "model.safetensors")))
        except (RuntimeError, KeyError) as exc:
            raise InputError(f"the weights in '{path}' do not fit SAR-CLIP: {str(exc)[:200]}") from None
        return model

    def info(self) -> dict[str, Any]:
        """Architecture, parameter count, settings, and the temperature it learned."""
        params = sum(p.numel() for p in self.network.parameters())
        return {"id": ARCHITECTURE, "parameters": int(params), **asdict(self.config), "learned_temperature": float(1 / self.network.logit_scale.detach().exp())}


def train(pairs: Sequence[tuple[str, str]], out_dir: str | Path, config: ClipConfig,
          on_progress: Callable[[int, int, float], None] | None = None) -> ClipModel:
    """Train SAR-CLIP on (image path, caption) pairs; writes the model to ``out_dir``.

    Raises:
        SarlangError: no pairs, or a single image (contrast needs two).
    """
    torch = require("torch", "towers", "SAR-CLIP (torch)")
    from sarlang.models.baseline.config import load_picture

    if len({p for p, _ in pairs}) < 2:
        raise SarlangError("SAR-CLIP needs captions of at least two images", hint="train on a build with captions")
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    model = ClipModel(config)
    net = model.network
    paths = sorted({p for p, _ in pairs})
    index = {p: i for i, p in enumerate(paths)}
    pictures = torch.from_numpy(np.stack([load_picture(p, config.image_size) for p in paths]))[:, None]
    texts = sorted({t for _, t in pairs})
    text_index = {t: i for i, t in enumerate(texts)}
    sentences = torch.from_numpy(model._sentences(texts))
    pair_rows = np.array([(index[p], text_index[t]) for p, t in pairs])
    locked = config.frozen_blocks >= FROZEN_ALL
    if locked:
        # every block frozen: each picture's trunk output, upright and mirrored, is the same in
        # every epoch, so it is computed once and only the head and the bridges train
        net.eval()
        with torch.no_grad():
            trunks = [torch.cat([net.tower.trunk(batch) for batch in views.split(64)]) for views in (pictures, pictures.flip(-1))]
    tower = [p for n, p in net.named_parameters() if n.startswith("tower.") and p.requires_grad]
    rest = [p for n, p in net.named_parameters() if not n.startswith("tower.")]
    optimizer = torch.optim.AdamW([{"params": rest, "lr": config.learning_rate}, {"params": tower, "lr": config.encoder_learning_rate}],
                                  weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(pair_rows) // config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[config.learning_rate, config.encoder_learning_rate], total_steps=total,
                                                    pct_start=0.1)
    order_rng = np.random.default_rng(config.seed)
    step = 0
    for _ in range(config.epochs):
        net.train()
        order = order_rng.permutation(len(pair_rows))
        running = 0.0
        for s in range(steps_per_epoch):
            rows = pair_rows[order[s * config.batch_size : (s + 1) * config.batch_size]]
            flip = torch.from_numpy(order_rng.random(len(rows)) < 0.5)
            if locked:
                chosen = torch.from_numpy(rows[:, 0])
                image_vectors = net.from_trunk(torch.where(flip[:, None, None, None], trunks[1][chosen], trunks[0][chosen]))
            else:
                images = pictures[rows[:, 0]]
                images = torch.where(flip[:, None, None, None], images.flip(-1), images)  # mirrored: a SAR scene read the other way
                image_vectors = net.images(images)
            text_vectors = net.texts(sentences[rows[:, 1]])
            logits = net.logit_scale.exp().clamp(max=100) * image_vectors @ text_vectors.T
            # pairs sharing an image or a caption text are positives of each other
            same = torch.from_numpy((rows[:, None, 0] == rows[None, :, 0]) | (rows[:, None, 1] == rows[None, :, 1])).float()
            targets = same / same.sum(1, keepdim=True)
            loss = (torch.sum(-targets * logits.log_softmax(1), 1).mean() + torch.sum(-targets.T * logits.T.log_softmax(1), 1).mean()) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            running += float(loss.detach())
            if on_progress:
                on_progress(step, total, running / (s + 1))
    net.eval()
    model.save(out_dir)
    return model


def train_job(job: Any, on_progress: Callable[[int, int, float], None] | None = None) -> ClipModel:
    """The ``model: clip`` trainer (see :class:`sarlang.models.run.TrainingJob`): the captions of
    the config's split (default train) of a build."""
    from sarlang.formats.predictions import is_caption_prompt

    config = ClipConfig.from_dict(job.settings)
    pairs = [(image, answer) for image, prompt, answer in job.examples if is_caption_prompt(prompt)]
    if not pairs:
        raise InputError(f"'{job.records_file}' has no captions to train SAR-CLIP on", hint="build with captions (the default)")
    return train(pairs, job.out, config, on_progress)


def claims(spec: str) -> bool:
    """A folder written by ``sarlang train`` with ``model: clip``."""
    return not spec.startswith(("api:", "prior:")) and read_model_config(Path(spec)).get("architecture") == ARCHITECTURE


def load(spec: str) -> ClipModel:
    """The SAR-CLIP model saved in the folder ``spec``."""
    return ClipModel.load(spec)
