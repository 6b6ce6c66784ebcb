"""The words of the categories: plurals, articles and synonyms, one home for each.

Questions and captions are written with :func:`plural` and :func:`article`; answers are read
with the same plural and :data:`CATEGORY_SYNONYMS`, so "How many aircraft ..." is asked and
"aircraft" is understood the same way everywhere.
"""

from __future__ import annotations

#: Nouns whose plural is the singular (remote-sensing categories and their usual heads).
_INVARIANT = ("aircraft", "sheep", "fish")

#: Canonical category -> synonyms (singular; plurals are matched too). SARDet-100K's six
#: classes, SARLANG-1M's judge-prompt examples, and common remote-sensing names.
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "aircraft": ("aircraft", "airplane", "aeroplane", "plane", "jet", "airliner"),
    "ship": ("ship", "boat", "vessel"),
    "car": ("car", "automobile", "vehicle"),
    "bridge": ("bridge",),
    "storage tank": ("storage tank", "oil tank", "tank", "oil storage tank"),
    "harbor": ("harbor", "harbour", "port", "dock", "wharf"),
    "building": ("building", "rooftop", "roof"),
    "playground": ("playground", "ground track field", "running track", "athletic field"),
    "soccer field": ("soccer field", "football field", "soccer", "football"),
    "swimming pool": ("swimming pool", "pond", "pool"),
    "road": ("road", "street", "highway"),
    "water": ("water", "river", "lake", "sea", "ocean"),
}


def plural(noun: str) -> str:
    """English plural of a category name (its last word): ship -> ships, storage tank -> storage tanks, aircraft -> aircraft."""
    if noun.endswith(_INVARIANT):
        return noun
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its first letter)."""
    return "an" if word[:1].lower() in "aeiou" else "a"
