"""OpenCLIP checkpoints as embedding models, for retrieval and zero-shot classification.

The SAR and remote-sensing CLIP models people publish (SARCLIP, RemoteCLIP, GeoRSCLIP,
SkyScript) are OpenCLIP checkpoints (Cherti et al., "Reproducible scaling laws for contrastive
language-image learning", CVPR 2023). This backend loads one from local files, offline, through
``open-clip-torch``:

- ``openclip:ARCH@CHECKPOINT``: ``ARCH`` is an OpenCLIP architecture name (``ViT-B-32``,
  ``RN50``, ...) or the path of a model-config JSON file (OpenCLIP's ``model_configs`` format,
  or an ``open_clip_config.json`` with ``model_cfg``); ``CHECKPOINT`` a ``.pt``, ``.bin`` or
  ``.safetensors`` state dict, loaded with strict key matching;
- ``openclip:DIR``: a folder holding ``open_clip_config.json`` and the weights (the layout of
  OpenCLIP models on the Hugging Face hub, downloaded beforehand).

Images are read as RGB (grey SAR repeated on three channels) and given the checkpoint's own
preprocessing; texts its own tokenizer. Needs the ``openclip`` extra. PyPI's torchvision (which
OpenCLIP imports) is built against a CUDA torch and does not import beside the CPU build
``torch==2.13.0``: install OpenCLIP with a matching torch and torchvision pair.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, MissingDependencyError
from sarlang.models.base import EmbeddingModel

PREFIX = "openclip:"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")


def claims(spec: str) -> bool:
    """``openclip:ARCH@CHECKPOINT`` or ``openclip:DIR``."""
    return spec.startswith(PREFIX)


def load(spec: str) -> OpenClipModel:
    """The OpenCLIP model ``spec`` names (see the module docstring)."""
    return OpenClipModel.from_spec(spec)


def parse_spec(spec: str) -> tuple[str, Path | None, Path | None]:
    """(architecture name, model-config JSON or None, checkpoint or None) of ``openclip:ARCH@CHECKPOINT``,
    or ("", None, DIR) of ``openclip:DIR``; the files are checked to exist.

    Raises:
        InputError: a malformed spec, or a file or folder that does not exist.
    """
    rest = spec.removeprefix(PREFIX)
    if "@" not in rest:
        folder = Path(rest)
        if not rest or not folder.is_dir():
            raise InputError(f"'{spec}' names no OpenCLIP model", hint="give openclip:ARCH@/path/to/checkpoint.pt or openclip:/folder/with/open_clip_config.json")
        if not (folder / "open_clip_config.json").is_file():
            raise InputError(f"'{folder}' has no open_clip_config.json", hint="give openclip:ARCH@/path/to/checkpoint instead")
        return "", None, folder
    arch, _, checkpoint = rest.rpartition("@")
    if not arch or not checkpoint:
        raise InputError(f"'{spec}' is not openclip:ARCH@CHECKPOINT", hint="e.g. openclip:ViT-B-32@/models/RemoteCLIP-ViT-B-32.pt")
    weights = Path(checkpoint)
    if not weights.is_file():
        raise InputError(f"OpenCLIP checkpoint '{weights}' does not exist")
    if weights.suffix not in CHECKPOINT_SUFFIXES:
        raise InputError(f"'{weights}' is not a checkpoint OpenCLIP reads", hint=f"use a {', '.join(CHECKPOINT_SUFFIXES)} file")
    config = Path(arch) if arch.endswith(".json") else None
    if config is not None and not config.is_file():
        raise InputError(f"OpenCLIP model config '{config}' does not exist")
    return arch, config, weights


def _open_clip() -> Any:
    """The ``open_clip`` module, or a clear error naming why it cannot be imported."""
    try:
        import open_clip
    except ImportError as exc:
        raise MissingDependencyError("OpenCLIP models (open-clip-torch)", extra="openclip",
                                     hint="pip install 'sarlang[openclip]' with a torch and torchvision of matching builds") from exc
    except RuntimeError as exc:  # torchvision's compiled operators do not fit the installed torch
        raise MissingDependencyError("OpenCLIP models (open-clip-torch)", extra="openclip",
                                     hint=f"open_clip is installed but torchvision does not import beside this torch ({str(exc)[:120]}); "
                                          "install a torch and torchvision of matching builds") from exc
    return open_clip


def _config_name(open_clip: Any, config: Path) -> str:
    """Register a model-config JSON with OpenCLIP under a name of its own; that name."""
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"'{config}' is not a JSON model config: {exc}") from None
    data = data.get("model_cfg", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not all(k in data for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise InputError(f"'{config}' is not an OpenCLIP model config", hint="it needs embed_dim, vision_cfg and text_cfg")
    name = f"sarlang-{config.stem}"
    open_clip.factory._MODEL_CONFIGS[name] = data  # noqa: SLF001 -- add_model_config keys by file stem, which may clash with a built-in
    return name


class OpenClipModel(EmbeddingModel):
    """An OpenCLIP model that embeds images and texts in one space (see the module docstring)."""

    kind = "an OpenCLIP model"

    def __init__(self, model: Any, preprocess: Any, tokenizer: Any, name: str, model_cfg: dict[str, Any]) -> None:
        self.model, self.preprocess, self.tokenizer, self.name, self.model_cfg = model.eval(), preprocess, tokenizer, name, model_cfg

    @classmethod
    def from_spec(cls, spec: str) -> OpenClipModel:
        """Load the model ``spec`` names.

        Raises:
            InputError: a malformed spec, a missing file, an unknown architecture, or a
                checkpoint of another architecture.
            MissingDependencyError: open-clip-torch is missing or cannot be imported.
        """
        arch, config, weights = parse_spec(spec)
        open_clip = _open_clip()
        if weights is not None and weights.is_dir():
            name = f"local-dir:{weights}"
            checkpoint = None
            try:
                model_cfg = json.loads((weights / "open_clip_config.json").read_text(encoding="utf-8"))["model_cfg"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputError(f"'{weights / 'open_clip_config.json'}' is not an OpenCLIP config with model_cfg: {exc!r}") from None
        else:
            name = _config_name(open_clip, config) if config is not None else arch
            if name not in open_clip.list_models():
                raise InputError(f"'{arch}' is not an OpenCLIP architecture", hint="give one of open_clip.list_models() or a model-config .json")
            checkpoint = str(weights)
            model_cfg = open_clip.get_model_config(name)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=checkpoint, device="cpu")
        except RuntimeError as exc:  # load_state_dict(strict=True): missing, unexpected or mis-shaped keys
            raise InputError(f"the checkpoint '{weights}' does not fit OpenCLIP '{arch or name}' (another architecture?): {str(exc)[:240]}") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot load OpenCLIP model '{spec}': {str(exc)[:240]}") from None
        return cls(model, preprocess, open_clip.get_tokenizer(name), arch or str(weights), model_cfg)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (n, embed_dim) of ``texts``."""
        import torch

        with torch.no_grad():
            vectors = self.model.encode_text(self.tokenizer(list(texts)), normalize=True)
        return vectors.float().numpy()

    def embed_images(self, paths: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors (n, embed_dim) of the pictures at ``paths`` (RGB, the checkpoint's preprocessing).

        Raises:
            InputError: an image that is missing or cannot be read.
        """
        import torch
        from PIL import Image

        from sarlang.models.baseline.config import load_grey

        out = []
        with torch.no_grad():
            for start in range(0, len(paths), batch_size):
                pixels = torch.stack([self.preprocess(Image.fromarray(load_grey(p)).convert("RGB")) for p in paths[start : start + batch_size]])
                out.append(self.model.encode_image(pixels, normalize=True).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def save(self, directory: str | Path) -> None:
        """``open_clip_config.json`` and ``open_clip_model.safetensors`` in ``directory`` (OpenCLIP's
        own folder layout, which ``openclip:DIR`` loads), each written atomically."""
        from safetensors.torch import save_file

        from sarlang.files import atomic_path, atomic_write_json

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "open_clip_model.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, str(tmp))
        preprocess = getattr(self.model.visual, "preprocess_cfg", {}) or {}
        atomic_write_json(out / "open_clip_config.json", {"model_cfg": self.model_cfg, "preprocess_cfg": dict(preprocess)})

    def info(self) -> dict[str, Any]:
        """Architecture name and parameter count."""
        return {"id": f"openclip:{self.name}", "parameters": int(sum(p.numel() for p in self.model.parameters()))}
