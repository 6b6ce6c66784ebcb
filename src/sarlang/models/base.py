"""The one model interface, SARLANG-1M's default prompts, and loading a model by spec.

Every backend answers batches of (image path, prompt) with text, can be saved and loaded, and
reports what it is (``info``: id and settings). Specs for :func:`load_model`:

``DIR``                       a saved built-in baseline, a Hugging Face VLM folder, or a LoRA adapter
                              folder (its base model is read from the adapter)
``api:MODEL@URL``             an OpenAI-compatible chat endpoint (key from ``OPENAI_API_KEY``)
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.formats.prompts import CAPTION_PROMPT, VQA_PROMPT, prompt_for  # noqa: F401 - the model interface's prompts

class VisionLanguageModel(ABC):
    """The contract every model backend implements (the built-in baseline, Hugging Face VLMs, API models).

    ``failures`` holds the reasons of answers the model could not give (None in :meth:`answer`);
    :meth:`close` releases what the model holds (connections, caches). Both have defaults.
    """

    failures: Sequence[str] = ()

    @abstractmethod
    def answer(self, batch: Sequence[tuple[str, str]]) -> list[str | None]:
        """One answer per (image path, prompt); None where the model could give none (an API failure)."""

    @abstractmethod
    def save(self, directory: str | Path) -> None:
        """Write the model (or what identifies it) into ``directory``."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """The model's id and the settings that change its answers (recorded with every prediction)."""

    def close(self) -> None:
        """Release connections and caches (nothing by default)."""

    def __enter__(self) -> VisionLanguageModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_model(spec: str) -> Any:
    """A model from its spec (see the module docstring), with a clear error for anything else."""
    if spec.startswith("api:"):
        from sarlang.models.api import ApiModel

        model, sep, url = spec[4:].partition("@")
        if not sep or not model or not url:
            raise InputError(f"API model spec '{spec}' is not api:MODEL@URL", hint="e.g. api:gpt-4o@https://api.openai.com/v1")
        from sarlang.chat import endpoint

        return ApiModel(url, model, api_key=endpoint(url, None)[1])
    path = Path(spec)
    if (path / "adapter_config.json").exists():
        from sarlang.models.hf import HFModel, adapter_base

        return HFModel(adapter_base(path), adapter=path)
    config = path / "config.json"
    if not config.exists():
        raise InputError(f"'{spec}' is not a model", hint="give a folder written by sarlang train, or api:MODEL@URL")
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"'{config}' is not valid JSON: {exc}") from None
    architecture = settings.get("architecture", "")
    if architecture.startswith("sarlang-baseline"):
        from sarlang.models.baseline import BaselineModel

        return BaselineModel.load(path)
    if "model_type" in settings:
        from sarlang.models.hf import HFModel

        return HFModel(path)
    raise InputError(f"'{spec}' holds a model of unknown architecture '{architecture or '?'}'", hint="sarlang loads its own baseline models here")
