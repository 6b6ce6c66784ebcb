"""One prompt everywhere: what an export shows a trainer is what sarlang train and predict show a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.corpus.dataset import build_dataset
from sarlang.errors import InputError
from sarlang.formats.exports import export_records
from sarlang.formats.prompts import VQA_PROMPT, check_template, prompt_for, unwrap_question
from sarlang.models import run


@pytest.mark.parametrize("template", [VQA_PROMPT, "Q: {q} Reply with one word."])
def test_exports_train_and_predict_ask_the_same_prompts(tmp_path: Path, template: str) -> None:
    build_dataset(["simulate:3,size=32"], tmp_path / "b")
    records = tmp_path / "b" / "records.jsonl"
    export_records(tmp_path / "b", "sharegpt", tmp_path / "x", prompt_template=template)
    export_records(tmp_path / "b", "llava", tmp_path / "x", prompt_template=template)
    exported = [m["messages"][0]["content"].removeprefix("<image>") for m in json.loads((tmp_path / "x" / "sharegpt_train.json").read_text())]
    llava = [c["conversations"][0]["value"].removeprefix("<image>\n") for c in json.loads((tmp_path / "x" / "llava_train.json").read_text())]
    trained = [prompt for _, prompt, _ in run._examples(records, "train", run._template({"prompt": template}))]
    assert exported == llava == trained
    assert json.loads((tmp_path / "x" / "export_sharegpt.json").read_text())["vqa_prompt"] == template
    assert any(template.split("{q}")[0] in p for p in trained)  # the questions really are wrapped

    from sarlang.models.base import VisionLanguageModel

    class Echo(VisionLanguageModel):
        """A model that answers with the prompt it was shown."""

        def info(self) -> dict:
            return {"id": "echo"}

        def answer(self, batch):
            return [prompt for _, prompt in batch]

        def save(self, directory) -> None:
            pass

    out = tmp_path / "p" / "predictions.jsonl"
    run.predict_records(Echo(), records, out, split="train", prompt_template=template)
    asked = [json.loads(line)["prompt"] for line in (out.parent / "generated_predictions.jsonl").read_text().splitlines()]
    assert asked == trained


def test_the_sarlang_wrapper_round_trips_and_templates_are_checked() -> None:
    from sarlang.schema import Record

    record = Record("a", "x.png", "instance_counting", "How many ships are there in the image?", "2")
    assert prompt_for(record) == "Question: How many ships are there in the image?. Answer the question concisely."
    assert unwrap_question(prompt_for(record)) == "How many ships are there in the image?"
    for bad in ("no placeholder", "{q} and {q}", "{question}"):
        with pytest.raises(InputError):
            check_template(bad)
