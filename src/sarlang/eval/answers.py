"""Rules that decide whether a predicted answer matches the ground truth, before any judge.

Two rule sets:

``official``
    SARLANG-1M's ``Evaluate_VQA.py``, exactly: lower-case question, ground truth and
    prediction; correct if the ground truth is a substring of the prediction; otherwise, if the
    ground truth is ``yes``, ``no`` or an integer 0–99, correct only on exact equality;
    otherwise ask the judge.
``strict``
    The same intent without the substring rule's false positives (``no`` inside ``not sure``,
    ``1`` inside ``10``, ``car`` inside ``cargo ship``). Both sides are normalised (case,
    punctuation, articles, trailing period), then, in order: exact match; yes/no questions
    decided by the prediction's leading yes/no; counts parsed from digits or words (``two`` =
    2) and compared as numbers; positions mapped to one vocabulary (``upper`` = ``top``,
    ``centre`` = ``middle`` = ``center``); categories mapped through a synonym table (``plane`` =
    ``airplane`` = ``aircraft``, ``harbour`` = ``harbor``, ``boat`` = ``ship``); the ground truth
    as a whole phrase of the prediction; and only then the judge.

Each rule returns ``True`` / ``False`` when it decides, or ``None`` to pass the item on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sarlang.vocabulary import CATEGORY_SYNONYMS, extract_numbers, is_number_token, plural

@dataclass(frozen=True, slots=True)
class RuleResult:
    """What a rule set decided: ``correct`` is None when the item goes to the judge."""

    correct: bool | None
    rule: str


# ---------------------------------------------------------------------------------------------
# official

_OFFICIAL_CLOSED = frozenset(["yes", "no", *map(str, range(100))])


def official_rule(ground_truth: str, prediction: str) -> RuleResult:
    """SARLANG-1M's rule chain, exactly (see the module docstring)."""
    gt = ground_truth.lower()
    pred = prediction.lower()
    if gt in pred:
        return RuleResult(True, "substring")
    if gt in _OFFICIAL_CLOSED:
        return RuleResult(gt == pred, "closed_exact")
    return RuleResult(None, "judge")


# ---------------------------------------------------------------------------------------------
# strict: normalisation

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_DECIMAL_POINT = re.compile(r"(?<!\d)\.|\.(?!\d)")
_PUNCT = re.compile(r"[^\w\s.]|_")
_SPACES = re.compile(r"\s+")


def normalize_answer(text: str) -> str:
    """Lower-case, strip accents' compatibility forms, punctuation (keeping decimal points), articles and extra spaces."""
    s = unicodedata.normalize("NFKC", text).lower().strip()
    s = _THOUSANDS.sub("", s)
    s = _NON_DECIMAL_POINT.sub(" ", s)
    s = _PUNCT.sub(" ", s)
    s = _ARTICLES.sub(" ", s)
    return _SPACES.sub(" ", s).strip()


# ---------------------------------------------------------------------------------------------
# strict: numbers

_ZERO_ANSWERS = frozenset(["no", "none", "nothing", "zero", "no one", "not any"])
_NEGATION = re.compile(r"\b(?:no|none|zero|not any)\b")


def parse_count(normalized: str) -> float | None:
    """The number an answer consists of (``"3"``, ``"three"``, ``"twenty one"``), else None."""
    if normalized in _ZERO_ANSWERS:
        return 0.0
    numbers = extract_numbers(normalized)
    if len(numbers) != 1:
        return None
    rest = [t for t in normalized.split() if not is_number_token(t)]
    return numbers[0] if not rest else None


# ---------------------------------------------------------------------------------------------
# strict: positions

_POSITION_WORDS = {
    "top": "top",
    "upper": "top",
    "up": "top",
    "above": "top",
    "bottom": "bottom",
    "lower": "bottom",
    "below": "bottom",
    "down": "bottom",
    "left": "left",
    "leftmost": "left",
    "right": "right",
    "rightmost": "right",
    "center": "center",
    "centre": "center",
    "central": "center",
    "middle": "center",
    "centered": "center",
    "centred": "center",
}
POSITIONS = frozenset(["top", "center", "bottom", "left", "right"])
_POSITION_FILLER = frozenset(["part", "side", "corner", "region", "area", "portion", "half", "of", "in", "at", "on", "image", "picture", "section"])


def position_terms(normalized: str) -> frozenset[str]:
    """Canonical position words in an answer (``upper left corner`` -> {top, left})."""
    return frozenset(_POSITION_WORDS[t] for t in normalized.split() if t in _POSITION_WORDS)


def is_position_answer(normalized: str) -> bool:
    tokens = normalized.split()
    return bool(tokens) and any(t in _POSITION_WORDS for t in tokens) and all(
        t in _POSITION_WORDS or t in _POSITION_FILLER for t in tokens
    )


# ---------------------------------------------------------------------------------------------
# strict: categories

def _phrase_forms(phrase: str) -> list[str]:
    words = phrase.split()
    forms = {phrase, " ".join([*words[:-1], plural(words[-1])])}
    if phrase == "aircraft":
        forms.add("aircrafts")  # not English, but models write it
    return sorted(forms, key=len, reverse=True)


_CATEGORY_OF: dict[str, str] = {}
for _canonical, _names in CATEGORY_SYNONYMS.items():
    for _name in _names:
        for _form in _phrase_forms(_name):
            _CATEGORY_OF[_form] = _canonical
_CATEGORY_PATTERN = re.compile(r"\b(" + "|".join(re.escape(f) for f in sorted(_CATEGORY_OF, key=len, reverse=True)) + r")\b")


def category_of(normalized: str) -> str | None:
    """Canonical category if the whole answer names one (``airplanes`` -> ``aircraft``), else None."""
    return _CATEGORY_OF.get(normalized)


def categories_in(normalized: str) -> frozenset[str]:
    """Canonical categories named anywhere in an answer (longest names first)."""
    return frozenset(_CATEGORY_OF[m] for m in _CATEGORY_PATTERN.findall(normalized))


# ---------------------------------------------------------------------------------------------
# strict: the rule chain


def strict_rule(ground_truth: str, prediction: str) -> RuleResult:
    """The strict rule chain (see the module docstring)."""
    gt = normalize_answer(ground_truth)
    pred = normalize_answer(prediction)
    if gt == pred:
        return RuleResult(True, "exact")
    if gt in ("yes", "no"):
        first = pred.split(" ", 1)[0] if pred else ""
        if first in ("yes", "no"):
            return RuleResult(first == gt, "yes_no")
        return RuleResult(None, "judge")
    gt_count = parse_count(gt)
    if gt_count is not None:
        if pred in _ZERO_ANSWERS:
            return RuleResult(gt_count == 0, "number")
        numbers = set(extract_numbers(pred))
        if not numbers and _NEGATION.search(pred):
            numbers = {0.0}  # "there are no ships"
        if len(numbers) == 1:
            return RuleResult(numbers.pop() == gt_count, "number")
        return RuleResult(None, "judge")
    if is_position_answer(gt):
        found = position_terms(pred)
        if found:
            return RuleResult(found == position_terms(gt), "position")
        return RuleResult(None, "judge")
    gt_category = category_of(gt)
    if gt_category is not None:
        found_categories = categories_in(pred)
        if found_categories:
            return RuleResult(found_categories == {gt_category}, "category")
        return RuleResult(None, "judge")
    if gt and re.search(r"\b" + re.escape(gt) + r"\b", pred):
        return RuleResult(True, "phrase")
    return RuleResult(None, "judge")


RULE_SETS = {"strict": strict_rule, "official": official_rule}
