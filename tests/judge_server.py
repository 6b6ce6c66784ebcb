"""The judge's reply policy on the one fake server (:mod:`tests.fake_openai`).

The reply depends on the predicted answer inside the prompt:
``garbage...`` -> an unparsable sentence; ``flaky...`` -> HTTP 500 twice, then a verdict;
``down...`` -> always HTTP 500; ``slow...`` -> answers after 2 s; ``badjson...`` -> a body that is
not JSON; ``ratelimit...`` -> HTTP 429 once; ``retryafter...`` -> HTTP 503 with ``Retry-After: 1``
once; ``null...`` -> ``content: null``; ``blank...`` -> an empty content; ``cut...`` -> ``1`` with
``finish_reason: "length"``; ``torn...`` -> a body cut short of its Content-Length. Otherwise
``1`` when the prediction equals the ground truth (case-insensitively) and ``0`` when not.
A key other than ``secret`` gets HTTP 401.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from .fake_openai import FakeOpenAI, Reply


def _predicted(body: dict[str, Any]) -> str:
    return re.search(r"Predicted Answer: (.*)\n", body["messages"][0]["content"]).group(1)


def judge_policy(body: dict[str, Any], count: int) -> Reply:
    prompt = body["messages"][0]["content"]
    gt = re.search(r"Ground Truth Answer: (.*)\n", prompt).group(1)
    pred = _predicted(body)
    kind = pred.split()[0] if pred else ""
    if kind.startswith("flaky") and count <= 2 or kind.startswith("down"):
        return Reply(status=500, raw=b'{"error": "internal"}')
    if kind.startswith("ratelimit") and count == 1:
        return Reply(status=429, raw=b'{"error": "slow down"}')
    if kind.startswith("retryafter") and count == 1:
        return Reply(status=503, raw=b"{}", headers={"Retry-After": "1"})
    if kind.startswith("torn"):
        return Reply(content="1", torn=True)
    if kind in ("null", "blank", "cut"):
        return Reply(content={"null": None, "blank": "  ", "cut": "1"}[kind], finish_reason="length" if kind == "cut" else "stop")
    if kind.startswith("badjson"):
        return Reply(raw=b"<html>not json</html>")
    if kind.startswith("garbage"):
        return Reply(content="The prediction seems to match, so I would say 1.")
    if kind.startswith(("flaky", "ratelimit", "slow", "retryafter")):
        return Reply(content="1", delay=2.0 if kind.startswith("slow") else 0.0)
    return Reply(content="1." if pred.strip().lower() == gt.strip().lower() else "0")


class JudgeServer(FakeOpenAI):
    """The fake server with the judge policy, counting requests per predicted answer (``per_prediction``)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(judge_policy, key="secret", delay=delay, count_by=_predicted)

    @property
    def per_prediction(self):  # noqa: ANN201 - a Counter
        return self.counts


if __name__ == "__main__":  # run standalone for the kill-and-resume test
    with JudgeServer(delay=float(sys.argv[1])) as s:
        print(s.url, flush=True)
        while True:
            time.sleep(0.1)
            with s._lock:
                sys.stderr.write(f"{len(s.requests)}\n")
                sys.stderr.flush()
