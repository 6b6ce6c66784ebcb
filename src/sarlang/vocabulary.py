"""The words of the categories and numbers: plurals, articles, synonyms, number words; one home for each.

Questions and captions are written with :func:`plural` and :func:`article`; answers are read
with the same plural and :data:`CATEGORY_SYNONYMS`, so "How many aircraft ..." is asked and
"aircraft" is understood the same way everywhere.
"""

from __future__ import annotations

import re

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


def label_name(raw: str) -> str:
    """A category name from a dataset's raw label: a bare class number (MSTAR's ``7``) becomes
    ``class 7 target``, anything else its lower-cased self; every source names classes this way,
    so sources can be mixed in one build."""
    raw = raw.strip()
    return f"class {raw} target" if raw.isdigit() else raw.lower()


def counted(n: int | float, noun: str) -> str:
    """``n`` and the noun, singular for exactly one: ``counted(1, "tile")`` is "1 tile",
    ``counted(3, "tile")`` "3 tiles", ``counted(0, "image")`` "0 images"."""
    return f"{n} {noun if n == 1 else plural(noun)}"


def plural(noun: str) -> str:
    """English plural of a category name (its last word): ship -> ships, storage tank -> storage tanks, aircraft -> aircraft."""
    if noun.endswith(_INVARIANT):
        return noun
    if noun.endswith(("epoch", "stomach", "monarch", "patriarch", "tech")):  # a hard "ch": epochs
        return noun + "s"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its first letter)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_TOKEN = re.compile(r"^\d+(?:\.\d+)?$")


def extract_numbers(normalized: str) -> list[float]:
    """Numbers written with digits or English number words, in order of appearance."""
    values: list[float] = []
    current: float | None = None
    for token in normalized.split():
        if _NUMBER_TOKEN.match(token):
            if current is not None:
                values.append(current)
                current = None
            values.append(float(token))
        elif token in _UNITS or token in _TENS:
            word_value = _UNITS.get(token, _TENS.get(token, 0))
            # "twenty one": a unit after a bare tens word continues the same number.
            if current is not None and current % 100 >= 20 and current % 10 == 0 and token in _UNITS and word_value < 10:
                current += word_value
            elif current is not None and current >= 100 and current % 100 == 0:
                current += word_value
            else:
                if current is not None:
                    values.append(current)
                current = float(word_value)
        elif token in _SCALES and current is not None:
            current *= _SCALES[token]
        elif token == "and" and current is not None and current >= 100:
            continue
        else:
            if current is not None:
                values.append(current)
                current = None
    if current is not None:
        values.append(current)
    return values


def is_number_token(token: str) -> bool:
    """Whether a token belongs to a written number (digits, a number word, a scale, or "and" between them)."""
    return bool(_NUMBER_TOKEN.match(token)) or token in _UNITS or token in _TENS or token in _SCALES or token == "and"


#: The position words of object positioning (SARLANG-1M's), and the nine cells of ``--nine-regions``.
POSITION_WORDS = ("top", "center", "bottom", "left", "right")
NINE_CELLS = (("top left", "top", "top right"), ("left", "center", "right"), ("bottom left", "bottom", "bottom right"))


def position_of(x: float, y: float, width: int, height: int, nine: bool) -> str:
    """The position word of a point (x, y in pixels) on a 3x3 grid of the image: the middle cell is
    ``center``, any other cell ``top``/``bottom`` or ``left``/``right``, whichever way the point
    lies farther from the image centre; with ``nine``, the cell itself (``top left`` ... ``bottom right``)."""
    col = min(2, int(3 * x / width)) if width else 1
    row = min(2, int(3 * y / height)) if height else 1
    if nine:
        return NINE_CELLS[row][col]
    if row == 1 and col == 1:
        return "center"
    du, dv = x / width - 0.5, y / height - 0.5
    if abs(dv) >= abs(du):
        return "top" if dv < 0 else "bottom"
    return "left" if du < 0 else "right"


#: Share of a bi-temporal pair's area that must change for the pair to count as changed.
CHANGE_SHARE = 0.005
#: The bins of a pair's changed share, (upper bound, answer), and the question that lists them.
EXTENT_BINS = ((CHANGE_SHARE, "none"), (0.05, "small"), (0.15, "moderate"), (0.30, "large"), (1.01, "very large"))
EXTENT_QUESTION = ("How much of the area changed between the two images: none, small (under 5%), moderate (5-15%), "
                   "large (15-30%) or very large (over 30%)?")
#: How a caption says each cause of change happened; any other cause (a source's ``change=``) is said as it is.
CAUSE_PHRASES = {"flooded area": "an area was flooded", "receded flood water": "flood water receded", "new building": "a new building appeared",
                 "harvested field": "a field was harvested", "ships": "ships came or went"}
#: The caption of a pair where nothing changed.
NO_CHANGE = "No significant change between the two images."


def extent_bin(share: float) -> str:
    """The answer to :data:`EXTENT_QUESTION` for a changed share of the area (a fraction)."""
    return next(name for top, name in EXTENT_BINS if share < top)
