"""Grounded captions: concise and detailed descriptions built only from a scene's labels.

A caption states what the labels support and nothing else: the labelled categories with their
exact counts, where they are (the position rule of :mod:`sarlang.corpus.vqa`), the land cover
(classes covering at least 10% of the land-cover raster, largest first), and the ground
sampling distance and sensor when the source gives them. A scene without labelled objects says
that none of the source's categories is labelled. Phrasing varies by template, chosen with a
generator seeded by the scene id.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from sarlang.corpus.vqa import position_of
from sarlang.vocabulary import plural
from sarlang.schema import Scene

CONCISE_PROMPT = "Describe the content of this image in one sentence."
DETAILED_PROMPT = "Describe the content of this image in detail."

_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def count_phrase(n: int, category: str) -> str:
    word = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    return f"{word} {category if n == 1 else plural(category)}"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _landcover(scene: Scene) -> list[str]:
    if scene.landcover is None or not len(scene.landcover_classes):
        return []
    hist = np.bincount(np.asarray(scene.landcover).ravel(), minlength=len(scene.landcover_classes)).astype(float)
    share = hist / max(hist.sum(), 1)
    return [scene.landcover_classes[i] for i in np.argsort(share)[::-1] if share[i] >= 0.1]


def _where(scene: Scene, category: str) -> str | None:
    words = Counter(position_of(*o.center, scene.width, scene.height, False) for o in scene.objects if o.category == category).most_common()
    if len(words) > 1 and words[0][1] == words[1][1]:
        return None
    word = words[0][0]
    place = "in the center" if word == "center" else f"in the {word} part"
    return place if len(words) == 1 else f"mostly {place}"


def concise_caption(scene: Scene, categories: tuple[str, ...], rng: random.Random) -> str:
    counts = Counter(o.category for o in scene.objects)
    cover = _landcover(scene)
    setting = f" of {cover[0]}" if cover else ""
    if not counts:
        return rng.choice([f"A SAR image{setting} with no labelled {_join([plural(c) for c in categories]) or 'objects'}.",
                           f"A SAR scene{setting} in which none of the labelled categories appears."])
    objects = _join([count_phrase(counts[c], c) for c in sorted(counts, key=lambda c: (-counts[c], c))])
    return rng.choice([f"A SAR image{setting} showing {objects}.", f"This SAR image{setting} contains {objects}.", f"{objects[0].upper()}{objects[1:]} in a SAR image{setting}."])


def detailed_caption(scene: Scene, categories: tuple[str, ...], rng: random.Random) -> str:
    counts = Counter(o.category for o in scene.objects)
    sentences: list[str] = []
    cover = _landcover(scene)
    opening = rng.choice(["This SAR image", "The SAR scene", "This synthetic aperture radar image"])
    if cover:
        sentences.append(f"{opening} is dominated by {cover[0]}" + (f", with areas of {_join(cover[1:])}" if len(cover) > 1 else "") + ".")
    else:
        sentences.append(f"{opening} is {scene.width} by {scene.height} pixels.")
    if scene.gsd and scene.sensor:
        sentences.append(f"It has a ground sampling distance of {scene.gsd:g} m and was acquired by {scene.sensor}.")
    elif scene.gsd:
        sentences.append(f"It has a ground sampling distance of {scene.gsd:g} m.")
    elif scene.sensor:
        sentences.append(f"It was acquired by {scene.sensor}.")
    if not counts:
        names = _join([plural(c) for c in categories]) or "objects"
        sentences.append(f"No {names} are labelled in it.")
    for c in sorted(counts, key=lambda c: (-counts[c], c)):
        where = _where(scene, c)
        n = counts[c]
        verb = "is" if n == 1 else "are"
        phrase = count_phrase(n, c)
        if where:
            sentences.append(rng.choice([f"There {verb} {phrase} {where} of the image.", f"{phrase[0].upper()}{phrase[1:]} {verb} visible {where} of the image."]))
        else:
            sentences.append(f"There {verb} {phrase} spread over the image.")
    return " ".join(sentences)
