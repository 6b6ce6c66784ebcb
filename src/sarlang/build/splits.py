"""Deterministic train/test splits by image.

An image's split comes from the SHA-256 of its key (source and image id), so the same image
always lands in the same split, whatever else is in the corpus and in whatever order it is
built; all records of an image share its split, so no image is in two splits. A source's own
split (COCO's train/val/test files) is kept when it has one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from sarlang.errors import SarlangError


def hashed_split(key: str, train_fraction: float = 0.7) -> str:
    if not 0 < train_fraction < 1:
        raise SarlangError(f"train fraction must lie in (0, 1), got {train_fraction}")
    value = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
    return "train" if value < train_fraction else "test"


def check_disjoint(pairs: Iterable[tuple[str, str]]) -> None:
    """Raise if an image appears in two splits (pairs of image, split)."""
    splits: dict[str, set[str]] = defaultdict(set)
    for image, split in pairs:
        splits[image].add(split)
    leaked = {image: sorted(s) for image, s in splits.items() if len(s) > 1}
    if leaked:
        example = next(iter(leaked.items()))
        raise SarlangError(f"{len(leaked)} images are in more than one split, e.g. {example[0]} in {example[1]}")
