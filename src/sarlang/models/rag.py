"""Retrieval-augmented prompts for any model: the retriever of ``sarlang predict --retrieve`` and
of training with ``retrieve:`` (the knowledge base itself is :mod:`sarlang.knowledge`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sarlang.errors import InputError


def load_image_model(spec: str) -> tuple[Any, dict[str, Any]]:
    """The SAR-CLIP (or other embedding) model of ``spec`` and what names it in an index's manifest.

    Raises:
        InputError: ``spec`` is not an embedding model.
    """
    from sarlang.knowledge.index import image_model_identity
    from sarlang.models.base import EmbeddingModel, load_model

    model = load_model(spec)
    if not isinstance(model, EmbeddingModel):
        raise InputError(f"'{spec}' is not an embedding model, so it cannot embed images for retrieval",
                         hint="give a SAR-CLIP folder (sarlang train with model: clip)")
    return model, image_model_identity(model, spec)


def open_retriever(index: str | Path, k: int = 3, by: str = "both", clip: str | None = None) -> Any:
    """A :class:`~sarlang.knowledge.retrieve.Retriever` over the index in ``index``: MiniLM for
    questions and, retrieving by image, the index's SAR-CLIP model (``clip``, default the folder
    it was built with).

    Raises:
        InputError: an unknown ``by``, an index that cannot be read, or a missing or other image model.
    """
    from sarlang.knowledge.index import KnowledgeIndex, text_encoder
    from sarlang.knowledge.retrieve import RETRIEVE_BY, Retriever

    if by not in RETRIEVE_BY:
        raise InputError(f"unknown retrieval '{by}'", hint=f"use one of {', '.join(RETRIEVE_BY)}")
    loaded = KnowledgeIndex.load(index)
    image_model, identity = None, None
    if by != "question":
        spec = clip or loaded.manifest.get("image_model_source")
        if spec:
            if not Path(spec).exists() and not clip:
                raise InputError(f"the index's image model '{spec}' is not there any more", hint="pass --clip MODEL (the SAR-CLIP folder it was built with)")
            image_model, identity = load_image_model(spec)
    return Retriever(loaded, k, by, text_encoder(), image_model, identity)
