"""The one model interface, SARLANG-1M's default prompts, and loading a model by spec.

Every backend answers batches of (image path, prompt) with text, can be saved and loaded, and
reports what it is (``info``: id and settings). Specs for :func:`load_model`:

``DIR``                       a saved built-in baseline, a Hugging Face VLM folder, or a LoRA adapter
                              folder (its base model is read from the adapter)
``api:MODEL@URL``             an OpenAI-compatible chat endpoint (key from ``OPENAI_API_KEY``)
``prior:BUILD``               the blind prior: the build's most common training answers
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.registry import Plugins
from sarlang.formats.prompts import CAPTION_PROMPT, VQA_PROMPT, prompt_for  # noqa: F401 - the model interface's prompts

class VisionLanguageModel(ABC):
    """The contract every model backend implements (the built-in baseline, Hugging Face VLMs, API models).

    ``failures`` holds the reasons of answers the model could not give (None in :meth:`answer`);
    :meth:`close` releases what the model holds (connections, caches). Both have defaults.
    ``remote`` is True for a model whose answers come from servers it spreads its requests over
    (the API models): it is asked from this process on every engine, not loaded on Ray workers.
    """

    failures: Sequence[str] = ()
    remote: bool = False
    #: How many images one prompt may show the model: 2 for a model that answers about a
    #: bi-temporal pair, whose batch items then give a tuple of two paths (earlier first).
    images_per_prompt: int = 1

    @abstractmethod
    def answer(self, batch: Sequence[tuple[str | tuple[str, ...], str]]) -> list[str | None]:
        """One answer per (image path, prompt) — for a pair, (tuple of both dates' paths, prompt);
        None where the model could give none (an API failure)."""

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


class EmbeddingModel(VisionLanguageModel):
    """A model that embeds images and texts in one space (a CLIP): it retrieves and classifies
    (``sarlang eval retrieval``, ``sarlang eval zeroshot``) and answers no questions. ``kind``
    names it in that refusal."""

    kind = "an embedding model"

    @abstractmethod
    def embed_images(self, paths: Sequence[str], batch_size: int = 64) -> Any:
        """Unit vectors (n, d) of the pictures at ``paths``."""

    @abstractmethod
    def embed_texts(self, texts: Sequence[str]) -> Any:
        """Unit vectors (n, d) of ``texts``."""

    def answer(self, batch: Sequence[tuple[str, str]]) -> list[str | None]:
        """An embedding model answers no questions.

        Raises:
            InputError: always, naming what it does instead.
        """
        raise InputError(f"{self.kind} retrieves and classifies; it does not answer questions",
                         hint="use sarlang eval retrieval or sarlang eval zeroshot with it")


#: Model backends: each module of :mod:`sarlang.models` that defines ``claims(spec) -> bool`` and
#: ``load(spec) -> VisionLanguageModel`` (other packages: entry-point group ``sarlang.models``).
MODELS = Plugins("model backend", "sarlang.models", "claims", "sarlang.models")


def read_model_config(path: Path) -> dict[str, Any]:
    """A model folder's ``config.json`` (empty when there is none), with a clear error when it is not JSON."""
    config = path / "config.json"
    if not config.is_file():
        return {}
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"'{config}' is not valid JSON: {exc}") from None
    return settings if isinstance(settings, dict) else {}


def load_model(spec: str) -> VisionLanguageModel:
    """The model a spec names: the first backend that claims the spec loads it.

    Parameters
    ----------
    spec:
        A folder written by ``sarlang train`` (built-in baseline or LoRA adapter), a Hugging
        Face VLM folder, or ``api:MODEL@URL`` (an OpenAI-compatible endpoint).

    Returns
    -------
    VisionLanguageModel

    Raises
    ------
    InputError
        A spec no backend claims, or a folder of an unknown architecture.
    """
    for _, claims in MODELS.each():
        if claims(spec):
            return inspect.getmodule(claims).load(spec)
    architecture = read_model_config(Path(spec)).get("architecture")
    if architecture:
        raise InputError(f"'{spec}' holds a model of unknown architecture '{architecture}'", hint="sarlang loads its own baseline models here")
    raise InputError(f"'{spec}' is not a model", hint="give a folder written by sarlang train, a Hugging Face model folder, api:MODEL@URL or prior:BUILD")
