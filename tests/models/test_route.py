"""Experts by instruction: a routes file and a learned router hand each question to its expert, and routing is scored against each expert alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarlang.errors import InputError
from sarlang.models.base import load_model
from sarlang.models.route import application_of, best_experts
from sarlang.models.run import predict_records

from ..conftest import run_cli


def test_application_of_reads_the_wording() -> None:
    assert application_of("Question: How many ships are there in the image?. Answer the question concisely.") == "instance_counting"
    assert application_of("Describe the content of this image in one sentence.") == "image_description"
    assert best_experts({"a": {"x": (0.5, 10), "y": (0.9, 10)}, "b": {"x": (0.7, 10), "y": (0.1, 10)}}) == ({"x": "b", "y": "a"}, "a")


def test_a_routes_file_sends_counting_to_the_detector(sim_bench: Path, tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(f'instance_counting: "blobs:"\nobject_identification: "blobs:"\ndefault: "prior:{sim_bench}"\n')
    router = load_model(f"route:{routes}")
    out = tmp_path / "routed.jsonl"
    predict_records(router, sim_bench / "records.jsonl", out, split="test")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    records = {json.loads(line)["id"]: json.loads(line) for line in (sim_bench / "records.jsonl").read_text().splitlines()}
    for row in rows:
        application = records[row["id"]]["application"]
        assert row["expert"] == ("blobs:" if application in ("instance_counting", "object_identification") else f"prior:{sim_bench}")
    bad = tmp_path / "bad.yaml"
    bad.write_text('counting: "blobs:"\n')
    with pytest.raises(InputError, match="unknown applications"):
        load_model(f"route:{bad}")
    bad.write_text('instance_counting: "blobs:"\n')
    with pytest.raises(InputError, match="default"):
        load_model(f"route:{bad}")


@pytest.mark.slow
def test_a_learned_router_picks_the_best_expert_per_application(sim_bench: Path, tmp_path: Path) -> None:
    records = sim_bench / "records.jsonl"
    experts = {"blobs": "blobs:", "prior": f"prior:{sim_bench}"}
    for name, spec in experts.items():
        made = run_cli("predict", "--model", spec, "--records", str(records), "--out", str(tmp_path / f"{name}.jsonl"), "--split", "train")
        assert made.returncode == 0, made.stderr
        scored = run_cli("eval", "vqa", str(tmp_path / f"{name}.jsonl"), "--records", str(records), "--json", str(tmp_path / f"{name}_val.json"))
        assert scored.returncode == 0, scored.stderr
    config = tmp_path / "router.yaml"
    config.write_text(json.dumps({"model": "router", "records": str(records), "out": str(tmp_path / "router"), "experts": experts,
                                  "scores": {n: str(tmp_path / f"{n}_val.json") for n in experts}}))
    trained = run_cli("train", "--config", str(config))
    assert trained.returncode == 0, trained.stderr
    saved = json.loads((tmp_path / "router" / "config.json").read_text())
    val = {n: json.loads((tmp_path / f"{n}_val.json").read_text())["by_application"] for n in experts}
    for application, expert in saved["routes"].items():
        if application != "default":
            assert val[expert][application]["accuracy"] == max(v[application]["accuracy"] for v in val.values() if application in v)
    for name, spec in experts.items():
        assert run_cli("predict", "--model", spec, "--records", str(records), "--out", str(tmp_path / f"{name}_test.jsonl")).returncode == 0
    routed = run_cli("predict", "--model", str(tmp_path / "router"), "--records", str(records), "--out", str(tmp_path / "routed.jsonl"))
    assert routed.returncode == 0, routed.stderr
    assert all(json.loads(line)["expert"] in experts for line in (tmp_path / "routed.jsonl").read_text().splitlines())
    report = run_cli("eval", "routing", str(tmp_path / "routed.jsonl"), "--records", str(records),
                     *[a for n in experts for a in ("--expert", f"{n}={tmp_path / f'{n}_test.jsonl'}")], "--json", str(tmp_path / "r.json"))
    assert report.returncode == 0, report.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert set(result["experts"]) == set(experts) and result["n"] > 0 and "routed" in report.stdout
    assert result["oracle"]["accuracy"] >= max(result["routed"]["accuracy"], *(v["accuracy"] for v in result["experts"].values()))


def test_a_pair_routed_to_a_one_image_expert_is_left_with_the_reason(tmp_path: Path) -> None:
    from sarlang.corpus.dataset import build_dataset

    build_dataset(["simulate-change:2,size=48"], tmp_path / "b")
    routes = tmp_path / "routes.yaml"
    routes.write_text('change_detection: "logratio:"\ndefault: "blobs:"\n')
    result = predict_records(load_model(f"route:{routes}"), tmp_path / "b" / "records.jsonl", tmp_path / "p.jsonl", split=None)
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert {r["expert"] for r in rows} == {"logratio:"}  # only the change questions got an answer
    assert result["failed"] > 0 and any("sees one image per prompt" in f for f in result["failures"])
