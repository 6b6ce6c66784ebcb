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
from typing import Any

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


#: The flat layout of what precedes a question (see :class:`ContextPrompt`).
KNOWLEDGE_HEADER = "Knowledge:"
HISTORY_HEADER = "Earlier in this conversation:"


class ContextPrompt(str):
    """A prompt with what comes before its question: earlier turns of its conversation and/or
    passages retrieved from a knowledge base.

    The string itself is the flat layout every text model reads (the built-in model, an API
    model's text)::

        Knowledge:
        [1] <passage>
        [2] <passage>
        Earlier in this conversation:
        Q: <earlier prompt>
        A: <its answer>
        <the prompt of this turn>

    (each block only when it has lines). A model that takes chat turns (the Hugging Face
    backend) reads the parts instead: ``turns`` as earlier user/assistant messages (the image in
    the first), ``passages`` before ``question`` in the last user message — the layout the
    ShareGPT and LLaVA exports write. Pickles with its parts (Ray workers get them too).
    """

    question: str
    turns: tuple[tuple[str, str], ...]
    passages: tuple[str, ...]

    def __new__(cls, question: str, turns: tuple[tuple[str, str], ...] = (), passages: tuple[str, ...] = ()) -> ContextPrompt:
        lines = []
        if passages:
            lines += [KNOWLEDGE_HEADER, *(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(passages, 1))]
        if turns:
            lines.append(HISTORY_HEADER)
            for asked, answered in turns:
                lines += [f"Q: {' '.join(asked.split())}", f"A: {' '.join(answered.split())}"]
        obj = super().__new__(cls, "\n".join([*lines, question]))
        obj.question, obj.turns, obj.passages = question, tuple((str(a), str(b)) for a, b in turns), tuple(passages)
        return obj

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (ContextPrompt, (self.question, self.turns, self.passages))

    def context_text(self) -> str:
        """The lines before the question (the passages and the earlier turns), "" without any."""
        return str(self)[: len(self) - len(self.question)].rstrip("\n")

    def user_text(self) -> str:
        """The last user message of a chat: the passages block (if any), then the question."""
        if not self.passages:
            return self.question
        return "\n".join([KNOWLEDGE_HEADER, *(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(self.passages, 1)), self.question])


def question_of(prompt: str) -> str:
    """The prompt of the question itself: a :class:`ContextPrompt`'s ``question`` (without the
    earlier turns and passages before it), any other prompt as it is. For the models that read
    the question's wording (the prior, the detectors, a router) and take no context."""
    return getattr(prompt, "question", prompt)


def dialogue_prompts(records: list[Record], template: str = VQA_PROMPT, answers: dict[str, str] | None = None) -> dict[str, str]:
    """Each record's prompt, a turn of a conversation getting its earlier turns (a :class:`ContextPrompt`).

    Parameters
    ----------
    records:
        Records, those of one conversation told apart by ``conversation`` and ordered by ``turn``.
    template:
        How questions are asked (``{q}``).
    answers:
        The answers the earlier turns show, by record id (a model's own, when predicting turn by
        turn); None shows the true ones (teacher forcing, as training does). A turn whose
        earlier turn has no answer in ``answers`` is left out of the result.

    Returns
    -------
    dict
        Record id -> prompt.
    """
    out: dict[str, str] = {}
    by_conversation: dict[str, list[Record]] = {}
    for r in records:
        if r.conversation:
            by_conversation.setdefault(r.conversation, []).append(r)
        else:
            out[r.id] = prompt_for(r, template)
    for turns in by_conversation.values():
        turns.sort(key=lambda r: r.turn)
        history: list[tuple[str, str]] = []
        for r in turns:
            out[r.id] = ContextPrompt(prompt_for(r, template), tuple(history)) if history else prompt_for(r, template)
            said = r.answer if answers is None else answers.get(r.id)
            if said is None:
                break
            history.append((prompt_for(r, template), said))
    return out
