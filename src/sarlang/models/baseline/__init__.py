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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sarlang.models.baseline.config import ARCHITECTURE, BaselineConfig, load_picture
from sarlang.models.baseline.model import BaselineModel
from sarlang.models.baseline.text import Vocabulary, detokenize, tokenize
from sarlang.models.baseline.training import dihedral_view, object_labels, train

__all__ = ["ARCHITECTURE", "BaselineConfig", "BaselineModel", "Vocabulary", "claims", "detokenize", "dihedral_view",
           "load", "load_picture", "tokenize", "train", "train_job"]


def claims(spec: str) -> bool:
    """A folder written by ``sarlang train`` with ``model: baseline``."""
    from sarlang.models.base import read_model_config

    return not spec.startswith("api:") and str(read_model_config(Path(spec)).get("architecture", "")).startswith("sarlang-baseline")


def load(spec: str) -> BaselineModel:
    """The model saved in the folder ``spec``."""
    return BaselineModel.load(spec)


def train_job(job: Any, on_progress: Callable[[int, int, float], None] | None = None) -> BaselineModel:
    """The ``model: baseline`` trainer (see :class:`sarlang.models.run.TrainingJob`): the object
    head learns from the build's ``objects.jsonl`` unless ``objects: none``; mask questions
    teach the mask head (their polygon answers are not text for the decoder to learn)."""
    from sarlang.formats.masks import MASK_HINTS

    config = BaselineConfig.from_dict(job.settings)
    hints = tuple(h.lower() for h in MASK_HINTS.values())
    examples = [e for e in job.examples if not any(h in e[1].lower() for h in hints)]
    masks = job.mask_targets if len(examples) < len(job.examples) else {}
    objects = object_labels(job.config.get("objects", "auto"), job.records_file, job.root, {path for path, _, _ in examples})
    return train(examples, job.out, config, on_progress=on_progress, objects=objects, pair_examples=job.pair_examples, masks=masks)
