"""Passages of a knowledge base: what retrieval returns and a prompt shows.

Two kinds, in any mix:

- **Documents**: a folder (searched recursively) of Markdown or text files, cut into paragraphs
  (blank-line separated; a Markdown heading is kept with the paragraph under it), and of JSONL
  files, one passage per line (``text``, optional ``id``, any other keys are its metadata).
- **A build's images**: one passage per image of the chosen split (default ``train``): its
  captions, and the facts the build's knowledge questions state (``sensor``, ``gsd``:
  :mod:`sarlang.corpus.facts`) as metadata and as a closing sentence, with the ``place`` (the
  group of images of one place) when the build knows it. A bi-temporal pair is one passage
  (its change captions, ``dates`` in the metadata and the text), found by its earlier image.
  Its ``image`` is the image's path, so image retrieval can find it.

A passage's ``id`` is stable: ``<file relative to the folder>#<paragraph>`` for documents (a JSONL
line's own ``id`` when it has one), ``image:<path relative to the records file>`` for images.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.schema import Reject

DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl")
#: Question type of a knowledge question (:mod:`sarlang.corpus.facts`) -> the passage metadata
#: key that states its answer: a passage is relevant to the question when that value is the answer.
FACT_KEYS = {"others.sensor": "sensor", "others.resolution": "gsd"}


@dataclass(frozen=True)
class Passage:
    """One retrievable text: ``id``, ``text``, ``metadata`` (what it states: sensor, gsd, source,
    document), and ``image``, the absolute path of the picture it describes ("" for documents)."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    image: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "metadata": self.metadata, "image": self.image}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(str(data["id"]), str(data["text"]), dict(data.get("metadata") or {}), str(data.get("image") or ""))


def _paragraphs(text: str) -> Iterator[str]:
    heading = ""
    for block in text.replace("\r\n", "\n").split("\n\n"):
        block = " ".join(block.split())
        if not block:
            continue
        if block.startswith("#") and len(block) < 200 and "\n" not in block:
            heading = block.lstrip("#").strip()
            continue
        yield f"{heading}: {block}" if heading else block


def document_passages(folder: str | Path, rejects: list[Reject] | None = None) -> list[Passage]:
    """The passages of a folder of documents (see the module docstring), in path order.

    Raises:
        InputError: the folder does not exist or holds no document.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"documents folder '{root}' does not exist", hint="give a folder of .md, .txt or .jsonl files")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
    if not files:
        raise InputError(f"'{root}' holds no document", hint=f"passages are read from {', '.join(DOCUMENT_SUFFIXES)} files")
    out: list[Passage] = []
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            if rejects is not None:
                rejects.append(Reject(str(path), 0, f"not readable as UTF-8 text: {exc}"))
            continue
        if path.suffix.lower() == ".jsonl":
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    row, reason = None, f"not JSON: {exc}"
                else:
                    reason = "" if isinstance(row, dict) and isinstance(row.get("text"), str) and row["text"].strip() else "no 'text'"
                if reason:
                    if rejects is not None:
                        rejects.append(Reject(str(path), number, reason))
                    continue
                metadata = {k: v for k, v in row.items() if k not in ("id", "text")}
                out.append(Passage(str(row.get("id") or f"{name}#{number}"), " ".join(row["text"].split()), {"document": name, **metadata}))
        else:
            for k, paragraph in enumerate(_paragraphs(text), 1):
                out.append(Passage(f"{name}#{k}", paragraph, {"document": name}))
    return out


def build_passages(records_file: str | Path, split: str | None = "train") -> list[Passage]:
    """One passage per image of a build's ``split`` (None: every split): its captions and facts.

    Raises:
        InputError: records that cannot be read, or none of the split.
    """
    from sarlang.formats.records import load_records, records_file as find_records

    path = find_records(records_file)
    records, _ = load_records(path)
    chosen = [r for r in records if split is None or r.split == split]
    if not chosen:
        raise InputError(f"no records{f' of split {split}' if split else ''} in '{path}'", hint="index another split with --split")
    captions: dict[str, list[str]] = {}
    facts: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for r in chosen:
        captions.setdefault(r.image, [])
        sources.setdefault(r.image, r.source)
        if r.provenance.get("group"):
            facts.setdefault(r.image, {})["place"] = str(r.provenance["group"])
        if r.is_pair and r.provenance.get("dates"):
            facts.setdefault(r.image, {})["dates"] = [str(d) for d in r.provenance["dates"]]
        if r.is_caption and r.caption_kind == "detailed":
            captions[r.image].append(r.answer)
        elif r.is_caption:
            captions[r.image].insert(0, r.answer)
        key = FACT_KEYS.get(r.question_type)
        if key:
            facts.setdefault(r.image, {})[key] = r.answer
    out = []
    for image, texts in captions.items():
        found = facts.get(image, {})
        sentence = " ".join(filter(None, [f"Acquired by {found['sensor']}." if "sensor" in found else "",
                                          f"Ground sampling distance {found['gsd']}." if "gsd" in found else "",
                                          f"Dates {' and '.join(found['dates'])}." if "dates" in found else ""]))
        text = " ".join([*texts, sentence]).strip()
        if not text:
            continue
        out.append(Passage(f"image:{image}", text, {"source": sources[image], **found}, str((path.parent / image).resolve())))
    return out
