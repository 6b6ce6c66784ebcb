"""LLM text transfer against a local chat-completions server, SAR-expert rules, and the review round-trip."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from sarlang.corpus.dataset import build_dataset
from sarlang.corpus.llm import export_review_sheet, generate_llm_captions, import_review_sheet, sar_expert_rules
from sarlang.chat import ChatClient
from sarlang.errors import InputError

from ..conftest import run_cli
from ..fake_openai import FakeOpenAI, Reply

REPLY = "A bright red ship and 7 cars lie near a white harbour pier on dark water."


class CaptionServer(FakeOpenAI):
    """The fake server answering every request with :data:`REPLY`; started at once, stopped by ``close``."""

    def __init__(self) -> None:
        super().__init__(lambda body, count: Reply(content=REPLY))
        self.__enter__()

    def close(self) -> None:
        self.__exit__()


def test_rules() -> None:
    text, flags = sar_expert_rules("Three large white ships on blue water near a harbor; two cars.", {"ship": 4, "car": 2}, {"ship", "car", "harbor"})
    assert "white" not in text and "blue" not in text and "ships" in text
    assert "removed colour words: blue, white" in flags
    assert "count of ships: text says 3, labels say 4" in flags
    assert "mentions harbor, which the labels do not contain" in flags
    assert not any("car" in f for f in flags)
    assert sar_expert_rules("There are 4 ships.", {"ship": 4}, {"ship"}) == ("There are 4 ships.", [])


def test_generation_cache_and_review_round_trip(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_dataset(["simulate:3,size=96"], build)
    before = [json.loads(x) for x in (build / "records.jsonl").read_text().splitlines()]
    server = CaptionServer()
    try:
        client = ChatClient(server.url, "captioner", cache_path=tmp_path / "cache.sqlite", backoff=0.01, max_tokens=300)
        result = generate_llm_captions(build, client, mode="facts")
        asked = len(server.bodies)
        again = generate_llm_captions(build, client, mode="facts")  # cached, and idempotent
        client.close()
    finally:
        server.close()
    assert result["captions"] == 3 == again["captions"] and asked == 3 and len(server.bodies) == 3
    assert "Facts:" in server.bodies[0]["messages"][0]["content"] and server.bodies[0]["temperature"] == 0
    after = [json.loads(x) for x in (build / "records.jsonl").read_text().splitlines()]
    llm = [r for r in after if r["provenance"].get("generator") == "llm"]
    assert len(after) == len(before) + 3 and len(llm) == 3
    assert all("red" not in r["answer"] and "white" not in r["answer"] for r in llm)
    assert all(any("colour" in f for f in r["provenance"]["flags"]) for r in llm)
    assert all(r["provenance"]["raw"] == REPLY for r in llm)

    sheet = tmp_path / "review.csv"
    assert export_review_sheet(build, sheet) == 3
    table = list(csv.reader(io.StringIO(sheet.read_text())))
    table[1][5] = "A ship lies on dark water."
    table[1][6] = "counts did not match the labels"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(table + [["no-such-id", "", "", "", "", "x", ""]])
    sheet.write_text(buffer.getvalue())
    outcome = import_review_sheet(build, sheet)
    assert outcome["changed"] == 1 and outcome["unchanged"] == 2 and len(outcome["rejects"]) == 1
    reviewed = {r["id"]: r for r in map(json.loads, (build / "records.jsonl").read_text().splitlines())}
    changed = reviewed[table[1][0]]
    assert changed["answer"] == "A ship lies on dark water."
    assert changed["provenance"]["review"] == {"changed": True, "before": table[1][3], "note": "counts did not match the labels"}
    # the build's other outputs follow the reviewed records
    summary = json.loads((build / "summary.json").read_text())
    assert summary["records"] == len(after) and summary["by_application"]["image_description"] == sum(
        r["application"] == "image_description" for r in after)
    # a new run would throw the review away: refused unless asked for
    server = CaptionServer()
    try:
        client = ChatClient(server.url, "captioner", cache_path=tmp_path / "cache.sqlite", backoff=0.01, max_tokens=300)
        with pytest.raises(InputError, match="were reviewed"):
            generate_llm_captions(build, client, mode="facts")
        assert generate_llm_captions(build, client, mode="facts", restart=True)["captions"] == 3
        client.close()
    finally:
        server.close()
    assert not [r for r in map(json.loads, (build / "records.jsonl").read_text().splitlines()) if "review" in r["provenance"]]


@pytest.mark.slow
def test_cli_errors(tmp_path: Path) -> None:
    result = run_cli("llm-captions", str(tmp_path), env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2 and "no OpenAI-compatible endpoint given" in result.stderr
    result = run_cli("review", "import", str(tmp_path), str(tmp_path / "missing.csv"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for command in (["llm-captions"], ["review", "export"], ["review", "import"]):
        assert "Example" in run_cli(*command, "--help").stdout


def test_optical_mode_sends_the_paired_image(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_dataset(["simulate:2,size=64"], build)
    optical = tmp_path / "optical"
    optical.mkdir()
    images = sorted({json.loads(x)["image"] for x in (build / "records.jsonl").read_text().splitlines()})
    from PIL import Image

    Image.new("RGB", (8, 8), (10, 200, 30)).save(optical / (Path(images[0]).stem + ".png"))  # only the first has one
    server = CaptionServer()
    try:
        client = ChatClient(server.url, "captioner", cache_path=tmp_path / "cache.sqlite", backoff=0.01)
        result = generate_llm_captions(build, client, mode="optical", optical_dir=optical)
        client.close()
    finally:
        server.close()
    assert result["captions"] == 1 and [(r.source, r.reason) for r in result["rejects"]] == [(images[1], "no paired optical image")]
    content = server.bodies[0]["messages"][0]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
