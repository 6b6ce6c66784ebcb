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

from sarlang.errors import SarlangError

#: SARLANG-1M's seven applications, as written in files, visual grounding (box answers, scored
#: by ``sarlang eval grounding``), referring segmentation (mask answers, scored by ``sarlang eval
#: segmentation``; neither ever by the VQA rules) and the change applications of a pair.
APPLICATIONS: tuple[str, ...] = (
    "image_description",
    "object_identification",
    "object_classification",
    "instance_counting",
    "region_referring",
    "object_positioning",
    "others",
    "visual_grounding",
    "referring_segmentation",
    "change_detection",
    "change_classification",
    "change_counting",
    "change_extent",
    "change_positioning",
    "change_region_referring",
)
#: Applications of a bi-temporal pair (two images of one place, earlier first; DeltaVLM's
#: questions): has anything changed (yes/no), what changed (a category of change), how many
#: objects appeared or left, what share of the area changed (binned), where most of it is, what
#: happened inside a box. Captions of changes are ``image_description`` records of a pair.
CHANGE_APPLICATIONS: tuple[str, ...] = tuple(a for a in APPLICATIONS if a.startswith("change_"))
#: Applications answered with boxes.
BOX_APPLICATIONS: tuple[str, ...] = ("visual_grounding",)
#: Applications answered with masks (the instances' outlines; :mod:`sarlang.formats.masks`).
MASK_APPLICATIONS: tuple[str, ...] = ("referring_segmentation",)
#: Applications scored by the VQA rules (not captions, not boxes, not masks).
VQA_APPLICATIONS: tuple[str, ...] = tuple(a for a in APPLICATIONS if a != "image_description" and a not in BOX_APPLICATIONS
                                          and a not in MASK_APPLICATIONS)
#: The VQA rule sets (``sarlang eval vqa --mode``): normalised, and SARLANG-1M's Evaluate_VQA.py.
VQA_MODES: tuple[str, ...] = ("strict", "official")

#: The two caption granularities of SARLANG-1M.
CAPTION_KINDS: tuple[str, ...] = ("concise", "detailed")


class SchemaError(SarlangError, ValueError):
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

    # the order of the fields is the order of the keys in records.jsonl (and of the Parquet
    # columns); the fields with defaults are keyword-only, so question_type can stand before question
    id: str
    image: str
    application: str
    question_type: str = field(default="", kw_only=True)
    question: str
    answer: str
    caption_kind: str | None = field(default=None, kw_only=True)
    split: str = field(default="", kw_only=True)
    source: str = field(default="", kw_only=True)
    #: Every image the record shows, in time order, when it shows several (a bi-temporal pair:
    #: the earlier date first, which is also ``image``); empty for a record of one image. Left
    #: out of the JSON when empty; before ``provenance``, which every writer puts last.
    images: tuple[str, ...] = field(default=(), kw_only=True)
    provenance: dict[str, Any] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        if self.application not in APPLICATIONS:
            raise SchemaError(
                f"unknown application '{self.application}' (expected one of {', '.join(APPLICATIONS)})"
            )
        if self.caption_kind is not None and self.caption_kind not in CAPTION_KINDS:
            raise SchemaError(f"unknown caption_kind '{self.caption_kind}' (expected concise or detailed)")
        if self.images and (len(self.images) < 2 or self.images[0] != self.image):
            raise SchemaError("field 'images' lists two or more images, the first being 'image'")

    @property
    def is_caption(self) -> bool:
        return self.application == "image_description"

    @property
    def all_images(self) -> tuple[str, ...]:
        """The images the record shows, in order: ``images``, or ``(image,)``."""
        return self.images or ((self.image,) if self.image else ())

    @property
    def is_pair(self) -> bool:
        """Whether the record shows a bi-temporal pair (two images of one place)."""
        return len(self.images) == 2

    @property
    def conversation(self) -> str:
        """The conversation the record is one turn of (``provenance["conversation"]``), or ""."""
        return str(self.provenance.get("conversation") or "")

    @property
    def turn(self) -> int:
        """The record's turn in its conversation, from 1 (``provenance["turn"]``); 0 outside one."""
        value = self.provenance.get("turn")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 and self.conversation else 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.images:
            del data["images"]
        else:
            data["images"] = list(self.images)
        return data

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
            images=_images(data.get("images")),
        )


def _images(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SchemaError("field 'images' must be a list of image paths")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's output for the record with the same ``id``.

    ``expert`` names the model that answered when a router chose among several
    (:mod:`sarlang.models.route`); ``passages`` the ids of the knowledge-base passages the prompt
    was given (retrieval-augmented prediction, :mod:`sarlang.knowledge`), best first. Both are
    left out of the JSON when empty.
    """

    id: str
    prediction: str
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    expert: str = ""
    passages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.expert:
            del data["expert"]
        if self.passages:
            data["passages"] = list(self.passages)
        else:
            del data["passages"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        if not isinstance(data, dict):
            raise SchemaError(f"expected a JSON object, got {type(data).__name__}")
        if "prediction" not in data:
            raise SchemaError("missing field 'prediction'")
        prediction = data["prediction"]
        if prediction is None:
            prediction = ""
        if isinstance(prediction, (int, float)) and not isinstance(prediction, bool):
            prediction = str(prediction)  # a model that answers 3, not "3"
        if not isinstance(prediction, str):
            raise SchemaError(f"field 'prediction' must be a string, got {type(prediction).__name__}")
        settings = data.get("settings") or {}
        passages = data.get("passages") or ()
        if not isinstance(passages, (list, tuple)) or not all(isinstance(p, str) for p in passages):
            raise SchemaError("field 'passages' must be a list of passage ids")
        return cls(
            id=_require_str(data, "id"),
            prediction=prediction,
            model=str(data.get("model") or ""),
            settings=settings if isinstance(settings, dict) else {},
            expert=str(data.get("expert") or ""),
            passages=tuple(passages),
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
    #: The turn of a conversation the item answers (from 1; 0 outside one).
    turn: int = 0


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


# ---------------------------------------------------------------------------------------------
# SAR pixels and scenes

#: What SAR pixel values mean. ``amplitude`` and ``intensity`` (= amplitude squared) are linear
#: radar brightness; ``db`` is 10 log10(intensity); ``display8`` is an 8-bit picture for viewing or
#: for a vision-language model, no longer radiometric.
UNITS: tuple[str, ...] = ("amplitude", "intensity", "db", "display8")


class UnitError(SarlangError, ValueError):
    """An operation got pixels in units it cannot use (the message says which it needs)."""


@dataclass
class SarImage:
    """One SAR raster band and what its values mean.

    ``data`` is a 2-D array (rows, columns): float32 for ``amplitude``, ``intensity`` and ``db``
    (NaN marks no-data), uint8 for ``display8``. ``gsd`` is the ground sampling distance in
    metres per pixel; ``crs`` (WKT) and ``transform`` (the six affine coefficients a, b, c, d, e, f
    of rasterio's ``Affine``) georeference it when known.
    """

    data: Any
    units: str
    polarization: str | None = None
    gsd: float | None = None
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.units not in UNITS:
            raise UnitError(f"unknown units '{self.units}' (expected one of {', '.join(UNITS)})")

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape[:2])  # type: ignore[return-value]

    def require(self, *units: str, operation: str = "this operation") -> None:
        """Refuse pixels in other units, saying what is needed and how to convert."""
        if self.units not in units:
            raise UnitError(
                f"{operation} needs {' or '.join(units)} pixels, got {self.units}"
                + ("; convert with sarlang.sar.scaling.db_to_intensity first" if self.units == "db" and "intensity" in units else "")
            )

    def with_data(self, data: Any, units: str | None = None) -> SarImage:
        """The same image metadata with new pixels (and units)."""
        return SarImage(data, units or self.units, self.polarization, self.gsd, self.crs, self.transform, self.source)


@dataclass
class SceneObject:
    """A labelled object: ``category``, ``box`` = [x, y, w, h] in pixels (COCO order, origin top-left).

    ``mask`` is an optional boolean array of the box's size (rows h, columns w, rounded out) or of
    the whole image; ``attributes`` hold anything else a source knows (truncated, difficult, angle).
    """

    category: str
    box: tuple[float, float, float, float]
    mask: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)


@dataclass
class Scene:
    """One image and its labels.

    ``image`` is the path of the image file relative to the dataset root (empty for scenes held
    in memory, as the simulator's are, whose pixels are in ``pixels``). ``width`` and ``height``
    are in pixels, ``gsd`` in metres per pixel. ``landcover`` is an optional class-index raster
    (rows, columns) with ``landcover_classes`` naming each index. ``group`` names the place the
    image shows: images of one group (renderings of one scene at several resolutions, tiles of
    one large image) always share a split; empty means the image is its own group.
    """

    image: str
    width: int
    height: int
    objects: list[SceneObject] = field(default_factory=list)
    gsd: float | None = None
    sensor: str = ""
    source: str = ""
    split: str = ""
    pixels: SarImage | None = None
    landcover: Any = None
    landcover_classes: tuple[str, ...] = ()
    optical_image: str = ""
    captions: list[str] = field(default_factory=list)
    id: str = ""
    group: str = ""
    #: A bi-temporal pair: ``image`` is the earlier date, ``later_image`` the later one (the same
    #: size, co-registered); ``dates`` names both as the source gives them (they sort in time order).
    later_image: str = ""
    dates: tuple[str, ...] = ()
    #: Objects at the later date, and whether each date's objects are labelled at all (a pair
    #: labelled at one date only gives no appeared/left answers).
    later_objects: list[SceneObject] = field(default_factory=list)
    object_dates: tuple[bool, bool] = (False, False)
    #: The reference change map (bool, rows x columns; True = changed), None when not known, and
    #: the labelled changes, each a :class:`SceneObject` whose category says what changed
    #: ("flooded area", "new building") with its box and mask.
    change_map: Any = None
    changes: list[SceneObject] = field(default_factory=list)
    later_pixels: SarImage | None = None
    #: The change map as a picture on disk (255 = changed), which records name for scoring maps.
    change_map_image: str = ""
    #: What made the later date, when a simulator did (changes applied, misregistration, calibration offset).
    pair_notes: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pair(self) -> bool:
        """Whether the scene is a bi-temporal pair (two images of one place)."""
        return bool(self.later_image) or self.later_pixels is not None
