"""The API judge against a local chat-completions server: parsing, retries, errors, cache, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sarlang.errors import JudgeError
from sarlang.eval.judges import SARLANG_JUDGE_PROMPT, ApiJudge, JudgeRequest, NoJudge, parse_verdict
from sarlang.eval.vqa import score_vqa
from sarlang.schema import EvalItem

from .conftest import run_cli, sarlang_cli
from .judge_server import JudgeServer


def make_judge(server: JudgeServer, tmp_path: Path, **kwargs) -> ApiJudge:
    options = {"api_key": "secret", "cache_path": tmp_path / "cache.sqlite", "backoff": 0.01, "retries": 3, "timeout": 5.0}
    options.update(kwargs)
    return ApiJudge(server.url, model="judge-test", **options)


def req(pred: str, gt: str = "harbor", question: str = "What is in the image?") -> JudgeRequest:
    return JudgeRequest(question, gt, pred)


@pytest.mark.parametrize(
    "reply,status",
    [("1", "correct"), ("0", "incorrect"), (" 1.\n", "correct"), ("0.", "incorrect"), ("1 because", "unparsable"), ("yes", "unparsable"), ("", "unparsable"), ("10", "unparsable")],
)
def test_parse_verdict_is_strict(reply: str, status: str) -> None:
    assert parse_verdict(reply) == status


def test_verdicts_and_request_shape(tmp_path: Path) -> None:
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path)
        verdicts = judge.judge([req("harbor"), req("bridge"), req("garbage answer")])
        judge.close()
    assert [v.status for v in verdicts] == ["correct", "incorrect", "unparsable"]
    assert not verdicts[2].correct  # an unparsable reply never counts as correct
    body = next(r for r in server.requests if "Predicted Answer: harbor\n" in r["messages"][0]["content"])  # requests run concurrently
    assert body["temperature"] == 0 and body["model"] == "judge-test"
    assert body["messages"][0]["content"] == SARLANG_JUDGE_PROMPT.format(question="What is in the image?", ground_truth="harbor", predicted="harbor")


def test_retries_after_500_and_429(tmp_path: Path) -> None:
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path)
        verdicts = judge.judge([req("flaky one"), req("ratelimit one")])
        judge.close()
    assert [v.status for v in verdicts] == ["correct", "correct"]
    assert server.per_prediction["flaky one"] == 3
    assert server.per_prediction["ratelimit one"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("pred,reason", [("down always", "HTTP 500"), ("badjson x", "malformed"), ("slow x", "timed out")])
def test_persistent_failures_become_errors_and_are_not_cached(tmp_path: Path, pred: str, reason: str) -> None:
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path, retries=1, timeout=0.5)
        verdict = judge.judge([req(pred)])[0]
        assert verdict.status == "error" and reason in verdict.reply and not verdict.correct
        assert server.per_prediction[pred] == 2  # one try and one retry
        again = judge.judge([req(pred)])[0]  # errors are not cached: asked again
        judge.close()
    assert again.status == "error" and server.per_prediction[pred] == 4


@pytest.mark.parametrize(
    "pred,reason",
    [("null x", "empty reply (content null)"), ("blank x", "empty reply"), ("cut x", "finish_reason length"), ("torn x", "after 2 attempts")],
)
def test_empty_cut_and_torn_replies_are_failures_never_cached(tmp_path: Path, pred: str, reason: str) -> None:
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path, retries=1, timeout=2.0)
        verdict = judge.judge([req(pred)])[0]
        first = server.per_prediction[pred]
        again = judge.judge([req(pred)])[0]
        judge.close()
    assert verdict.status == "error" and reason in verdict.reply, verdict
    assert again.status == "error" and server.per_prediction[pred] == 2 * first  # asked again: nothing was cached


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path, backoff=0.01)
        verdict = judge.judge([req("retryafter x")])[0]
        judge.close()
    assert verdict.status == "correct"
    first, second = server.times["retryafter x"]
    assert second - first >= 0.9  # the server asked for 1 s; the backoff alone would wait 0.01 s


def test_the_cache_is_keyed_on_the_endpoint(tmp_path: Path) -> None:
    with JudgeServer() as one, JudgeServer() as two:
        for server in (one, two):
            judge = make_judge(server, tmp_path)
            judge.judge([req("harbor")])
            judge.close()
    assert one.per_prediction["harbor"] == 1 and two.per_prediction["harbor"] == 1


def test_judge_failures_fail_the_command_unless_allowed(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    preds = tmp_path / "preds.jsonl"
    records.write_text("".join(json.dumps({"id": f"q{i}", "image": "a.png", "application": "others", "question": f"What is {i}?",
                                           "answer": f"thing {i}"}) + "\n" for i in range(3)))
    preds.write_text("".join(json.dumps({"id": f"q{i}", "prediction": p}) + "\n" for i, p in enumerate(["other 0", "down 1", "null 2"])))
    out = tmp_path / "scores.json"
    with JudgeServer() as server:
        args = ["eval", "vqa", str(preds), "--records", str(records), "--judge", "api", "--judge-url", server.url, "--judge-key", "secret",
                "--judge-cache", str(tmp_path / "cache.sqlite"), "--judge-retries", "0", "--json", str(out)]
        failed = run_cli(*args)
        allowed = run_cli(*args, "--allow-judge-failures")
    assert failed.returncode == 3, failed.stderr
    assert "the judge failed on 2 answers" in failed.stderr and "HTTP 500" in failed.stderr and "content null" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert allowed.returncode == 0 and "the judge failed on 2 answers" in allowed.stderr
    scores = json.loads(out.read_text())  # the scores are written either way, never lost
    assert scores["judge_failures"]["count"] == 2 and scores["overall"]["correct"] == 0
    assert scores["decided_by"] == {"judge:error": 2, "judge:incorrect": 1}


def test_cache_hits_ask_nothing_twice(tmp_path: Path) -> None:
    requests = [req("harbor"), req("bridge"), req("garbage z")]
    with JudgeServer() as server:
        first = make_judge(server, tmp_path).judge(requests)
        asked = len(server.requests)
        second_judge = make_judge(server, tmp_path)
        second = second_judge.judge(requests)
        # another model or prompt is another cache key
        other = make_judge(server, tmp_path, prompt=SARLANG_JUDGE_PROMPT + "Be strict.\n").judge(requests[:1])
    assert asked == 3
    assert [v.status for v in second] == [v.status for v in first]
    assert all(v.cached for v in second)
    assert len(server.requests) == 4 and not other[0].cached


def test_wrong_key_is_a_clear_error(tmp_path: Path) -> None:
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path, api_key="wrong")
        with pytest.raises(JudgeError, match="HTTP 401"):
            judge.judge([req("harbor")])
        judge.close()


def test_requests_run_concurrently(tmp_path: Path) -> None:
    with JudgeServer(delay=0.2) as server:
        judge = make_judge(server, tmp_path, concurrency=4)
        judge.judge([req(f"answer {i}") for i in range(8)])
        judge.close()
    assert server.max_in_flight >= 2


def test_bad_configuration(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="not an http"):
        ApiJudge("localhost:8000", cache_path=tmp_path / "c.sqlite")
    with pytest.raises(JudgeError, match="placeholder"):
        ApiJudge("http://localhost:1/v1", prompt="Is {predicted} right?", cache_path=tmp_path / "c.sqlite")


def test_score_vqa_sends_only_undecided_answers(tmp_path: Path) -> None:
    items = [
        EvalItem("1", "yes", ("yes",), "Is there a ship?", "object_identification", "presence"),
        EvalItem("2", "Harbor", ("harbor",), "What is the land use?", "others", "land_use"),
        EvalItem("3", "pier", ("jetty",), "What structure is it?", "others", "structure"),
        EvalItem("4", "garbage", ("bridge",), "What is at [1, 2, 3, 4]?", "region_referring", "box"),
    ]
    with JudgeServer() as server:
        judge = make_judge(server, tmp_path)
        scores = score_vqa(items, mode="strict", judge=judge)
        judge.close()
    decided = {it.id: it.decided_by for it in scores.items}
    assert decided["1"] == "rule:exact" and decided["2"] == "rule:exact"
    assert decided["3"] == "judge:incorrect" and decided["4"] == "judge:unparsable"
    # official mode lower-cases before judging, as the published script does
    asked = {r["messages"][0]["content"].split("Predicted Answer: ")[1].split("\n")[0] for r in server.requests}
    assert asked == {"pier", "garbage"}
    assert scores.overall.correct == 2


def test_no_judge_counts_the_rest_wrong_and_says_so() -> None:
    items = [EvalItem("1", "pier", ("jetty",), "q", "others", "t")]
    scores = score_vqa(items, judge=NoJudge())
    assert scores.items[0].decided_by == "judge:unjudged" and scores.overall.correct == 0
    assert scores.decided_by == {"judge:unjudged": 1}


@pytest.mark.slow
def test_kill_and_resume_through_the_cli(tmp_path: Path) -> None:
    """A judged run killed half-way resumes from the cache without asking anything twice."""
    records = tmp_path / "records.jsonl"
    preds = tmp_path / "preds.jsonl"
    n = 12
    records.write_text("".join(json.dumps({"id": f"q{i}", "image": "a.png", "application": "others", "question": f"What is {i}?", "answer": f"thing {i}"}) + "\n" for i in range(n)))
    # Even ids are decided by the strict phrase rule; the 6 odd ones need the judge.
    preds.write_text("".join(json.dumps({"id": f"q{i}", "prediction": f"other {i}" if i % 2 else f"thing {i} indeed"}) + "\n" for i in range(n)))
    cache = tmp_path / "cache.sqlite"
    out = tmp_path / "out.json"
    with JudgeServer(delay=0.3) as server:
        args = ["eval", "vqa", str(preds), "--records", str(records), "--judge", "api", "--judge-url", server.url, "--judge-key", "secret",
                "--judge-cache", str(cache), "--judge-concurrency", "1", "--json", str(out)]
        proc = subprocess.Popen([sarlang_cli(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while len(server.requests) < 3 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.4)  # let a request in flight finish
        first_run = len(server.requests)
        assert not out.exists()  # killed before writing: no half-written output
        result = run_cli(*args)
        resumed = len(server.requests) - first_run
    assert result.returncode == 0, result.stderr
    assert 3 <= first_run < 6
    scores = json.loads(out.read_text())
    assert scores["decided_by"] == {"judge:incorrect": 6, "rule:phrase": 6}
    # Every answer the killed run got back was cached; at most one in flight was lost.
    assert 6 - first_run <= resumed <= 6 - first_run + 1


def test_eval_all_fails_on_judge_failures_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preds = tmp_path / "generated_predictions.jsonl"
    preds.write_text("".join(json.dumps({"prompt": f"Question: What is {i}?. Answer the question concisely.", "predict": p, "label": f"thing {i}"})
                             + "\n" for i, p in enumerate(["other 0", "null 1"])))
    with JudgeServer() as server:
        env = {**os.environ, "SARLANG_JUDGE_URL": server.url, "SARLANG_JUDGE_API_KEY": "secret", "SARLANG_CACHE_DIR": str(tmp_path / "cache")}
        args = ["eval", "all", str(preds), "--out", str(tmp_path / "s"), "--judge", "api", "--no-meteor"]
        failed = run_cli(*args, env=env)
        allowed = run_cli(*args, "--allow-judge-failures", env=env)
    assert failed.returncode == 3 and "the judge failed on 1 answer," in failed.stderr
    assert allowed.returncode == 0 and (tmp_path / "s" / "vqa.json").exists()
