"""The OpenAI-style batch output format: one file in formats/tools/, found by the registry, joined by custom_id."""

from __future__ import annotations

import json
from pathlib import Path

from sarlang.formats.predictions import PREDICTION_FORMATS, format_names, load_eval_items
from sarlang.formats.records import load_records

from ..conftest import run_cli


def _line(custom_id: str, content: str | None, finish: str = "stop", status: int = 200, error: dict | None = None) -> str:
    """A line as the Batch API (and vLLM's run_batch) writes it."""
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 3, "total_tokens": 103}}
    response = None if error else {"status_code": status, "request_id": "req_1", "body": body if status == 200 else {"error": {"message": "x"}}}
    return json.dumps({"id": "batch_req_1", "custom_id": custom_id, "response": response, "error": error})


def test_batch_output_is_joined_by_custom_id_and_failures_are_rejects(sim_bench: Path, tmp_path: Path) -> None:
    assert "openai-batch" in PREDICTION_FORMATS and "openai-batch" in format_names()
    records, _ = load_records(sim_bench / "records.jsonl")
    questions = [r for r in records if not r.is_caption and r.split == "test"]
    right, cut, null, failed, status = questions[:5]
    lines = [
        _line(cut.id, cut.answer, finish="length"),
        _line(right.id, right.answer),  # the batch returns requests in any order
        _line(null.id, None),
        _line(failed.id, None, error={"code": "rate_limit_exceeded", "message": "Rate limit reached"}),
        _line(status.id, "yes", status=500),
        _line("not-a-record", "yes"),
        json.dumps({"custom_id": "", "response": {}}),
    ]
    path = tmp_path / "batch_output.jsonl"
    path.write_text("\n".join(lines) + "\n")
    loaded = load_eval_items(path, "auto", sim_bench / "records.jsonl", task="vqa", split="test")
    assert loaded.format == "openai-batch" and loaded.rows == 7
    assert {it.id: it.prediction for it in loaded.items} == {right.id: right.answer, cut.id: cut.answer}
    reasons: dict[str, list[str]] = {}
    for reject in loaded.rejects:
        reasons.setdefault(reject.id, []).append(reject.reason)
    # the failed row, then its record left without a prediction
    assert reasons[null.id][0].startswith("no answer: the content is null") and reasons[null.id][1] == "no prediction for this record"
    assert reasons[failed.id][0] == "the request failed: Rate limit reached"
    assert reasons[status.id][0] == "the request failed with status 500"
    assert "id is not a question record" in reasons["not-a-record"][0]
    assert reasons[""] == ["line has no custom_id"]
    assert any("cut at the token limit" in note for note in loaded.notes)
    # every test question the batch did not answer is a reject too: nothing is silently dropped
    unanswered = [r for r in loaded.rejects if r.id in {q.id for q in questions[5:]}]
    assert len(unanswered) == len(questions) - 5 and {r.reason for r in unanswered} == {"no prediction for this record"}

    result = run_cli("eval", "vqa", str(path), "--records", str(sim_bench / "records.jsonl"), "--split", "test", "--judge", "none")
    assert result.returncode == 0, result.stderr
    alone = run_cli("eval", "vqa", str(path))
    assert alone.returncode == 2 and "only record ids and predictions" in alone.stderr
