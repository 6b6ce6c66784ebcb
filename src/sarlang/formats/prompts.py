"""The prompts a model sees for a record, the same in every place that shows one to a model.

SARLANG-1M's prompts are the defaults: captions are asked with the record's own caption prompt
("Describe the content of this image in one sentence."), questions inside the wrapper
"Question: {q}. Answer the question concisely." (Wei et al., SARLANG-1M, IEEE TGRS 2026). The
trainer exports (LLaVA, ShareGPT, VLMEvalKit), ``sarlang train`` and ``sarlang predict`` all
build prompts here, so a model trained in another tool on an export and run by ``sarlang
predict``, or the other way round, sees the prompt it learned. A different question template
(with ``{q}``) can be given to each of them; exports record the one they used.
"""

from __future__ import annotations

import re

from sarlang.errors import InputError
from sarlang.schema import Record

#: SARLANG-1M's prompts (its paper and evaluation).
CAPTION_PROMPT = "Describe the content of this image in one sentence."
VQA_PROMPT = "Question: {q}. Answer the question concisely."
#: Visual-grounding questions for every object of a category (``{hint}``: the box convention, see
#: :data:`sarlang.formats.boxes.CONVENTION_HINTS`), as the build asks them and ``sarlang scene`` asks tiles.
GROUNDING_ALL_PROMPT = "Give the boxes of all {cs} {hint}."
#: Counting, as the build's first counting template asks it.
COUNT_PROMPT = "How many {cs} are there in the image?"

_SARLANG_QUESTION = re.compile(r"^question:\s*(.*?)\.?\s*answer the question concisely\.?$", re.IGNORECASE | re.DOTALL)


def check_template(template: str) -> str:
    """A question template must hold ``{q}`` once and nothing else in braces."""
    try:
        filled = template.format(q="QUESTION")
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"prompt template '{template}' is not usable: {exc}", hint="write the question as {q}, e.g. 'Q: {q} A:'") from None
    if filled.count("QUESTION") != 1:
        raise InputError(f"prompt template '{template}' must hold {{q}} exactly once")
    return template


def prompt_for(record: Record, template: str = VQA_PROMPT) -> str:
    """The prompt a model sees for a record: its caption prompt, or its question in ``template``."""
    if record.is_caption:
        return record.question or CAPTION_PROMPT
    if template == VQA_PROMPT:
        # SARLANG-1M keeps the question's own "?" before the wrapper's "."
        return VQA_PROMPT.format(q=record.question.rstrip("?. ") + ("?" if record.question.rstrip().endswith("?") else ""))
    return template.format(q=record.question)


def caption_kind_from_prompt(prompt: str) -> str | None:
    """``detailed`` or ``concise`` when a caption prompt says which ("in detail", "one sentence"), else None."""
    asked = prompt.lower()
    if "in detail" in asked or "detailed" in asked:
        return "detailed"
    if "one sentence" in asked or "concise" in asked or "briefly" in asked:
        return "concise"
    return None


def unwrap_question(text: str) -> str:
    """The question inside SARLANG-1M's wrapper, or ``text`` as it is."""
    match = _SARLANG_QUESTION.match(text.strip())
    return match.group(1).strip() if match else text.strip()
