"""SARLANG-1M's text-transfer path: LLM-written captions, SAR-expert checks, and human review.

``generate_llm_captions`` asks any OpenAI-compatible endpoint (through
:class:`sarlang.chat.ChatClient`: concurrent, retried, cached on disk, so a killed run resumes)
for one detailed caption per image of a build, in one of two ways:

``facts``    rewrite the image's grounded facts (its grounded caption and label counts) into
             fluent text, optionally showing the SAR image too (``with_image``);
``optical``  caption the paired optical image of the same area (``optical_dir/<image stem>.*``),
             as SARLANG-1M did, then keep only what the SAR labels support.

Every reply then goes through the SAR-expert rules the paper describes: colour words are removed
(SAR has no colour); every "<number> <category>" is checked against the labelled count, and
every category the text names is checked against the labels; disagreements are kept as
``flags`` in the record's provenance for the reviewer, never silently fixed. A review
round-trip exports the generated captions as a CSV sheet (``corrected`` and ``note`` columns
to fill in) and imports the corrected sheet, recording in each record what the reviewer
changed (``provenance.review``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from sarlang.corpus.captions import DETAILED_PROMPT
from sarlang.vocabulary import plural
from sarlang.errors import InputError
from sarlang.schema import Reject
from sarlang.vocabulary import extract_numbers
from sarlang.files import Progress, atomic_write_text, counting, csv_text, iter_csv, read_bytes

PROMPT_VERSION = "1"
REWRITE_PROMPT = (
    "You are a SAR (synthetic aperture radar) image analyst. Rewrite the following facts about one SAR image into a "
    "fluent, detailed description of two to four sentences. Use only these facts: do not add objects, counts, colours "
    "or anything they do not state.\nFacts:\n{facts}"
)
OPTICAL_PROMPT = (
    "Describe this optical satellite image in two to four sentences: the land cover, the objects you see, "
    "how many there are and where they are in the image."
)
COLOUR_WORDS = (
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white", "grey", "gray", "golden",
    "silver", "beige", "turquoise", "cyan", "magenta", "violet", "colorful", "colourful", "reddish", "greenish", "bluish",
)
_COLOUR = re.compile(r"\b(?:" + "|".join(COLOUR_WORDS) + r")(?:-(?:colou?red|toned|roofed))?\b,? ?", re.IGNORECASE)
_COUNT_QUESTION = re.compile(r"^(?:The classes are: [^.]*\. )?(?:How many (.+?) are there|What is the number of (.+?) in|Count the (.+?) in)\b")


def sar_expert_rules(text: str, counts: dict[str, int], known_categories: set[str]) -> tuple[str, list[str]]:
    """Remove colour words; flag counts and categories the labels do not support.

    ``counts`` are the labelled instances per category of the image; ``known_categories`` every
    category the corpus knows (a named category absent from ``counts`` is flagged).
    """
    flags: list[str] = []
    removed = sorted({m.group(0).strip(" ,").lower() for m in _COLOUR.finditer(text)})
    cleaned = re.sub(r"\s{2,}", " ", _COLOUR.sub("", text)).strip()
    if removed:
        flags.append("removed colour words: " + ", ".join(removed))
    lowered = cleaned.lower()
    for category in sorted(known_categories | set(counts)):
        forms = {category, plural(category)}
        pattern = r"\b(" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + r")\b"
        mentions = list(re.finditer(pattern, lowered))
        if not mentions:
            continue
        if category not in counts:
            flags.append(f"mentions {category}, which the labels do not contain")
            continue
        for m in mentions:
            before = lowered[max(0, m.start() - 40) : m.start()].split()
            numbers = extract_numbers(" ".join(before[-3:])) if before else []
            if numbers and numbers[-1] != counts[category]:
                flags.append(f"count of {plural(category)}: text says {numbers[-1]:g}, labels say {counts[category]}")
    return cleaned, flags


def _image_facts(records: list[dict[str, Any]]) -> tuple[str, dict[str, int]]:
    """The grounded caption of an image and its labelled counts, from its records."""
    caption = next((r["answer"] for r in records if r.get("question_type") == "image_description.detailed"), "")
    counts: dict[str, int] = {}
    singular = {plural(r["answer"]): r["answer"] for r in records if r["application"] == "region_referring"}
    for r in records:
        if r["application"] == "object_identification" and r["answer"] == "yes":
            m = re.search(r"(?:Is there|Does the image contain|Can) an? (.+?) (?:in the image|be seen)", r["question"])
            if m:
                singular[plural(m.group(1))] = m.group(1)
    for r in records:
        if r["application"] == "instance_counting":
            m = _COUNT_QUESTION.search(r["question"])
            if m:
                many = next(g for g in m.groups() if g)
                counts[singular.get(many, many)] = int(r["answer"])
    return caption, counts


def _load_rows(build_dir: Path) -> list[dict[str, Any]]:
    path = build_dir / "records.jsonl"
    if not path.exists():
        raise InputError(f"'{build_dir}' has no records.jsonl", hint="run sarlang build first")
    return [json.loads(line) for line in read_bytes(path, "records file").decode("utf-8").split("\n") if line.strip()]


def _write_rows(build_dir: Path, rows: list[dict[str, Any]]) -> None:
    from sarlang.corpus.dataset import rewrite_records

    rewrite_records(build_dir, rows)


def generate_llm_captions(
    build_dir: str | Path,
    client: Any,
    mode: str = "facts",
    with_image: bool = False,
    optical_dir: str | Path | None = None,
    on_progress: Progress | None = None,
    restart: bool = False,
) -> dict[str, Any]:
    """Add one LLM-written, rule-checked detailed caption per image to a build (see the module docstring).

    A run replaces the LLM captions of an earlier run (its replies come from the cache when the
    endpoint, model, settings and prompt are the same). Captions a reviewer has already checked
    are never replaced silently: that needs ``restart``.
    """
    from sarlang.chat import image_content

    if mode not in ("facts", "optical"):
        raise InputError(f"unknown mode '{mode}'", hint="use facts or optical")
    if mode == "optical" and optical_dir is None:
        raise InputError("optical mode needs the folder of paired optical images (--optical-dir)")
    build = Path(build_dir)
    every = _load_rows(build)
    reviewed = [r for r in every if r.get("provenance", {}).get("generator") == "llm" and "review" in r["provenance"]]
    if reviewed and not restart:
        raise InputError(f"{len(reviewed)} LLM captions of '{build}' were reviewed; a new run would replace them",
                         hint="pass --restart to discard them and their review, or keep this build and caption a copy")
    rows = [r for r in every if r.get("provenance", {}).get("generator") != "llm"]
    by_image: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_image[r["image"]].append(r)
    known = {r["answer"] for r in rows if r["application"] == "region_referring"}
    images: list[str] = []
    conversations: list[list[dict[str, Any]]] = []
    facts_of: dict[str, tuple[str, dict[str, int]]] = {}
    rejects: list[Reject] = []
    for image, records in by_image.items():
        facts, counts = _image_facts(records)
        facts_of[image] = (facts, counts)
        if mode == "facts":
            content: Any = REWRITE_PROMPT.format(facts=facts)
            if with_image:
                content = [{"type": "text", "text": content}, image_content(build / image)]
        else:
            optical = next((p for p in sorted(Path(optical_dir).glob(f"{Path(image).stem}.*"))), None)
            if optical is None:
                rejects.append(Reject(image, 0, "no paired optical image"))
                continue
            content = [{"type": "text", "text": OPTICAL_PROMPT}, image_content(optical)]
        images.append(image)
        conversations.append([{"role": "user", "content": content}])
    replies = client.complete(conversations, progress=counting(on_progress, len(conversations)))
    added = []
    for image, reply in zip(images, replies):
        if not reply.ok:
            rejects.append(Reject(image, 0, f"no reply: {reply.text}"))
            continue
        facts, counts = facts_of[image]
        text, flags = sar_expert_rules(reply.text, counts, known)
        if not text:
            rejects.append(Reject(image, 0, "empty reply"))
            continue
        template = by_image[image][0]
        short = hashlib.sha1(f"llm:{image}".encode()).hexdigest()[:12]
        added.append({
            "id": f"{short}-llm", "image": image, "application": "image_description", "question_type": f"image_description.llm_{mode}",
            "question": DETAILED_PROMPT, "answer": text, "caption_kind": "detailed", "split": template["split"], "source": template["source"],
            "provenance": {"generator": "llm", "model": getattr(client, "model", ""), "mode": mode, "prompt_version": PROMPT_VERSION,
                           "with_image": with_image, "flags": flags, "raw": reply.text},
        })
    _write_rows(build, rows + added)
    return {"captions": len(added), "flagged": sum(1 for a in added if a["provenance"]["flags"]), "rejects": rejects}


REVIEW_COLUMNS = ["id", "image", "question", "answer", "flags", "corrected", "note"]


def export_review_sheet(build_dir: str | Path, sheet: str | Path) -> int:
    """Write the LLM-written records of a build to a CSV sheet for review; returns the number of rows."""
    rows = [r for r in _load_rows(Path(build_dir)) if r.get("provenance", {}).get("generator") == "llm"]
    table = [REVIEW_COLUMNS] + [[r["id"], r["image"], r["question"], r["answer"], " | ".join(r["provenance"].get("flags", [])), "", ""] for r in rows]
    atomic_write_text(sheet, csv_text(table))
    return len(rows)


def import_review_sheet(build_dir: str | Path, sheet: str | Path) -> dict[str, Any]:
    """Apply a reviewed sheet: a non-empty ``corrected`` cell replaces the answer; every change is recorded."""
    build = Path(build_dir)
    rows = _load_rows(build)
    by_id = {r["id"]: r for r in rows}
    rejects: list[Reject] = []
    sheet_rejects: list[Reject] = []
    changed = unchanged = 0
    lines = iter_csv(read_bytes(sheet, "review sheet"), str(sheet), sheet_rejects)
    header = next(lines, (0, []))[1]
    if [h.strip().lower() for h in header[: len(REVIEW_COLUMNS)]] != REVIEW_COLUMNS:
        raise InputError(f"'{sheet}' is not a review sheet (expected the columns {', '.join(REVIEW_COLUMNS)})")
    for number, cells in lines:
        cells = cells + [""] * (len(REVIEW_COLUMNS) - len(cells))
        rid, corrected, note = cells[0], cells[5].strip(), cells[6].strip()
        record = by_id.get(rid)
        if record is None:
            rejects.append(Reject(str(sheet), number, "no record with this id in the build", id=rid))
            continue
        before = record["answer"]
        if corrected and corrected != before:
            record["answer"] = corrected
            record["provenance"]["review"] = {"changed": True, "before": before, "note": note}
            changed += 1
        else:
            record["provenance"]["review"] = {"changed": False, "note": note}
            unchanged += 1
    _write_rows(build, rows)
    return {"changed": changed, "unchanged": unchanged, "rejects": rejects + sheet_rejects}
