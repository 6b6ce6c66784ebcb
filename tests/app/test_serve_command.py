"""``sarlang serve`` and ``make serve`` as a user types them: started in their own process, asked
over HTTP on loopback, stopped with SIGTERM; and what a visitor can and cannot make the server do.

The other tests of the pages build them in-process; these start the commands themselves, so a
page that works but a command that dies at start (an option it passes gradio the wrong way, an
import only the command makes) fails here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tests.app.conftest import free_port, serving, wait_for_http
from tests.conftest import ROOT, SHARED_DATA, real_8bit_rasters

pytestmark = [pytest.mark.slow]
gradio = pytest.importorskip("gradio", reason="gradio is not installed (the app extra)")
gradio_client = pytest.importorskip("gradio_client", reason="gradio_client is not installed (comes with gradio)")
HRSID = SHARED_DATA / "hrsid" / "images"


def _page_text(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=10).text + httpx.get(url + "config", timeout=10).text


class _Listener(ThreadingHTTPServer):
    """A local endpoint that records every request it gets (a stand-in for a URL a visitor names)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.seen.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"choices": [{"message": {"content": "3"}, "finish_reason": "stop"}]}).encode())

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def test_sarlang_serve_as_typed(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    """The README's command starts, serves the page, serves nothing of the build and no path of
    the server, asks only the model named on the command line, and stops cleanly on SIGTERM."""
    build, model = tiny_model["build"], tiny_model["model"]
    listener = _Listener()
    secret = "sk-test-secret-that-must-stay-here"
    with serving(["--model", str(model), "--build", str(build)], cwd=tmp_path, env={"OPENAI_API_KEY": secret}) as (url, _):
        import httpx

        page = _page_text(url)
        for private in (str(build.resolve()), str(model.resolve()), str(tmp_path.resolve())):
            assert private not in page
        # the build's records (the questionnaire's ground truth) are not served, nor anything else of it
        for name in ("records.jsonl", "objects.jsonl", "summary.json"):
            assert httpx.get(f"{url}gradio_api/file={(build / name).resolve()}", timeout=10).status_code == 403
        client = gradio_client.Client(url, verbose=False)
        picture = next((build / "images").glob("*.png"))
        _, _, info, status = client.predict(gradio_client.handle_file(str(picture)), None, "sarlang", "auto", api_name="/preview")
        assert status == "" and "estimated looks" in info
        answer, timing = client.predict(model.name, "How many ships are there in the image?", api_name="/ask")
        assert answer and "answered by" in timing
        # real 8-bit SAR as distributed, uploaded with each built-in recipe: a preview, or (a fixed
        # window of calibrated dB on uncalibrated values) the reason in the page
        for name, raster in real_8bit_rasters().items():
            for recipe in ("sarlang", "sarclip", "percentile", "none"):
                raw, processed, info, status = client.predict(gradio_client.handle_file(str(raster)), None, recipe, "auto", api_name="/preview")
                if recipe == "sarclip":
                    assert "not calibrated" in status and info == "", (name, status)
                else:
                    assert status == "" and f"{raster.name}" in info.replace("\\", "") and "pixels" in info, (name, recipe, info, status)
        # a visitor naming another model (one whose URL would get the upload and the key) is refused, and nothing is sent
        for spec in (f"api:gpt-4o@{listener.url}", str(model), "prior:" + str(build)):
            answer, timing = client.predict(spec, "How many ships?", api_name="/ask")
            assert answer == "" and "only the models its server was started with" in timing, timing
        assert listener.seen == []
        # nor can a visitor pick a file of the server that is not one of the build's pictures
        for path in (str((build / "records.jsonl").resolve()), "../records.jsonl", "records.jsonl"):
            _, _, info, status = client.predict(None, path, "sarlang", "auto", api_name="/preview")
            assert info == "" and "pick one of the build's images" in status
    listener.shutdown()


def test_serve_names_only_the_operators_models(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    from sarlang.app.web import Models, model_names
    from sarlang.errors import InputError

    names = model_names([str(tiny_model["model"]), "api:qwen@http://gpu1:8000/v1,http://gpu2:8000/v1", str(tiny_model["model"])])
    assert names == {tiny_model["model"].name: str(tiny_model["model"]), "api:qwen": "api:qwen@http://gpu1:8000/v1,http://gpu2:8000/v1"}
    models = Models(allowed=names)
    assert models.get(tiny_model["model"].name) is models.get(tiny_model["model"].name)
    for spec in ("api:qwen@http://elsewhere/v1", str(tiny_model["model"]), "x"):
        with pytest.raises(InputError, match="only the models"):
            models.get(spec)


def test_an_api_model_that_fails_shows_the_failure(tiny_model: dict[str, Path]) -> None:
    """Every request to the operator's API model fails: the page says so, never 'answered by' with no answer."""
    from sarlang.app.web import Models, ask, guarded
    from sarlang.errors import SarlangError
    from sarlang.models.api import ApiModel

    model = ApiModel(f"http://127.0.0.1:{free_port()}/v1", "m", api_key="k", retries=0, timeout=5)
    picture = str(next((tiny_model["build"] / "images").glob("*.png")))
    with pytest.raises(SarlangError, match="gave no answer"):
        ask(model, picture, "How many ships?")
    models = Models(allowed={"api:m": "api:m@unused"}, loaded={"api:m@unused": model})
    shown = guarded(lambda name: ask(models.get(name), picture, "How many ships?"), lambda m: ("", f"⚠️ {m}"))("api:m")
    assert shown[0] == "" and "gave no answer" in shown[1] and "answered by" not in shown[1]
    model.close()


def test_the_questionnaire_as_typed(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    """``sarlang serve --human BUILD --sample N --out answers/``: two participants answering at
    the same time (one of them from two clients) get every answer on disk once, in their own
    file; an id naming a path outside the answers folder is refused; Unicode ids work."""
    from sarlang.app.human import Questionnaire

    build = tiny_model["build"]
    with serving(["--human", str(build), "--sample", "6", "--out", "answers/"], cwd=tmp_path) as (url, _):
        assert str(build.resolve()) not in _page_text(url)
        survey = Questionnaire.open(build, 6, tmp_path / "probe")
        truth = {r.id: r.answer for r in survey.questions}
        from sarlang.app.web import as_markdown_text

        by_question = {as_markdown_text(r.question): r.id for r in survey.questions}
        assert len(by_question) == len(truth), "the test tells questions apart by their text"

        def participate(who: str, results: list) -> None:
            client = gradio_client.Client(url, verbose=False)
            from PIL import Image

            out = client.predict(who, "non-expert", api_name="/start")
            for _ in range(6):
                if not out[1]:
                    break
                with Image.open(out[0]) as shown:  # the picture arrived whole (gradio once rewrote a shared cache file)
                    shown.load()
                record_id = by_question[out[1]]
                out = client.predict(f"{who}:{truth[record_id]}", api_name="/submit")
            results.append(out)

        results: list = []
        threads = [threading.Thread(target=participate, args=(who, results)) for who in ("Zoë", "p02", "p02", "p03")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert len(results) == 4
        for who in ("Zoë", "p02", "p03"):
            rows = [json.loads(line) for line in (tmp_path / "answers" / f"{who}.jsonl").read_text(encoding="utf-8").splitlines()]
            assert sorted(r["id"] for r in rows) == sorted(truth) and len({r["id"] for r in rows}) == 6
            assert all(r["participant"] == who and r["prediction"].startswith(f"{who}:") for r in rows)
        client = gradio_client.Client(url, verbose=False)
        for bad in ("../escape", "/tmp/x", "a/b", ".hidden", "..", "x" * 65):
            out = client.predict(bad, "non-expert", api_name="/start")
            assert "participant id is" in out[-1], (bad, out[-1])
        assert sorted(p.name for p in (tmp_path / "answers").iterdir()) == ["Zoë.jsonl", "p02.jsonl", "p03.jsonl"]
        assert not (tmp_path / "escape.jsonl").exists()


def test_answers_of_many_threads_never_interleave(tmp_path: Path, sim_bench: Path) -> None:
    """Threads answering for two participants at once: every answer on disk once, each line whole."""
    from sarlang.app.human import Questionnaire

    survey = Questionnaire.open(sim_bench, 40, tmp_path / "answers")
    ids = [r.id for r in survey.questions]

    def answer(who: str, offset: int) -> None:
        for k in range(len(ids)):
            record_id = ids[(k + offset) % len(ids)]
            survey.record_answer(who, "SAR expert", record_id, f"{who} {record_id} " + "x" * 3000, 1.0)
            survey.next_question(who)

    threads = [threading.Thread(target=answer, args=(who, offset)) for who in ("ana", "Zoë") for offset in (0, 3, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for who in ("ana", "Zoë"):
        rows = [json.loads(line) for line in survey.file(who).read_text(encoding="utf-8").splitlines()]
        assert sorted(r["id"] for r in rows) == sorted(ids)
        assert all(r["prediction"].startswith(f"{who} {r['id']} ") for r in rows)


def test_make_serve_as_typed(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    """``make serve`` on a run's folder (the layout ``make demo`` writes) serves its model, and the
    server stops cleanly on SIGTERM."""
    import sys

    run = tmp_path / "run"
    run.mkdir()
    (run / "model").symlink_to(tiny_model["model"])
    (run / "build").symlink_to(tiny_model["build"])
    venv = Path(sys.executable).parent.parent
    port = free_port()
    process = subprocess.Popen(["make", "-s", "serve", f"VENV={venv}", f"DEMO_OUT={run}", f"PORT={port}"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process, timeout=300)
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
        picture = next((tiny_model["build"] / "images").glob("*.png"))
        client.predict(gradio_client.handle_file(str(picture)), None, "sarlang", "auto", api_name="/preview")
        answer, timing = client.predict("model", "Is there a ship in the image?", api_name="/ask")
        assert answer and "answered by" in timing
    finally:
        import psutil

        # the server itself, not the shell make runs the recipe in
        for child in psutil.Process(process.pid).children(recursive=True):
            if child.name() not in ("sh", "bash", "dash") and "serve" in child.cmdline():
                child.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in out + err, (out, err)
    assert "stopped" in out
    missing = subprocess.run(["make", "-s", "serve", f"VENV={venv}", f"DEMO_OUT={tmp_path / 'none'}"], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode != 0 and "run make demo first" in missing.stdout + missing.stderr


def _rss_mib(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def test_serve_under_load(tiny_model: dict[str, Path], tmp_path: Path) -> None:
    """20 clients at once for 30 s, each uploading a raster (real HRSID tiles where
    ../shared/data is there) and asking about it: every request answered, no error message,
    every answer the model's own for that picture, and the server's memory bounded."""
    from sarlang.app.web import Models, ask, preview_raster

    uploads = sorted(HRSID.glob("*.jpg"))[:5] if HRSID.is_dir() else []
    rng = np.random.default_rng(0)
    for k in range(5 - len(uploads)):
        from sarlang.sar.io import write_png

        path = tmp_path / f"speckle{k}.png"
        write_png(path, np.clip(rng.gamma(2, 40, size=(256, 256)), 0, 255).astype(np.uint8))
        uploads.append(path)
    model = Models().get(str(tiny_model["model"]))
    question = "How many ships are there in the image?"
    expected = {p.name: ask(model, preview_raster(p, "sarlang", "auto", tmp_path / "expect").path, question)[0] for p in uploads}
    with serving(["--model", str(tiny_model["model"])], cwd=tmp_path) as (url, process):
        errors: list[str] = []
        done = [0]
        memory: list[float] = []
        stop_at = time.monotonic() + 30

        def visitor(k: int) -> None:
            client = gradio_client.Client(url, verbose=False)
            n = k
            while time.monotonic() < stop_at:
                picture = uploads[n % len(uploads)]
                n += 1
                try:
                    _, _, info, status = client.predict(gradio_client.handle_file(str(picture)), None, "sarlang", "auto", api_name="/preview")
                    answer, timing = client.predict("model", question, api_name="/ask")
                except Exception as exc:  # any failure of the server is what this test looks for
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                if status or "⚠" in timing or answer != expected[picture.name]:
                    errors.append(f"{picture.name}: status {status!r}, timing {timing!r}, answer {answer!r} (expected {expected[picture.name]!r})")
                done[0] += 1

        def watch() -> None:
            while time.monotonic() < stop_at + 5:
                memory.append(_rss_mib(process.pid))
                time.sleep(1)

        threads = [threading.Thread(target=visitor, args=(k,)) for k in range(20)] + [threading.Thread(target=watch)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
        assert not errors, errors[:5]
        assert done[0] >= 20, done[0]
        # memory grows while the model and the libraries load (the first 10 s, about 400 MiB here),
        # then stays: a server that kept every upload or preview would grow ~2-4 MiB per request
        settled = memory[len(memory) // 3]
        later = max(memory[len(memory) // 3:])
        assert later < settled + 150 and later < 2000, ([round(m) for m in memory], done[0])
