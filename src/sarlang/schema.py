"""Core types shared by every pipeline stage.

A :class:`Record` is one image–text pair of a benchmark (a caption or a question with its
answer), a :class:`Prediction` is a model's output for one record, an :class:`EvalItem` is the
two joined for scoring, and :class:`Accuracy` is an accuracy with its count and 95% interval.
Records and predictions travel as JSONL, one object per line, with the field names below.

The seven applications are those of SARLANG-1M (Wei et al., IEEE TGRS 2026, arXiv 2504.03254).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: SARLANG-1M's seven applications, as written in files.
APPLICATIONS: tuple[str, ...] = (
    "image_description",
    "object_identification",
    "object_classification",
    "instance_counting",
    "region_referring",
    "object_positioning",
    "others",
)

#: The two caption granularities of SARLANG-1M.
CAPTION_KINDS: tuple[str, ...] = ("concise", "detailed")


class SchemaError(ValueError):
    """A dictionary does not describe a valid record or prediction (the message names the field)."""


def _require_str(data: dict[str, Any], name: str, *, allow_empty: bool = False) -> str:
    if name not in data:
        raise SchemaError(f"missing field '{name}'")
    value = data[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise SchemaError(f"field '{name}' must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise SchemaError(f"field '{name}' is empty")
    return value


@dataclass(frozen=True, slots=True)
class Record:
    """One image–text pair of a benchmark.

    ``image`` is a path relative to the dataset root. For captions ``application`` is
    ``image_description``, ``question`` is the caption prompt and ``answer`` the caption, with
    ``caption_kind`` ``concise`` or ``detailed``. ``provenance`` says which template or
    generator (and version) produced the text.
    """

    id: str
    image: str
    application: str
    question: str
    answer: str
    question_type: str = ""
    caption_kind: str | None = None
    split: str = ""
    source: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.application not in APPLICATIONS:
            raise SchemaError(
                f"unknown application '{self.application}' (expected one of {', '.join(APPLICATIONS)})"
            )
        if self.caption_kind is not None and self.caption_kind not in CAPTION_KINDS:
            raise SchemaError(f"unknown caption_kind '{self.caption_kind}' (expected concise or detailed)")

    @property
    def is_caption(self) -> bool:
        return self.application == "image_description"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Build a record from a JSON object, raising :class:`SchemaError` on a bad field."""
        if not isinstance(data, dict):
            raise SchemaError(f"expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SchemaError(f"unknown field(s) {', '.join(unknown)}")
        provenance = data.get("provenance") or {}
        if not isinstance(provenance, dict):
            raise SchemaError("field 'provenance' must be an object")
        caption_kind = data.get("caption_kind")
        return cls(
            id=_require_str(data, "id"),
            image=_require_str(data, "image", allow_empty=True) if "image" in data else "",
            application=_require_str(data, "application"),
            question=_require_str(data, "question", allow_empty=True) if "question" in data else "",
            answer=_require_str(data, "answer"),
            question_type=str(data.get("question_type") or ""),
            caption_kind=str(caption_kind) if caption_kind else None,
            split=str(data.get("split") or ""),
            source=str(data.get("source") or ""),
            provenance=provenance,
        )


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's output for the record with the same ``id``."""

    id: str
    prediction: str
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        if not isinstance(data, dict):
            raise SchemaError(f"expected a JSON object, got {type(data).__name__}")
        if "prediction" not in data:
            raise SchemaError("missing field 'prediction'")
        prediction = data["prediction"]
        if prediction is None:
            prediction = ""
        if not isinstance(prediction, str):
            raise SchemaError(f"field 'prediction' must be a string, got {type(prediction).__name__}")
        settings = data.get("settings") or {}
        return cls(
            id=_require_str(data, "id"),
            prediction=prediction,
            model=str(data.get("model") or ""),
            settings=settings if isinstance(settings, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class EvalItem:
    """A prediction joined to what it is scored against.

    ``references`` holds one or more ground-truth strings (several for captions of the same
    image). ``row`` is the 1-based line of the prediction file the item came from.
    """

    id: str
    prediction: str
    references: tuple[str, ...]
    question: str = ""
    application: str = ""
    question_type: str = ""
    image: str = ""
    row: int = 0


@dataclass(frozen=True, slots=True)
class Reject:
    """An input row left out of scoring, with the reason (written to reports, never dropped silently)."""

    source: str
    row: int
    reason: str
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Accuracy:
    """An accuracy over ``n`` items with its 95% bootstrap interval ``ci95`` (fractions in [0, 1])."""

    accuracy: float
    n: int
    correct: int
    ci95: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "n": self.n, "correct": self.correct, "ci95": list(self.ci95)}
