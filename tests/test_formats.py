"""Reading prediction and record files of every supported format, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.errors import FormatDetectionError, InputError
from sarlang.formats.predictions import detect_format, load_eval_items, question_from_prompt
from sarlang.formats.records import load_records
from sarlang.formats.sarlang1m import infer_application

from .conftest import EXAMPLES


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("captions/generated_predictions_model_a.jsonl", "llamafactory"),
        ("vqa/VQA_result_model_b.csv", "sarlang-csv"),
        ("vqa/swift_infer_model_b.jsonl", "swift"),
        ("vqa/predictions_model_a.jsonl", "jsonl"),
    ],
)
def test_detect_format_of_the_examples(name: str, fmt: str) -> None:
    path = EXAMPLES / name
    assert detect_format(path.read_bytes(), path) == fmt


def test_detect_format_refuses_unknown_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", jsonl([{"answer": "x"}]))
    with pytest.raises(FormatDetectionError, match="keys"):
        load_eval_items(path)


@pytest.mark.parametrize(
    "prompt,question",
    [
        ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Question: How many ships are there?. Answer the question concisely.<|im_end|>\n<|im_start|>assistant\n", "How many ships are there?"),
        ("USER: <image>\nIs there a bridge in the image? ASSISTANT:", "Is there a bridge in the image?"),
        ("<image>Where is the ship located?", "Where is the ship located?"),
    ],
)
def test_question_from_prompt(prompt: str, question: str) -> None:
    assert question_from_prompt(prompt) == question


@pytest.mark.parametrize(
    "question,application",
    [
        ("What is the object present in the area [12.0, 30.5, 40.0, 22.0]?", "region_referring"),
        ("How many ships are there in the image?", "instance_counting"),
        ("Is there a harbor in the image?", "object_identification"),
        ("Where is the aircraft located in the image?", "object_positioning"),
        ("What is the predominant category in the image?", "object_classification"),
        ("Describe the content of this image in one sentence.", "image_description"),
        ("What is the shape of the tanks?", "others"),
    ],
)
def test_infer_application(question: str, application: str) -> None:
    assert infer_application(question)[0] == application


def test_llamafactory_without_records_infers_applications() -> None:
    loaded = load_eval_items(EXAMPLES / "captions/generated_predictions_model_a.jsonl", task="captions")
    assert loaded.format == "llamafactory" and len(loaded.items) == 12 and not loaded.rejects
    assert all(len(it.references) == 1 for it in loaded.items)


def test_llamafactory_joined_to_records_in_order_checks_labels(tmp_path: Path) -> None:
    records = EXAMPLES / "captions/records.jsonl"
    rows = [json.loads(x) for x in (EXAMPLES / "captions/generated_predictions_model_a.jsonl").read_text().splitlines()]
    rows[3]["label"] = "something else"
    loaded = load_eval_items(write(tmp_path / "p.jsonl", jsonl(rows)), records_path=records, task="captions")
    assert len(loaded.items) == 11
    assert [r.reason for r in loaded.rejects if r.row == 4] == ["the label 'something else' differs from the answer of record cap-0003"]
    assert loaded.items[0].id == "cap-0000"
    # the first rows only (LLaMA-Factory's max_samples): a prefix, never a demand for equal counts
    rows = [json.loads(x) for x in (EXAMPLES / "captions/generated_predictions_model_a.jsonl").read_text().splitlines()]
    short = load_eval_items(write(tmp_path / "short.jsonl", jsonl(rows[:5])), records_path=records, task="captions")
    assert [it.id for it in short.items] == [f"cap-000{i}" for i in range(5)] and not short.rejects
    assert any("first 5 of the 12 records" in note for note in short.notes)


def test_sarlang_csv_rows_header_and_ragged(tmp_path: Path) -> None:
    text = "image,predicted,question,ground truth\na.png,yes,Is there a ship?,yes\nb.png,3\nc.png,\"two, maybe\",How many ships?,2\n"
    loaded = load_eval_items(write(tmp_path / "VQA_result.csv", text))
    assert loaded.format == "sarlang-csv"
    assert [it.prediction for it in loaded.items] == ["yes", "two, maybe"]
    assert any("header" in n for n in loaded.notes)
    assert len(loaded.rejects) == 1 and "2 columns" in loaded.rejects[0].reason and loaded.rejects[0].row == 3
    assert loaded.items[1].application == "instance_counting"


def test_sarlang_csv_joined_to_records_by_image_and_question() -> None:
    loaded = load_eval_items(EXAMPLES / "vqa/VQA_result_model_b.csv", records_path=EXAMPLES / "vqa/records.jsonl")
    assert len(loaded.items) == 44 and not loaded.rejects
    assert loaded.items[0].id == "vqa-0000" and loaded.items[0].question_type == "presence"


def test_non_utf8_and_malformed_lines_are_rejected_with_reasons(tmp_path: Path) -> None:
    data = (jsonl([{"predict": "a ship", "label": "a ship"}]) + '{"predict": "x", "label"\n').encode() + b'{"predict": "caf\xe9", "label": "x"}\n'
    loaded = load_eval_items(write(tmp_path / "p.jsonl", data), task="captions")
    reasons = sorted(r.reason for r in loaded.rejects)
    assert len(loaded.items) == 1
    assert reasons[0].startswith("line is not UTF-8") and reasons[1].startswith("malformed JSON")
    csv_bytes = b"a.png,yes,Is there a ship?,yes\nb.png,\xff\xfe,Is there a car?,no\n"
    loaded = load_eval_items(write(tmp_path / "r.csv", csv_bytes))
    assert len(loaded.items) == 1 and loaded.rejects[0].reason == "row is not UTF-8"


def test_jsonl_join_duplicates_missing_and_unknown_ids(tmp_path: Path) -> None:
    records = write(tmp_path / "records.jsonl", jsonl([
        {"id": "a", "image": "1.png", "application": "instance_counting", "question": "How many ships?", "answer": "2"},
        {"id": "b", "image": "1.png", "application": "object_identification", "question": "Is there a car?", "answer": "no"},
        {"id": "c", "image": "2.png", "application": "others", "question": "Shape?", "answer": "round"},
        {"id": "d", "image": "2.png", "application": "image_description", "question": "Describe.", "answer": "A ship."},
    ]))
    preds = write(tmp_path / "preds.jsonl", jsonl([
        {"id": "a", "prediction": "2"}, {"id": "a", "prediction": "3"}, {"id": "zzz", "prediction": "x"},
        {"id": "b", "prediction": ""}, {"id": "d", "prediction": "A boat."},
    ]))
    loaded = load_eval_items(preds, records_path=records, task="vqa")
    assert [it.id for it in loaded.items] == ["a", "b"]
    assert loaded.empty_predictions == 1
    reasons = {(r.id, r.reason.split(" (")[0]) for r in loaded.rejects}
    assert ("a", "duplicate id") in reasons
    assert ("zzz", "id is not a question record of the records file") in reasons
    assert not [r for r in loaded.rejects if r.id == "d"]  # a caption row is left aside, not a bogus reject
    assert any("1 caption rows left aside" in note for note in loaded.notes)
    assert ("c", "no prediction for this record") in reasons


def test_captions_from_records_use_all_references_of_an_image(tmp_path: Path) -> None:
    records = write(tmp_path / "records.jsonl", jsonl([
        {"id": f"r{i}", "image": "1.png", "application": "image_description", "question": "Describe.", "answer": f"caption {i}", "caption_kind": "concise"}
        for i in range(3)
    ]))
    preds = write(tmp_path / "preds.jsonl", jsonl([{"id": "r0", "prediction": "caption"}, {"id": "r1", "prediction": "other"}, {"id": "r2", "prediction": "x"}]))
    loaded = load_eval_items(preds, records_path=records, task="captions")
    assert len(loaded.items) == 1 and loaded.items[0].references == ("caption 0", "caption 1", "caption 2")
    assert sum("another prediction" in r.reason for r in loaded.rejects) == 2


def test_swift_rows() -> None:
    loaded = load_eval_items(EXAMPLES / "vqa/swift_infer_model_b.jsonl")
    assert loaded.format == "swift" and len(loaded.items) == 44
    assert loaded.items[0].question == "Is there a ship in the image?"
    assert loaded.items[0].image == "harbor_0001.png"


@pytest.mark.parametrize(
    "content,message",
    [(b"", "is empty"), (b"  \n\n", "is empty")],
)
def test_empty_files(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_eval_items(write(tmp_path / "p.jsonl", content))


def test_missing_file_and_wrong_combinations(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_eval_items(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="--records"):
        load_eval_items(EXAMPLES / "vqa/predictions_model_a.jsonl")
    with pytest.raises(InputError, match="holds no captions"):
        load_eval_items(EXAMPLES / "vqa/VQA_result_model_b.csv", task="captions")


def test_sarlang1m_csv_records_with_padded_headers(tmp_path: Path) -> None:
    vqa = write(tmp_path / "SARVQA1_test.csv", " Image Name , Question ,  Answer \n0001.jpg,How many ships are there in the image?,3\n0002.jpg,Is there a bridge in the image?,no\n0003.jpg,\n")
    records, rejects = load_records(vqa)
    assert [r.application for r in records] == ["instance_counting", "object_identification"]
    assert records[0].id == "SARVQA1_test:2" and records[0].question_type == "sarlang1m:how_many"
    assert len(rejects) == 1 and "columns" in rejects[0].reason
    captions = write(tmp_path / "Caption_test.csv", "Image Name,Caption\n0001.jpg,A SAR image of a harbor.\n")
    records, _ = load_records(captions)
    assert records[0].application == "image_description" and records[0].answer == "A SAR image of a harbor."


def test_sarlang1m_json_records(tmp_path: Path) -> None:
    data = [
        {"messages": [{"role": "user", "content": "<image>Is there a ship in the image?"}, {"role": "assistant", "content": "yes"}], "images": ["SARimages/0001.jpg"]},
        {"messages": [{"role": "user", "content": "<image>Describe the content of this image in one sentence."}, {"role": "assistant", "content": "A harbor."}], "images": ["SARimages/0002.jpg"]},
        {"images": []},
    ]
    records, rejects = load_records(write(tmp_path / "SARVQA1_test.json", json.dumps(data)))
    assert [(r.application, r.question, r.image) for r in records] == [
        ("object_identification", "Is there a ship in the image?", "SARimages/0001.jpg"),
        ("image_description", "Describe the content of this image in one sentence.", "SARimages/0002.jpg"),
    ]
    assert len(rejects) == 1


def test_records_jsonl_bad_rows_and_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path / "records.jsonl", jsonl([
        {"id": "a", "image": "1.png", "application": "others", "question": "q", "answer": "x"},
        {"id": "a", "image": "1.png", "application": "others", "question": "q", "answer": "y"},
        {"id": "b", "image": "1.png", "application": "nonsense", "question": "q", "answer": "x"},
        {"id": "c", "image": "1.png", "application": "others", "question": "q", "answer": "x", "colour": "red"},
    ]))
    records, rejects = load_records(path)
    assert [r.id for r in records] == ["a"]
    reasons = " | ".join(r.reason for r in rejects)
    assert "unknown application" in reasons and "unknown field" in reasons and "duplicate" in reasons
