"""Table-driven tests of both VQA rule sets."""

from __future__ import annotations

import pytest

from sarlang.eval.answers import (
    categories_in,
    extract_numbers,
    normalize_answer,
    official_rule,
    parse_count,
    position_terms,
    strict_rule,
)

# ground truth, prediction, official verdict (None = judge), strict verdict (None = judge), strict rule
CASES = [
    ("yes", "yes", True, True, "exact"),
    ("yes", "Yes, there is a ship.", True, True, "yes_no"),
    ("no", "not sure", True, None, "judge"),  # official's substring false positive
    ("no", "No.", True, True, "exact"),
    ("no", "yes", False, False, "yes_no"),
    ("yes", "there is a ship", False, None, "judge"),
    ("1", "10", True, False, "number"),  # "1" inside "10"
    ("2", "two", False, True, "number"),
    ("2", "There are 2 ships.", True, True, "number"),
    ("21", "twenty-one", False, True, "number"),
    ("0", "There are no ships.", False, True, "number"),
    ("3", "3 ships and 2 cars", True, None, "judge"),
    ("12", "twelve", False, True, "number"),
    ("105", "one hundred and five", None, True, "number"),
    ("car", "cargo ship", True, False, "category"),  # "car" inside "cargo"
    ("aircraft", "Airplanes", None, True, "category"),
    ("harbor", "harbour", None, True, "category"),
    ("ship", "a boat", None, True, "category"),
    ("ship", "a boat and a car", None, False, "category"),
    ("tank", "storage tanks", True, True, "category"),
    ("top left", "upper-left corner", None, True, "position"),
    ("center", "middle", None, True, "position"),
    ("center", "centre of the image", None, True, "position"),
    ("right", "left", None, False, "position"),
    ("bottom", "lower part", None, True, "position"),
    ("rectangular", "it is rectangular", True, True, "phrase"),
    ("in a grid", "scattered", None, None, "judge"),
    ("farmland", "cropland", None, None, "judge"),
]


@pytest.mark.parametrize("gt,pred,official,strict,rule", CASES)
def test_rule_sets(gt: str, pred: str, official: bool | None, strict: bool | None, rule: str) -> None:
    assert official_rule(gt, pred).correct == official
    result = strict_rule(gt, pred)
    assert result.correct == strict
    assert result.rule == rule


def test_official_is_the_published_script() -> None:
    # Lower-casing, substring first, closed set 'yes','no','0'..'99' by exact equality, no strip.
    assert official_rule("Ship", "a SHIP").correct is True
    assert official_rule("99", "99 ").correct is True  # substring
    assert official_rule("99", "ninety-nine").correct is False
    assert official_rule("100", "one hundred").correct is None  # 100 is outside the closed set
    assert official_rule("yes", " Yes ").correct is True
    assert official_rule("no", "n o").correct is False


@pytest.mark.parametrize(
    "text,expected",
    [("The Ship.", "ship"), ("A  harbour,  here!", "harbour here"), ("3.5 m", "3.5 m"), ("1,000 ships", "1000 ships"), ("top-left", "top left"), ("an_apple", "apple")],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("two ships", [2.0]), ("twenty one", [21.0]), ("one hundred twenty three", [123.0]), ("2 and 3", [2.0, 3.0]), ("two three", [2.0, 3.0]), ("3.5", [3.5]), ("none", [])],
)
def test_extract_numbers(text: str, expected: list[float]) -> None:
    assert extract_numbers(text) == expected


def test_parse_count_only_for_bare_numbers() -> None:
    assert parse_count("7") == 7
    assert parse_count("seven") == 7
    assert parse_count("none") == 0
    assert parse_count("7 ships") is None
    assert parse_count("ship") is None


def test_vocabularies() -> None:
    assert position_terms("upper left corner") == {"top", "left"}
    assert categories_in("two planes and a vessel near the harbour") == {"aircraft", "ship", "harbor"}
    assert categories_in("oil storage tanks") == {"storage tank"}
