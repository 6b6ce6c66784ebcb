"""The built-in model as a :class:`~sarlang.models.base.VisionLanguageModel`: save, load, answer, train."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError
from sarlang.files import atomic_path, atomic_write_text
from sarlang.models.base import VisionLanguageModel
from sarlang.models.baseline.config import ARCHITECTURE, BaselineConfig, load_grey, picture_of
from sarlang.models.baseline.text import BOS, EOS, PAD, SEP, Vocabulary


class BaselineModel(VisionLanguageModel):
    """The built-in model (see the module docstring)."""

    def __init__(self, config: BaselineConfig, vocab: Vocabulary, pretrained: bool = True) -> None:
        from sarlang.models.baseline.network import BaselineNetwork

        self.config = config.resolved()
        self.vocab = vocab
        self.network = BaselineNetwork(self.config, vocab, pretrained)

    # --- persistence --------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """``model.safetensors``, ``vocab.json`` and ``config.json`` in ``directory`` (each written atomically)."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "model.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(tmp))
        atomic_write_text(out / "vocab.json", json.dumps(self.vocab.tokens, ensure_ascii=False))
        atomic_write_text(out / "config.json", json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> BaselineModel:
        """The model saved in ``directory``.

        Raises:
            InputError: a file is missing, or the weights or settings are another architecture's.
        """
        from safetensors.torch import load_file

        path = Path(directory)
        for name in ("config.json", "vocab.json", "model.safetensors"):
            if not (path / name).exists():
                raise InputError(f"'{path}' is not a saved baseline model: {name} is missing")
        config = BaselineConfig.from_dict(json.loads((path / "config.json").read_text(encoding="utf-8")))
        vocab = Vocabulary(json.loads((path / "vocab.json").read_text(encoding="utf-8")))
        model = cls(config, vocab, pretrained=False)
        try:
            model.network.load_state_dict(load_file(str(path / "model.safetensors")))
        except (RuntimeError, KeyError) as exc:
            raise InputError(f"the weights in '{path}' do not fit its config (another architecture?): {str(exc)[:200]}") from None
        model.network.eval()
        return model

    def info(self) -> dict[str, Any]:
        """Architecture id, parameter count, vocabulary size and settings."""
        params = sum(p.numel() for p in self.network.parameters())
        return {"id": ARCHITECTURE, "parameters": int(params), "vocabulary": len(self.vocab.tokens), **asdict(self.config)}

    # --- inference ----------------------------------------------------------------------------

    def _prompt_ids(self, prompt: str) -> list[int]:
        """``<bos>`` prompt ``<sep>``, cut to ``max_prompt_tokens``. A prompt with context (earlier
        turns, passages: a :class:`~sarlang.formats.prompts.ContextPrompt`) is read question
        first, then ``<sep>`` and the context, cut at the context's end: the question keeps the
        positions it has without context, and a long context never pushes it out."""
        if hasattr(prompt, "context_text"):
            ids = [*self.vocab.encode(prompt.question), SEP, *self.vocab.encode(prompt.context_text())]
        else:
            ids = self.vocab.encode(prompt)
        return [BOS, *ids[: self.config.max_prompt_tokens], SEP]

    @property
    def images_per_prompt(self) -> int:  # type: ignore[override]
        """2 for a model trained on bi-temporal pairs (it answers about two dates), else 1."""
        return 2 if self.config.pairs else 1

    def answer(self, batch: Sequence[tuple[Any, str]]) -> list[str]:
        """Greedy answers to (image path, prompt) pairs — for a bi-temporal pair, (both dates'
        paths, prompt); each image (each pair) is read and encoded once.

        Raises:
            InputError: an image that is missing or cannot be read, or a pair asked of a model
                trained without pairs.
        """
        pairs = [i for i, (image, _) in enumerate(batch) if not isinstance(image, str)]
        if pairs and not self.config.pairs:
            raise InputError("this built-in model was trained without bi-temporal pairs: it sees one image per question",
                             hint="train it on a build with pairs (pairs:, changedet: or simulate-change: sources)")
        singles = [i for i in range(len(batch)) if i not in set(pairs)]
        out: list[str] = [""] * len(batch)
        if singles:
            for i, text in zip(singles, self._answer_singles([batch[i] for i in singles])):
                out[i] = text
        if pairs:
            for i, text in zip(pairs, self._answer_pairs([batch[i] for i in pairs])):
                out[i] = text
        return out

    def _answer_pairs(self, batch: Sequence[tuple[tuple[str, ...], str]]) -> list[str]:
        """Answers about pairs: both dates and their log-ratio picture in the memory (see
        :func:`~sarlang.models.baseline.network.pair_memory`)."""
        import torch

        from sarlang.models.baseline.config import ratio_picture

        self.network.eval()
        keys = list(dict.fromkeys(tuple(images) for images, _ in batch))
        row = {key: i for i, key in enumerate(keys)}
        greys = [(load_grey(a), load_grey(b)) for a, b in keys]
        size = self.config.image_size
        earlier = torch.from_numpy(np.stack([picture_of(a, size) for a, _ in greys]))[:, None]
        later = torch.from_numpy(np.stack([picture_of(b, size) for _, b in greys]))[:, None]
        ratios = torch.from_numpy(np.stack([ratio_picture(a, b, size) for a, b in greys]))[:, None]
        prompts = [self._prompt_ids(p) for _, p in batch]
        with torch.no_grad():
            memory = self.network.encode_pairs(earlier, later, ratios, greys, self.config.glimpse_pixels, self.config.glimpse_size,
                                               self.config.glimpse_views)
            memory = memory[torch.tensor([row[tuple(images)] for images, _ in batch])]
        return [self.vocab.decode(o) for o in self._greedy(memory, prompts)]

    def _answer_singles(self, batch: Sequence[tuple[str, str]]) -> list[str]:
        """Answers about single pictures (grounding questions from the object head)."""
        import torch

        self.network.eval()
        # records of one image come together: read and encode each image of the batch once
        paths = list(dict.fromkeys(path for path, _ in batch))
        row = {path: i for i, path in enumerate(paths)}
        # each image is decoded once: the glimpses need it at full resolution
        originals = [load_grey(path) for path in paths]
        images = torch.from_numpy(np.stack([picture_of(grey, self.config.image_size) for grey in originals]))[:, None]
        prompts = [self._prompt_ids(p) for _, p in batch]
        with torch.no_grad():
            memory, density = self.network.encode(images, originals, self.config.glimpse_pixels, self.config.glimpse_size,
                                                  self.config.glimpse_views, with_density=True)
            rows = [row[path] for path, _ in batch]
            boxed = {**self._box_answers(batch, prompts, density, rows, originals), **self._mask_answers(batch, prompts, density, rows, originals)}
            memory = memory[torch.tensor([row[path] for path, _ in batch])]
        outputs = self._greedy(memory, prompts)
        return [boxed.get(i, self.vocab.decode(o)) for i, o in enumerate(outputs)]

    def _greedy(self, memory: Any, prompts: list[list[int]]) -> list[list[int]]:
        """Greedy decoding of every prompt over its memory row: the answer tokens, EOS left out."""
        import torch

        from sarlang.models.baseline.network import decode, mentions

        outputs: list[list[int]] = [[] for _ in prompts]
        with torch.no_grad():
            marked = mentions(self.network, prompts)
            sequences = [list(p) for p in prompts]
            active = list(range(len(prompts)))
            for _ in range(self.config.max_answer_tokens):
                if not active:
                    break
                longest = max(len(sequences[i]) for i in active)
                tokens = torch.full((len(active), longest), PAD, dtype=torch.long)
                for row, i in enumerate(active):
                    tokens[row, : len(sequences[i])] = torch.tensor(sequences[i])  # right-padded, as in training
                log_probs = decode(self.network, memory[active], tokens, None if marked is None else marked[active])
                last = torch.tensor([len(sequences[i]) - 1 for i in active])
                next_ids = log_probs[torch.arange(len(active)), last].argmax(-1).tolist()
                still = []
                for i, token in zip(active, next_ids):
                    if token == EOS:
                        continue
                    sequences[i].append(token)
                    outputs[i].append(token)
                    still.append(i)
                active = still
        return outputs

    def _asked_targets(self, batch: Sequence[tuple[str, str]], prompts: list[list[int]], density: Any, rows: list[int],
                       hints: dict[str, str], every: str) -> dict[int, tuple[str, int, str, list[tuple[float, float]]]]:
        """The objects the grounding or mask questions of a batch ask for, from the object head:
        by position in the batch, (convention, category, question text, chosen centres as
        fractions of the width and height).

        A question is one of them when it states a convention of ``hints`` and names one of the
        model's categories. The objects are the peaks of the object head's centre density
        (:func:`~sarlang.models.baseline.network.find_objects`), each of the category its density
        holds most of. A question holding ``every`` ("boxes of all") gets every object of the
        category; one otherwise: the leftmost, the rightmost or the one nearest the top left
        corner when asked, else the fullest. When no object of the category is found, the found
        object most likely of it; with no object at all, the cell where the category's density is highest.
        """
        from sarlang.models.baseline.network import find_objects

        if density is None:
            return {}
        asked = {}
        for i, (_, prompt) in enumerate(batch):
            text = prompt.lower()
            convention = next((name for name, hint in hints.items() if hint.lower() in text), None)
            if convention is None:
                continue
            named = [c for c, words in enumerate(self.network.name_tokens) if words & set(prompts[i])] if hasattr(self.network, "name_tokens") else []
            if named:
                asked[i] = (convention, named[0], text)
        if not asked:
            return {}
        counts = density.sum(1)
        centres = find_objects(counts, limit=32)
        side = density.shape[-1]
        out = {}
        for i, (convention, category, text) in asked.items():
            b = rows[i]
            found = []
            for x, y in centres[b]:
                share = density[b, :, min(side - 1, int(y * side)), min(side - 1, int(x * side))]
                share = share / share.sum().clamp_min(1e-12)
                found.append((x, y, int(share.argmax()), float(share[category])))
            if not found:  # no peak holds half an object: the cell where the category is densest
                cell = int(density[b, category].argmax())
                found = [((cell % side + 0.5) / side, (cell // side + 0.5) / side, category, 1.0)]
            mine = [f for f in found if f[2] == category] or [max(found, key=lambda f: f[3])]
            if every not in text:
                if "leftmost" in text:
                    mine = [min(mine, key=lambda f: f[0])]
                elif "rightmost" in text:
                    mine = [max(mine, key=lambda f: f[0])]
                elif "top left" in text:
                    mine = [min(mine, key=lambda f: f[0] ** 2 + f[1] ** 2)]
                else:
                    mine = mine[:1]  # the fullest: find_objects ranks them so
            out[i] = (convention, category, text, [(x, y) for x, y, _, _ in mine])
        return out

    def _box_answers(self, batch: Sequence[tuple[str, str]], prompts: list[list[int]], density: Any, rows: list[int],
                     originals: list[np.ndarray]) -> dict[int, str]:
        """Answers to the grounding questions of a batch from the object head, by position in the
        batch: the objects :meth:`_asked_targets` chooses, each with the category's median
        training box around its centre."""
        from sarlang.formats.boxes import CONVENTION_HINTS, format_boxes

        if not self.config.box_sizes:
            return {}
        out = {}
        for i, (convention, category, _, chosen) in self._asked_targets(batch, prompts, density, rows, CONVENTION_HINTS, "boxes of all").items():
            height, width = originals[rows[i]].shape
            bw, bh = self.config.box_sizes[category]  # pixels
            boxes = [(max(0.0, x * width - bw / 2), max(0.0, y * height - bh / 2), min(float(width), x * width + bw / 2),
                      min(float(height), y * height + bh / 2)) for x, y in chosen]
            out[i] = format_boxes(boxes, convention, width, height)
        return out

    def _mask_answers(self, batch: Sequence[tuple[str, str]], prompts: list[list[int]], density: Any, rows: list[int],
                      originals: list[np.ndarray]) -> dict[int, str]:
        """Answers to the mask questions of a batch from the mask head, by position in the batch:
        the parts of its mask that :func:`~sarlang.models.baseline.masks.pick_parts` picks for the
        objects :meth:`_asked_targets` chooses (see :mod:`sarlang.models.baseline.masks`). A question
        whose image has no part gets the category's median box around the chosen centre, as a mask."""
        from sarlang.formats.masks import MASK_HINTS, format_masks
        from sarlang.models.baseline.masks import mask_parts, object_probabilities, pick_parts

        if not hasattr(self.network, "mask_head"):
            return {}
        targets = self._asked_targets(batch, prompts, density, rows, MASK_HINTS, "segment all")
        parts_of: dict[int, list[np.ndarray]] = {}
        out = {}
        for i, (convention, category, text, chosen) in targets.items():
            b = rows[i]
            if b not in parts_of:
                parts_of[b] = mask_parts(object_probabilities(self.network, originals[b]))
            parts = parts_of[b]
            if len(self.config.categories) > 1 and parts:  # the parts whose centre the object head gives this category
                side = density.shape[-1]
                keep = []
                for part in parts:
                    r, c = (float(v.mean()) for v in np.nonzero(part))
                    cell = density[b, :, min(side - 1, int(r / part.shape[0] * side)), min(side - 1, int(c / part.shape[1] * side))]
                    if int(cell.argmax()) == category:
                        keep.append(part)
                parts = keep or parts
            picked = pick_parts(parts, chosen, text, "segment all" in text)
            if not picked and self.config.box_sizes:
                height, width = originals[b].shape
                bw, bh = self.config.box_sizes[category]
                x, y = chosen[0]
                m = np.zeros((height, width), dtype=bool)
                m[max(0, int(y * height - bh / 2)): int(y * height + bh / 2) + 1, max(0, int(x * width - bw / 2)): int(x * width + bw / 2) + 1] = True
                picked = [m]
            if picked:
                out[i] = format_masks(picked, convention)
        return out
