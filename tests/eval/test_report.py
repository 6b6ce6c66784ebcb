"""``sarlang report``: the self-contained HTML page, read as text and in a real browser."""

from __future__ import annotations

import base64
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli, save_screenshot

pytest.importorskip("jinja2", reason="jinja2 is not installed (the report extra)")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A simulated build, and the score folders of two models on its test split: one that
    answers every question right ("perfect": the ground truth) and the blind prior."""
    from sarlang.corpus.dataset import build_dataset
    from sarlang.formats.records import load_records
    from sarlang.models.base import load_model
    from sarlang.models.run import predict_records

    root = tmp_path_factory.mktemp("report")
    build_dataset(["simulate:16,size=64,seed=7"], root / "build")
    records_file = root / "build" / "records.jsonl"
    records, _ = load_records(records_file)
    (root / "perfect").mkdir()
    (root / "perfect" / "predictions.jsonl").write_text(
        "".join(json.dumps({"id": r.id, "prediction": r.answer}) + "\n" for r in records if r.split == "test"), encoding="utf-8")
    (root / "prior").mkdir()
    predict_records(load_model(f"prior:{root / 'build'}"), records_file, root / "prior" / "predictions.jsonl", split="test", restart=True)
    for name in ("perfect", "prior"):
        folder = root / name
        for task, extra in (("vqa", []), ("captions", ["--no-meteor"])):
            result = run_cli("eval", task, str(folder / "predictions.jsonl"), "--records", str(records_file), "--json", str(folder / f"{task}.json"), *extra)
            assert result.returncode == 0, result.stderr
    out = root / "report.html"
    result = run_cli("report", str(root / "perfect"), str(root / "prior"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"written to {out}" in result.stdout
    return {"root": root, "records": records_file, "html": out}


def _data_images(page: str) -> list[str]:
    return re.findall(r'<img src="(data:image/jpeg;base64,[^"]+)"', page)


@pytest.mark.slow
def test_the_page_holds_the_scores_and_needs_no_network(two_runs: dict[str, Path]) -> None:
    from PIL import Image

    from sarlang.eval.vqa import majority_answers, majority_predictions, score_vqa
    from sarlang.formats.predictions import load_eval_items
    from sarlang.formats.records import load_records

    page = two_runs["html"].read_text(encoding="utf-8")
    assert two_runs["html"].stat().st_size < 20e6
    # nothing is fetched: every src and href is inline data or a link inside the page
    targets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page)
    assert targets and all(t.startswith(("data:", "#")) for t in targets)
    assert "<link" not in page and "@import" not in page and not re.findall(r"url\(\s*[\"']?(?!#)", page)
    root = two_runs["root"]
    prior = json.loads((root / "prior" / "vqa.json").read_text())
    perfect = json.loads((root / "perfect" / "vqa.json").read_text())
    assert perfect["overall"]["accuracy"] == 1.0 and prior["overall"]["accuracy"] < 1.0
    overall = re.search(r"<b>overall</b></td>\s*(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", overall)
    # perfect: accuracy, interval, n; prior: the same; then the majority answer
    assert cells[0] == "100.0" and cells[2] == str(perfect["overall"]["n"])
    assert cells[3] == f"{prior['overall']['accuracy'] * 100:.1f}"
    records, _ = load_records(two_runs["records"])
    items = load_eval_items(root / "prior" / "predictions.jsonl", "jsonl", two_runs["records"], task="vqa").items
    majority = score_vqa(majority_predictions(majority_answers(records), items), mode="strict").overall.accuracy
    assert cells[6] == f"{majority * 100:.1f}"
    # the gallery: every answer a model got wrong (the prior's; the perfect model's are all right), at most 30 per application
    wrong = Counter(it["application"] for it in prior["items"] if not it["correct"])
    assert page.count('<div class="card" data-application=') == sum(min(30, n) for n in wrong.values()) > 0
    assert page.count('class="bad">✗</span> prior') == sum(min(30, n) for n in wrong.values())
    assert "✗</span> perfect" not in page
    small = two_runs["root"] / "small.html"
    assert run_cli("report", str(root / "prior"), "--gallery", "2", "--out", str(small)).returncode == 0
    assert small.read_text(encoding="utf-8").count('<div class="card" data-application=') == sum(min(2, n) for n in wrong.values())
    assert any(n > 2 for n in wrong.values()) and f"(2 of {max(wrong.values())})" in small.read_text(encoding="utf-8")
    # every picture is a real JPEG thumbnail, at most 224 pixels on a side
    images = _data_images(page)
    assert images
    for uri in set(images):
        with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
            assert im.format == "JPEG" and max(im.size) <= 224
    # a paired test of each pair: the two models and the majority answer
    assert "perfect</td><td class=\"l\">prior</td>" in page and "prior</td><td class=\"l\">majority answer</td>" in page
    assert page.count("<svg") >= 2  # accuracy bars and per-image CIDEr
    for section in ("VQA accuracy per application", "Accuracy per question type", "Confusion matrices", "Captions", "Error gallery", "The build", "Provenance"):
        assert section in page


def test_answers_fall_into_confusion_classes() -> None:
    from sarlang.eval.report import answer_class, confusion, referred_box
    from sarlang.schema import EvalItem

    assert answer_class("instance_counting", "There are three ships.") == "3"
    assert answer_class("instance_counting", "none") == "0"
    assert answer_class("object_positioning", "In the top left corner") == "left top"
    assert answer_class("object_classification", "Ships.") == "ship"

    def item(truth: str, answer: str) -> EvalItem:
        return EvalItem("x", answer, (truth,), "How many?", "instance_counting", "count")

    found = confusion("instance_counting", [item("2", "2"), item("2", "3"), item("10", "two"), item("3", "many")])
    # rows are the true counts in numeric order; an answer outside them is "other"
    assert found["rows"] == ["2", "3", "10"] and found["columns"] == ["2", "3", "10", "other"]
    assert found["matrix"] == [[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]] and found["n"] == 4
    assert referred_box("What is the object in the region [10.0, 20.5, 30.0, 4.0]?") == (10.0, 20.5, 30.0, 4.0)
    assert referred_box("What is this?") is None and referred_box("[1, 2, 0, 5]") is None


def test_thumbnails_draw_the_referred_box_and_the_labelled_objects(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.eval.report import thumbnail

    Image.fromarray(np.full((448, 448), 60, dtype=np.uint8)).save(tmp_path / "sar.png")
    uri = thumbnail(str(tmp_path / "sar.png"), [("ship", (200.0, 200.0, 100.0, 100.0))], (20.0, 20.0, 100.0, 100.0))
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        pixels = np.asarray(im.convert("RGB")).astype(int)
    assert pixels.shape == (224, 224, 3)  # shrunk twofold: boxes scale with it
    red, green = pixels[10, 30], pixels[100, 125]  # on the referred box's top edge; on the object's top edge
    assert red[0] > 180 and red[1] < 120 and green[1] > 150 and green[0] < 120
    assert abs(pixels[150, 30] - 60).max() < 20  # inside neither box: the image itself
    assert thumbnail(str(tmp_path / "missing.png")) is None


@pytest.mark.slow
def test_what_cannot_be_shown_is_said(two_runs: dict[str, Path], tmp_path: Path) -> None:
    """A run whose predictions moved still reports its scores, and says why answers are missing;
    a path that is no run is a clear error."""
    import shutil

    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(two_runs["root"] / "prior" / "vqa.json", moved / "vqa.json")
    data = json.loads((moved / "vqa.json").read_text())
    data["input"] = str(tmp_path / "gone.jsonl")
    (moved / "vqa.json").write_text(json.dumps(data))
    out = tmp_path / "r.html"
    result = run_cli("report", str(moved), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "are not there any more" in result.stdout and "are not there any more" in out.read_text(encoding="utf-8")
    assert f"{data['overall']['accuracy'] * 100:.1f}" in out.read_text(encoding="utf-8")
    for bad, message in ((tmp_path / "nothing", "does not exist"), (tmp_path, "holds no score file")):
        result = run_cli("report", str(bad), "--out", str(tmp_path / "x.html"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.html").exists()
    result = run_cli("report", str(moved), "--name", "a", "--name", "b", "--out", str(tmp_path / "x.html"))
    assert result.returncode == 2 and "2 names for 1 runs" in result.stderr


@pytest.mark.slow
def test_the_page_renders_in_a_browser(two_runs: dict[str, Path], browser, tmp_path: Path) -> None:
    """Chromium opens the page from disk: every image and plot renders, no request is made, the
    gallery filters by application and the tables sort."""
    from selenium.webdriver.common.by import By

    browser.get(two_runs["html"].as_uri())
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    images = browser.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images)
    plots = browser.find_elements(By.CSS_SELECTOR, ".figure svg")
    assert len(plots) >= 2 and all(p.size["width"] > 100 and p.size["height"] > 100 for p in plots)
    cards = browser.find_elements(By.CSS_SELECTOR, ".gallery .card[data-application]")
    buttons = browser.find_elements(By.CSS_SELECTOR, ".filters button")
    chosen = buttons[1]
    wanted = chosen.get_attribute("data-filter")
    chosen.click()
    shown = [c for c in cards if c.is_displayed()]
    assert shown and len(shown) < len(cards) and all(c.get_attribute("data-application") == wanted for c in shown)
    buttons[0].click()
    assert all(c.is_displayed() for c in cards)
    table = browser.find_element(By.CSS_SELECTOR, "#question-types table")
    header = table.find_elements(By.CSS_SELECTOR, "th")[0]
    header.click()
    names = [row.find_elements(By.TAG_NAME, "td")[0].text for row in table.find_elements(By.CSS_SELECTOR, "tr")[1:]]
    header.click()
    again = [row.find_elements(By.TAG_NAME, "td")[0].text for row in table.find_elements(By.CSS_SELECTOR, "tr")[1:]]
    assert names == sorted(names) and again == sorted(names, reverse=True)
    browser.execute_script("window.scrollTo(0, 0)")
    assert save_screenshot(browser, "report.png", tmp_path).stat().st_size > 10_000


@pytest.mark.slow
def test_grounding_runs_show_their_scores_and_boxes(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.eval.grounding import mean_box_answers
    from sarlang.formats.records import load_records

    build_dataset(["simulate:16,size=64,seed=7"], tmp_path / "b", BuildOptions(grounding="sarlang"))
    records, _ = load_records(tmp_path / "b")
    mean = mean_box_answers(records)
    (tmp_path / "mean").mkdir()
    (tmp_path / "mean" / "predictions.jsonl").write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n" for i, a in mean.items()))
    result = run_cli("eval", "grounding", str(tmp_path / "mean" / "predictions.jsonl"), "--records", str(tmp_path / "b"),
                     "--json", str(tmp_path / "mean" / "grounding.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "mean" / "grounding.json").read_text())
    result = run_cli("report", str(tmp_path / "mean"), "--name", "mean box", "--out", str(tmp_path / "g.html"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "g.html").read_text(encoding="utf-8")
    assert "Visual grounding" in page and f"<td>{scores['single']['acc@0.5'] * 100:.1f}</td>" in page
    wrong = [row for row in scores["items"] if row["iou"] is None or row["iou"] < 0.5]
    assert page.count('data-grounding="mean box"') == min(30, len(wrong)) > 0
    # the thumbnails draw the answer's box in orange
    uri = re.search(r'data-grounding="mean box"><img src="(data:image/jpeg;base64,[^"]+)"', page).group(1)
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")).astype(int)
    assert ((pixels[..., 0] > 200) & (pixels[..., 1] > 100) & (pixels[..., 1] < 200) & (pixels[..., 2] < 90)).any()


def test_segmentation_runs_show_their_scores_and_masks(tmp_path: Path) -> None:
    from PIL import Image

    from sarlang.corpus.dataset import BuildOptions, build_dataset
    from sarlang.eval.segmentation import mean_mask_answers
    from sarlang.formats.records import load_records

    build_dataset(["simulate:12,size=96,seed=1"], tmp_path / "b", BuildOptions(segmentation="polygon", train_fraction=0.5))
    records, _ = load_records(tmp_path / "b")
    mean = mean_mask_answers(records)
    (tmp_path / "mean").mkdir()
    (tmp_path / "mean" / "predictions.jsonl").write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n" for i, a in mean.items()))
    result = run_cli("eval", "segmentation", str(tmp_path / "mean" / "predictions.jsonl"), "--records", str(tmp_path / "b"),
                     "--json", str(tmp_path / "mean" / "segmentation.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "mean" / "segmentation.json").read_text())
    result = run_cli("report", str(tmp_path / "mean"), "--name", "mean mask", "--out", str(tmp_path / "s.html"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert "Referring segmentation" in page and f"<td>{scores['gIoU'] * 100:.1f}</td>" in page
    assert page.count('data-segmentation="mean mask"') == min(30, len(scores["items"])) > 0
    # the worst first: the cards' IoUs do not fall
    ious = [float(v) for v in re.findall(r'data-segmentation="mean mask">.*?IoU ([0-9.]+)', page, re.S)]
    assert ious == sorted(ious)
    # the thumbnails tint the true masks green and the answer orange
    found = {"green": False, "orange": False}
    for uri in re.findall(r'data-segmentation="mean mask"><img src="(data:image/jpeg;base64,[^"]+)"', page):
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")).astype(int)
        found["green"] |= bool(((pixels[..., 1] > 150) & (pixels[..., 0] < 110) & (pixels[..., 2] < 140)).any())
        found["orange"] |= bool(((pixels[..., 0] > 200) & (pixels[..., 1] > 100) & (pixels[..., 1] < 200) & (pixels[..., 2] < 90)).any())
    assert found == {"green": True, "orange": True}


def test_conversations_and_routing_get_their_tables(tmp_path: Path) -> None:
    """A VQA score file with turns shows accuracy per turn; a routing score file each expert
    alone, routed, the gain and who answered; a knowledge score file its accuracy per fact."""
    pytest.importorskip("jinja2")
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    build_dataset(["simulate:6,size=48,seed=3"], tmp_path / "b", BuildOptions(dialogue=3, knowledge=True))
    records = str(tmp_path / "b" / "records.jsonl")
    (tmp_path / "routes.yaml").write_text(f'instance_counting: "blobs:"\ndefault: "prior:{tmp_path / "b"}"\n')
    for name, spec in (("prior", f"prior:{tmp_path / 'b'}"), ("blobs", "blobs:"), ("routed", f"route:{tmp_path / 'routes.yaml'}")):
        assert run_cli("predict", "--model", spec, "--records", records, "--out", str(tmp_path / f"{name}.jsonl")).returncode == 0
    assert run_cli("eval", "vqa", str(tmp_path / "prior.jsonl"), "--records", records, "--json", str(tmp_path / "vqa.json")).returncode == 0
    routed = run_cli("eval", "routing", str(tmp_path / "routed.jsonl"), "--records", records, "--expert", f"prior={tmp_path / 'prior.jsonl'}",
                     "--expert", f"blobs={tmp_path / 'blobs.jsonl'}", "--json", str(tmp_path / "routing.json"))
    assert routed.returncode == 0, routed.stderr
    assert run_cli("eval", "knowledge", str(tmp_path / "prior.jsonl"), "--records", records, "--json", str(tmp_path / "knowledge.json")).returncode == 0
    made = run_cli("report", str(tmp_path / "vqa.json"), str(tmp_path / "routing.json"), str(tmp_path / "knowledge.json"), "--out", str(tmp_path / "r.html"))
    assert made.returncode == 0, made.stderr
    page = (tmp_path / "r.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    routing = json.loads((tmp_path / "routing.json").read_text())
    assert "Conversations: accuracy per turn" in text and "Experts and routing" in text and "Knowledge questions and retrieval" in text
    assert f"routed {routing['routed']['accuracy'] * 100:.1f}" in text
    assert f"prior alone {routing['experts']['prior']['accuracy'] * 100:.1f}" in text
    assert "others.sensor" in text
