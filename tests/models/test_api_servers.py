"""``api:MODEL@URL1,URL2``: predictions spread over several OpenAI-compatible servers, one of them
failing part of the time, down, or not serving the model; every record answered once and right."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from sarlang.errors import InputError, JudgeError
from sarlang.models.api import ApiModel, load
from sarlang.models.run import predict_records
from tests.conftest import run_cli
from tests.fake_openai import FakeOpenAI, Reply


def _question(body: dict) -> str:
    return body["messages"][0]["content"][1]["text"]


def right_answer(prompt: str) -> str:
    """What both fake servers answer to a prompt: a function of it, so a misplaced answer shows."""
    return "answer " + hashlib.sha1(prompt.encode()).hexdigest()[:10]


def healthy(body: dict, count: int) -> Reply:
    return Reply(right_answer(_question(body)), delay=0.01)


def flaky(body: dict, count: int) -> Reply:
    """Fails about half of the questions whenever asked (HTTP 503 or a torn body): only another server can answer them."""
    digest = int(hashlib.sha1(_question(body).encode()).hexdigest(), 16)
    if digest % 2:
        return Reply(status=503) if digest % 4 == 1 else Reply(right_answer(_question(body)), torn=True)
    return Reply(right_answer(_question(body)), delay=0.01)


def free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def _check_answers(out: Path, n: int) -> None:
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == n and len({r["id"] for r in rows}) == n  # every record once
    prompts = [json.loads(line)["prompt"] for line in out.with_name("generated_predictions.jsonl").read_text().splitlines()]
    predicted = [json.loads(line)["predict"] for line in out.with_name("generated_predictions.jsonl").read_text().splitlines()]
    assert predicted == [right_answer(p) for p in prompts]


def test_predictions_over_two_servers_one_failing_part_of_the_time(sim_bench: Path, tmp_path: Path) -> None:
    records = sim_bench / "records.jsonl"
    with FakeOpenAI(healthy) as good, FakeOpenAI(flaky) as bad:
        model = ApiModel([good.url, bad.url], "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01, concurrency=2)
        out = tmp_path / "p.jsonl"
        result = predict_records(model, records, out, split=None, batch_size=16, model_source=f"api:vlm@{good.url},{bad.url}")
        model.close()
    n = result["predicted"]
    assert n > 30 and result["failed"] == 0
    _check_answers(out, n)
    served = {s["url"]: s for s in result["servers"]}
    good_stats, bad_stats = served[good.url + "/chat/completions"], served[bad.url + "/chat/completions"]
    assert good_stats["answered"] > 0 and bad_stats["answered"] > 0  # both queues were used
    assert bad_stats["failed_attempts"] > 0 and good_stats["failed_attempts"] == 0
    assert good_stats["answered"] + bad_stats["answered"] == n  # a failed request was answered once, elsewhere
    # the backend is recorded in every prediction: both servers, the model name, the settings
    row = json.loads(out.read_text().splitlines()[0])
    assert row["model"] == f"api:vlm@{good.url},{bad.url}" and row["settings"] == {"temperature": 0.0, "max_tokens": 256}


def test_a_server_that_is_down_or_lacks_the_model_leaves_the_work_to_the_others(sim_bench: Path, tmp_path: Path) -> None:
    records = sim_bench / "records.jsonl"
    down = free_port_url()
    with FakeOpenAI(healthy) as good, FakeOpenAI(lambda body, count: Reply(status=404, raw=b'{"error": "model not found"}')) as wrong:
        model = ApiModel([down, wrong.url, good.url], "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01, retries=2)
        result = predict_records(model, records, tmp_path / "p.jsonl", split="test", batch_size=8)
        model.close()
        assert len(wrong.bodies) <= 8  # dropped after its first 404: only the requests already sent to it (concurrency 8)
    assert result["failed"] == 0
    _check_answers(tmp_path / "p.jsonl", result["predicted"])
    # with no server left, the run stops with the reason
    with FakeOpenAI(lambda body, count: Reply(status=404, raw=b'{"error": "model not found"}')) as a, \
            FakeOpenAI(lambda body, count: Reply(status=404, raw=b'{"error": "model not found"}')) as b:
        model = ApiModel([a.url, b.url], "vlm", cache_path=tmp_path / "c2.sqlite", backoff=0.01)
        with pytest.raises(JudgeError, match="404"):
            predict_records(model, records, tmp_path / "q.jsonl", split="test")
        model.close()


def test_a_killed_sharded_run_resumes_without_asking_twice(sim_bench: Path, tmp_path: Path) -> None:
    records = sim_bench / "records.jsonl"
    out = tmp_path / "p.jsonl"
    with FakeOpenAI(healthy) as a, FakeOpenAI(flaky) as b:
        spec = f"api:vlm@{a.url},{b.url}"
        model = ApiModel([a.url, b.url], "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01)
        full = predict_records(model, records, out, split="test", batch_size=8, model_source=spec)
        lines = out.read_text().splitlines(keepends=True)
        out.write_text("".join(lines[:8]))  # as if killed after the first batch
        (tmp_path / "cache.sqlite").unlink()  # and nothing cached: only the missing records are asked
        model.close()
        model = ApiModel([a.url, b.url], "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01)
        again = predict_records(model, records, out, split="test", batch_size=8, model_source=spec)
        model.close()
    assert again["already_done"] == 8 and again["predicted"] == full["predicted"] - 8
    assert sum(s["answered"] for s in again["servers"]) == again["predicted"]  # only the missing records were asked
    _check_answers(out, full["predicted"])


def test_server_lists_are_checked() -> None:
    model = load("api:vlm@http://a:8000/v1, http://b:8000/v1")
    assert model.base_urls == ["http://a:8000/v1", "http://b:8000/v1"] and model.info()["id"] == "api:vlm@http://a:8000/v1,http://b:8000/v1"
    model.close()
    with pytest.raises(InputError, match="URL1,URL2"):
        load("api:vlm@http://a:8000/v1,")
    with pytest.raises(JudgeError, match="listed twice"):
        load("api:vlm@http://a:8000/v1,http://a:8000/v1/")
    with pytest.raises(JudgeError, match="not an http"):
        load("api:vlm@http://a:8000/v1,ftp://b")


def test_predict_command_reports_each_server(sim_bench: Path, tmp_path: Path) -> None:
    with FakeOpenAI(healthy) as a, FakeOpenAI(healthy) as b:
        result = run_cli("predict", "--model", f"api:vlm@{a.url},{b.url}", "--records", str(sim_bench / "records.jsonl"),
                         "--out", str(tmp_path / "p.jsonl"), env={**os.environ, "SARLANG_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert a.url in result.stdout and b.url in result.stdout and "answered" in result.stdout


def test_an_api_model_gets_a_conversation_as_chat_turns(tmp_path: Path) -> None:
    """Each turn after the first is sent with the earlier turns as user and assistant messages (the
    image once, in the first), the model's own earlier answers in them."""
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    build_dataset(["simulate:4,size=48,seed=3"], tmp_path / "b", BuildOptions(dialogue=3))

    def by_turns(body: dict, count: int) -> Reply:
        return Reply(f"after {len(body['messages']) // 2} turns")

    with FakeOpenAI(by_turns) as server:
        model = ApiModel(server.url, "vlm", cache_path=tmp_path / "cache.sqlite", backoff=0.01)
        predict_records(model, tmp_path / "b" / "records.jsonl", tmp_path / "p.jsonl", split=None)
        model.close()
        bodies = server.requests
    multi = [b["messages"] for b in bodies if len(b["messages"]) > 1]
    assert multi, "no turn was sent with its history"
    for messages in multi:
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2) + ["user"]
        assert messages[0]["content"][0]["type"] == "image_url" and all(c["type"] == "text" for m in messages[2::2] for c in m["content"])
        assert messages[1]["content"].startswith("after ")  # the model's own earlier answer
