"""``sarlang serve --human``: the human baseline of SARLANG-1M as a questionnaire.

SARLANG-1M compares its models with SAR experts and with non-experts on a sample of the test
questions. Every participant gets the same sample (the ``sample`` test questions whose ids hash
lowest, so it does not depend on the order of the records), one image at a time: the
preprocessed image (full screen on a click), its question, a free-text answer box and the
progress. Answers go, one line each as soon as they are given, to ``OUT/PARTICIPANT.jsonl``:
an ordinary predictions file (``id``, ``prediction``, plus ``participant``, ``expertise`` and
the seconds taken), so ``sarlang eval vqa OUT/PARTICIPANT.jsonl --records BUILD`` scores a
person exactly as a model, and ``sarlang report`` puts people and models side by side. A
participant who comes back with the same id continues where they stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarlang.errors import InputError
from sarlang.schema import Record
from sarlang.vocabulary import counted

#: What participants say of themselves, as SARLANG-1M splits them.
EXPERTISE = ("SAR expert", "non-expert")
#: A participant id: a letter (of any script) or digit, then up to 63 letters, digits, marks
#: (the vowel signs of Devanagari, an accent that does not compose), ``_``, ``.`` or ``-``;
#: never a path separator, so the file it names stays inside the answers folder.
PARTICIPANT_RULE = "1 to 64 letters (of any script, such as Zoë or 张伟), digits, '_', '.' or '-', starting with a letter or digit"


def human_sample(records: list[Record], n: int, split: str = "test") -> list[Record]:
    """The ``n`` questions (no captions) of ``split`` whose ids hash lowest (SHA-256), in that order.

    Raises:
        InputError: the build has no question of that split.
    """
    questions = [r for r in records if r.split == split and not r.is_caption]
    if not questions:
        raise InputError(f"the build has no {split} questions to ask", hint="give a build made by sarlang build (records.jsonl with a test split)")
    return sorted(questions, key=lambda r: hashlib.sha256(r.id.encode("utf-8")).hexdigest())[:n]


@dataclass
class Questionnaire:
    """The sample of a build, its images' folder, and where the answers go."""

    questions: list[Record]
    images: Path
    out: Path
    # one lock per answers file: a participant's reads, repairs and appends never interleave
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False, compare=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _lock(self, participant: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(participant_id(participant), threading.Lock())

    @classmethod
    def open(cls, build: str | Path, sample: int, out: str | Path) -> Questionnaire:
        """The questionnaire of ``sample`` test questions of the build at ``build`` (folder or records file).

        Raises:
            InputError: no build there, or no test questions.
        """
        from sarlang.formats.records import load_records

        path = Path(build)
        records, _ = load_records(path)
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(human_sample(records, sample), (path if path.is_dir() else path.parent).resolve(), folder)

    def file(self, participant: str) -> Path:
        """The participant's answers file, inside the answers folder.

        Raises:
            InputError: an id that breaks :data:`PARTICIPANT_RULE`.
        """
        return self.out / f"{participant_id(participant)}.jsonl"

    def answered(self, participant: str) -> dict[str, dict[str, Any]]:
        """What the participant answered so far, by question id. A last line cut by a crash is
        dropped from the file (its question is asked again)."""
        with self._lock(participant):
            return self._answered(participant)

    def _answered(self, participant: str) -> dict[str, dict[str, Any]]:
        path = self.file(participant)
        if not path.exists():
            return {}
        lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
        rows = {}
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
                rows[str(row["id"])] = row
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                if number < len(lines):
                    raise InputError(f"'{path}' line {number} is not an answer: the file was edited or damaged",
                                     hint="repair or remove that line, then continue") from None
                from sarlang.files import atomic_write_text

                atomic_write_text(path, "".join(line.decode("utf-8") + "\n" for line in lines[:-1]))
        return rows

    def next_question(self, participant: str) -> tuple[Record | None, int]:
        """The first question of the sample the participant has not answered (None when all are),
        and how many are answered."""
        done = self.answered(participant)
        for record in self.questions:
            if record.id not in done:
                return record, len(done)
        return None, len(done)

    def image_of(self, record: Record) -> str:
        return str((self.images / record.image).resolve())

    def record_answer(self, participant: str, expertise: str, record_id: str, answer: str, seconds: float) -> bool:
        """Append one answer to the participant's file, on disk before this returns. A question
        the participant has answered already (the same question sent twice, from two tabs) keeps
        its first answer: returns False and writes nothing; True when written.

        Raises:
            InputError: an empty answer, an unknown expertise, a question not in the sample.
        """
        if not answer.strip():
            raise InputError("type an answer first (a word or a number is enough)")
        if expertise not in EXPERTISE:
            raise InputError(f"say whether you are a {' or a '.join(EXPERTISE)}")
        if record_id not in {r.id for r in self.questions}:
            raise InputError(f"question '{record_id}' is not in this questionnaire")
        row = {"id": record_id, "prediction": answer.strip(), "participant": participant_id(participant), "expertise": expertise,
               "seconds": round(seconds, 1)}
        with self._lock(participant):
            if record_id in self._answered(participant):
                return False
            with open(self.file(participant), "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return True


def participant_id(participant: str) -> str:
    """A participant's id as its answers file is named: stripped, in Unicode NFC (so a composed
    and a decomposed "Zoë" are one participant).

    Raises:
        InputError: an id that breaks :data:`PARTICIPANT_RULE`.
    """
    text = unicodedata.normalize("NFC", str(participant or "").strip())
    allowed = all(c.isalnum() or c in "_.-" or unicodedata.category(c) in ("Mn", "Mc") for c in text)
    if not (0 < len(text) <= 64 and text[0].isalnum() and allowed):
        raise InputError(f"a participant id is {PARTICIPANT_RULE}")
    return text


#: Small pictures are enlarged (nearest neighbour, whole factors) to at least this side, pixels.
SHOWN_PIXELS = 448


def shown(path: str) -> Any:
    """The picture at ``path`` as participants see it: enlarged by a whole factor (nearest
    neighbour, so no pixel is invented) until its longer side reaches :data:`SHOWN_PIXELS`."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            picture = im.convert("RGB")
    except (OSError, ValueError) as exc:
        raise InputError(f"image '{path}' cannot be read: {exc}") from None
    factor = max(1, SHOWN_PIXELS // max(picture.size))
    return picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST) if factor > 1 else picture


def make_questionnaire(survey: Questionnaire) -> Any:
    """The gradio Blocks of the questionnaire (see the module docstring)."""
    import tempfile

    from sarlang.app.web import as_markdown_text, guarded, picture_file
    from sarlang.files import require

    gr = require("gradio", "app", "the web demo (gradio)")
    total = len(survey.questions)
    work = Path(tempfile.mkdtemp(prefix="sarlang-questionnaire-"))

    def page(participant: str, expertise: str, note: str = "") -> tuple[Any, ...]:
        who = participant_id(participant)
        if expertise not in EXPERTISE:
            raise InputError(f"say whether you are a {' or a '.join(EXPERTISE)}")
        record, done = survey.next_question(who)
        if record is None:
            return (None, "", "", f"All {counted(total, 'question')} answered — thank you, {as_markdown_text(who)}. Your answers are saved.",
                    None, gr.update(interactive=False), note)
        state = {"participant": who, "expertise": expertise, "id": record.id, "shown": time.time()}
        return (picture_file(shown(survey.image_of(record)), work), as_markdown_text(record.question), "", f"Question {done + 1} of {total}", state,
                gr.update(interactive=True), note)

    def submit(state: dict | None, answer: str) -> tuple[Any, ...]:
        if not state:
            raise InputError("enter your participant id and expertise, then press Start")
        written = survey.record_answer(state["participant"], state["expertise"], state["id"], answer, time.time() - state["shown"])
        return page(state["participant"], state["expertise"], "" if written else "That question was answered already (in another tab?): its first answer is kept.")

    def failed(message: str) -> tuple[Any, ...]:
        return (gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), f"⚠️ {as_markdown_text(message)}")

    with gr.Blocks(title="sarlang — human baseline", analytics_enabled=False) as demo:
        gr.Markdown(f"# SAR image questions\n{counted(total, 'question')} about SAR images. Answer each briefly, as you would to a colleague. "
                    "You can stop at any time and continue later with the same participant id.")
        with gr.Row():
            participant = gr.Textbox(label="participant id", elem_id="participant")
            expertise = gr.Radio(choices=list(EXPERTISE), label="you are a", elem_id="expertise")
            start = gr.Button("Start or continue", elem_id="start")
        state = gr.State(None)
        progress = gr.Markdown(elem_id="progress")
        image = gr.Image(label="SAR image (preprocessed; full screen with the corner button)", type="pil", interactive=False, elem_id="image",
                         height=480, buttons=["fullscreen"])
        question = gr.Markdown(elem_id="question")
        answer = gr.Textbox(label="your answer", elem_id="answer")
        send = gr.Button("Submit answer", variant="primary", interactive=False, elem_id="submit")
        status = gr.Markdown(elem_id="status")
        outputs = [image, question, answer, progress, state, send, status]
        start.click(guarded(page, failed), [participant, expertise], outputs, api_name="start")
        send.click(guarded(submit, failed), [state, answer], outputs, api_name="submit")
        answer.submit(guarded(submit, failed), [state, answer], outputs, api_name=False)
    import shutil

    demo.sarlang_cleanup = [lambda: shutil.rmtree(work, ignore_errors=True)]
    return demo
