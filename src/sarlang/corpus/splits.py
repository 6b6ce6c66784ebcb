"""Deterministic train/test splits by group of images.

A scene's split comes from the SHA-256 of its group key, so the same place always lands in the
same split, whatever else is in the corpus and in whatever order it is built. A group is the
place an image shows (:attr:`~sarlang.schema.Scene.group`): the simulator's renderings of one
scene at several resolutions, or the tiles of one large image, share it, so no place is seen in
training and again in the test; an image without a group is its own group (its source and id).
All records of an image share its split. A source's own split (COCO's train/val/test files) is
kept when it has one. ``train_fraction`` 0 gives an all-test build, 1 an all-train build.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from sarlang.errors import SarlangError


def hashed_split(key: str, train_fraction: float = 0.7) -> str:
    """``train`` or ``test`` for ``key``, ``train`` with probability ``train_fraction`` (in [0, 1])."""
    if not 0 <= train_fraction <= 1:
        raise SarlangError(f"train fraction must lie in [0, 1], got {train_fraction}")
    value = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
    return "train" if value < train_fraction else "test"


def check_disjoint(pairs: Iterable[tuple[str, str]], what: str = "images") -> None:
    """Raise if an image (or a group, as ``what`` says) appears in two splits (pairs of key, split)."""
    splits: dict[str, set[str]] = defaultdict(set)
    for key, split in pairs:
        splits[key].add(split)
    leaked = {key: sorted(s) for key, s in splits.items() if len(s) > 1}
    if leaked:
        example = next(iter(leaked.items()))
        raise SarlangError(f"{len(leaked)} {what} are in more than one split, e.g. {example[0]} in {example[1]}")
