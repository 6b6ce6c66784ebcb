"""Every ``sarlang`` command line of the README's code blocks, run as a subprocess exactly as
written, in a folder laid out as the README assumes (``../shared/data`` beside it, the files
the lines read made by the lines before them or by the setup below).

A line that cannot run here is in :data:`NOT_RUN` with the reason (it still has to parse, in
``tests/test_help.py``); a line of the README in neither table, or a table entry the README no
longer shows, fails the test, so the tables follow the README. Server lines run as typed but for
``--port``, which a test cannot hold fixed, and are asked over HTTP before SIGTERM stops them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.cli_text import shown_commands
from tests.conftest import EXAMPLES, ROOT, SHARED_DATA, sarlang_cli

pytestmark = pytest.mark.slow

#: README lines that do not run here, and why.
NOT_RUN = {
    "sarlang eval vqa predictions.jsonl --records test.jsonl --judge api --judge-url https://api.openai.com/v1 --json scores.json":
        "asks api.openai.com (no network here); the judge client runs against local servers in tests/test_judges.py",
    "sarlang predict --model mybench/lora --records mybench/records.jsonl --out mybench/lora_predictions.jsonl":
        "needs a LoRA adapter of a Hugging Face VLM: tests/models/test_hf.py trains one on five tiny VLMs and predicts with it",
    "sarlang merge --adapter mybench/lora --out mybench/merged":
        "needs that LoRA adapter: tests/models/test_hf.py merges one",
    "sarlang build --source coco:/data/sardet --out /data/bench --engine ray --ray-address HEAD:6379":
        "a Ray cluster's head node (HEAD) and /data: tests/engines/test_ray_cluster.py runs a build on a ray start cluster",
    "sarlang predict --model /data/bench/model --records /data/bench/records.jsonl --out /data/bench/pred.jsonl --engine ray --ray-address HEAD:6379":
        "a Ray cluster's head node: tests/engines/test_ray.py predicts on a local Ray instance",
    "sarlang predict --model api:Qwen/Qwen2.5-VL-3B-Instruct@http://localhost:8000/v1,http://localhost:8001/v1 --records bench/records.jsonl --out bench/qwen_pred.jsonl":
        "two vLLM servers on GPUs: tests/models/test_api_servers.py predicts over two local servers",
    "sarlang eval all bench/qwen_pred.jsonl --records bench --out bench/qwen_scores":
        "scores the line before's predictions",
}

#: README lines in the order they run (a line runs after the lines whose outputs it reads).
RUN = [
    "sarlang eval captions generated_predictions.jsonl --mode sarlang --json scores.json",
    "sarlang eval captions predictions.jsonl --records test.jsonl --mode coco --markdown",
    "sarlang eval vqa VQA_result.csv --mode official --judge none",
    "sarlang eval compare model_a.json model_b.json",
    "sarlang report demo_out --out report.html",
    "sarlang serve --model demo_out/model --clip demo_out/clip --build demo_out/build --port 7860",
    "sarlang serve --human demo_out/build --sample 200 --out answers/",
    "sarlang eval vqa answers/p01.jsonl --records demo_out/build --json p01.json",
    "sarlang report demo_out p01.json --name 'built-in model' --name 'p01 (non-expert)' --out people_and_models.html",
    "sarlang report scores_a/ scores_b/vqa.json p01.json --name model-A --name model-B --name 'SAR expert' --out compare.html",
    "sarlang preprocess ../shared/data/hrsid/images --recipe sarlang --out preprocessed/",
    "sarlang build --source voc:../shared/data/mstar_scenes --source masks:../shared/data/hrsid --out mybench/",
    "sarlang export mybench/ --to sharegpt",
    "sarlang stats mybench/",
    "sarlang train --config train.yaml",
    "sarlang predict --model mybench/model --records mybench/records.jsonl --out mybench/predictions.jsonl",
    "sarlang eval vqa mybench/predictions.jsonl --records mybench/records.jsonl",
    "sarlang scene S1A_IW_GRDH_VV.tif --model mybench/model --out ships.geojson --tile 512 --overlap 64 --recipe sarlang --ask 'Is there a harbor?'",
    "sarlang build --source masks:../shared/data/hrsid --source masks:../shared/data/hrsid_official --segmentation polygon --grounding sarlang --out hrsid_masks/",
    "sarlang build --source voc:../shared/data/mstar_scenes,gsd=0.3,sensor=MSTAR --dialogue 4 --knowledge --out talk/",
    "sarlang predict --model prior:talk --records talk/records.jsonl --out talk/prior.jsonl",
    "sarlang eval vqa talk/prior.jsonl --records talk/records.jsonl",
    "sarlang index --records talk --docs sensors/ --out talk/knowledge",
    "sarlang predict --model prior:talk --records talk/records.jsonl --out talk/prior_rag.jsonl --retrieve talk/knowledge --retrieve-by question",
    "sarlang eval knowledge talk/prior_rag.jsonl --records talk --index talk/knowledge",
    "sarlang predict --model blobs: --records talk/records.jsonl --out talk/blobs.jsonl",
    "sarlang predict --model route:routes.yaml --records talk/records.jsonl --out talk/routed.jsonl",
    "sarlang eval routing talk/routed.jsonl --records talk --expert prior=talk/prior.jsonl --expert blobs=talk/blobs.jsonl",
    "sarlang build --source simulate:6,size=64 --out bench",
    "sarlang export bench --to sharegpt --out export_sharegpt",
    "sarlang eval all lf_pred/generated_predictions.jsonl --records bench --out scores",
]
#: What each run line must have written (besides exiting 0 without a traceback).
WRITES = {
    "sarlang eval captions generated_predictions.jsonl --mode sarlang --json scores.json": ["scores.json"],
    "sarlang report demo_out --out report.html": ["report.html"],
    "sarlang report scores_a/ scores_b/vqa.json p01.json --name model-A --name model-B --name 'SAR expert' --out compare.html": ["compare.html"],
    "sarlang eval vqa answers/p01.jsonl --records demo_out/build --json p01.json": ["p01.json"],
    "sarlang report demo_out p01.json --name 'built-in model' --name 'p01 (non-expert)' --out people_and_models.html": ["people_and_models.html"],
    "sarlang preprocess ../shared/data/hrsid/images --recipe sarlang --out preprocessed/": ["preprocessed/P0001_1200_2000_9600_10400.png"],
    "sarlang build --source voc:../shared/data/mstar_scenes --source masks:../shared/data/hrsid --out mybench/": ["mybench/records.jsonl"],
    "sarlang export mybench/ --to sharegpt": ["mybench/export_sharegpt/dataset_info.json"],
    "sarlang stats mybench/": ["mybench/stats.md"],
    "sarlang train --config train.yaml": ["mybench/model/config.json"],
    "sarlang predict --model mybench/model --records mybench/records.jsonl --out mybench/predictions.jsonl": ["mybench/predictions.jsonl"],
    "sarlang scene S1A_IW_GRDH_VV.tif --model mybench/model --out ships.geojson --tile 512 --overlap 64 --recipe sarlang --ask 'Is there a harbor?'": ["ships.geojson"],
    "sarlang export bench --to sharegpt --out export_sharegpt": ["export_sharegpt/sharegpt_test.json"],
    "sarlang build --source masks:../shared/data/hrsid --source masks:../shared/data/hrsid_official --segmentation polygon --grounding sarlang --out hrsid_masks/": ["hrsid_masks/records.jsonl"],
    "sarlang eval all lf_pred/generated_predictions.jsonl --records bench --out scores": ["scores/captions.json", "scores/vqa.json"],
    "sarlang index --records talk --docs sensors/ --out talk/knowledge": ["talk/knowledge/manifest.json", "talk/knowledge/text.faiss"],
    "sarlang predict --model route:routes.yaml --records talk/records.jsonl --out talk/routed.jsonl": ["talk/routed.jsonl"],
}
#: The README's routes.yaml, as written there.
ROUTES_YAML = 'instance_counting: "blobs:"\nobject_identification: "blobs:"\ndefault: prior:talk\n'

#: The README's train.yaml comment, as a file: its model, records and out, with epochs and sizes a test can afford.
TRAIN_YAML = ("model: baseline\nrecords: mybench/records.jsonl\nout: mybench/model\nepochs: 1\nbatch_size: 32\nimage_size: 32\nwidth: 32\n"
              "heads: 2\nlayers: 1\nencoder: scratch\n")


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in result.stderr + result.stdout, (args, result.stderr)
    return result


def _sarlang(line: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    words = shlex.split(line)
    result = _run([sarlang_cli(), *words[1:]], cwd, timeout)
    assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-3000:])
    return result


def _setup(work: Path) -> None:
    """The files the README's lines read but no line before them writes: the example prediction
    files (examples/), a SAR scene GeoTIFF, train.yaml, a small demo run (what make demo writes,
    with fewer scenes and epochs), two score files to compare, and the LLaMA-Factory predictions
    that LLaMA-Factory 0.9.5 wrote on the README's bench (tests/fixtures/tools)."""
    (work.parent / "shared").symlink_to(SHARED_DATA.parent)
    shutil.copy(EXAMPLES / "captions" / "generated_predictions_model_a.jsonl", work / "generated_predictions.jsonl")
    shutil.copy(EXAMPLES / "captions" / "generated_predictions_model_b.jsonl", work / "predictions.jsonl")
    shutil.copy(EXAMPLES / "captions" / "records.jsonl", work / "test.jsonl")
    shutil.copy(EXAMPLES / "vqa" / "VQA_result_model_b.csv", work / "VQA_result.csv")
    for name in ("a", "b"):
        _sarlang(f"sarlang eval vqa {EXAMPLES / 'vqa' / f'predictions_model_{name}.jsonl'} --records {EXAMPLES / 'vqa' / 'records.jsonl'} "
                 f"--json model_{name}.json", work)
    from sarlang.sar.simulate import SimulationConfig, simulate_scene
    from sarlang.sar.io import write_geotiff
    from sarlang.schema import SarImage

    scene = simulate_scene(11, SimulationConfig(height=700, width=700)).pixels
    from rasterio.crs import CRS

    write_geotiff(work / "S1A_IW_GRDH_VV.tif", SarImage(np.asarray(scene.data, np.float32), "intensity", crs=CRS.from_epsg(32631).to_wkt(),
                                                          transform=(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)))
    (work / "train.yaml").write_text(TRAIN_YAML, encoding="utf-8")
    (work / "routes.yaml").write_text(ROUTES_YAML, encoding="utf-8")
    (work / "sensors").mkdir()
    (work / "sensors" / "mstar.md").write_text("# MSTAR\n\nCollected by an X-band spotlight radar at a ground sampling distance of 0.3 m.\n", encoding="utf-8")
    _sarlang("sarlang demo --out demo_out --scenes 6 --epochs 1 --no-meteor", work)
    shutil.copytree(work / "demo_out" / "eval", work / "scores_a")
    _sarlang("sarlang predict --model prior:demo_out/build --records demo_out/build/records.jsonl --out scores_b/prior.jsonl", work)
    _sarlang("sarlang eval vqa scores_b/prior.jsonl --records demo_out/build --json scores_b/vqa.json", work)
    (work / "lf_pred").mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "tools" / "llamafactory_generated_predictions.jsonl", work / "lf_pred" / "generated_predictions.jsonl")


def _serve(line: str, work: Path) -> None:
    """A server line as typed (a free port for --port), asked over HTTP, stopped with SIGTERM;
    the questionnaire is answered as participant p01 (whose file the next lines score)."""
    from tests.app.conftest import serving

    gradio_client = pytest.importorskip("gradio_client", reason="gradio is not installed (the app extra)")
    words = shlex.split(line)[2:]
    if "--port" in words:
        del words[words.index("--port"): words.index("--port") + 2]
    with serving(words, cwd=work) as (url, _):
        client = gradio_client.Client(url, verbose=False)
        if "--human" in words:
            out = client.predict("p01", "non-expert", api_name="/start")
            for answer in ("yes", "2", "ship"):
                out = client.predict(answer, api_name="/submit")
            assert "Question 4 of" in out[3], out
        else:
            picture = next((work / "demo_out" / "build" / "images").glob("*.png"))
            client.predict(gradio_client.handle_file(str(picture)), None, "sarlang", "auto", api_name="/preview")
            answer, timing = client.predict("model", "Is there a ship in the image?", api_name="/ask")
            assert "answered by" in timing, timing  # (the demo's one-epoch model may answer with nothing)
            hits, found = client.predict("ships in a harbor", api_name="/search")
            assert len(hits) == 8 and "images most like" in found


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    shown = [s.text for s in shown_commands() if s.block and s.document == "README.md"]
    normalised = {shlex.join(shlex.split(line)) for line in [*RUN, *NOT_RUN]}
    assert not set(shown) - normalised, f"README lines no table names (add each to RUN or NOT_RUN): {sorted(set(shown) - normalised)}"
    assert not normalised - set(shown), f"table entries the README no longer shows: {sorted(normalised - set(shown))}"
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent: the README's lines read it (mybench, preprocess)")
    for module in ("gradio", "torch", "jinja2", "rasterio"):
        pytest.importorskip(module, reason=f"{module} is not installed (make test installs it)")
    work = tmp_path / "project"
    work.mkdir()
    _setup(work)
    printed = {}
    for line in RUN:
        if line.startswith("sarlang serve"):
            _serve(line, work)
            continue
        result = _sarlang(line, work)
        printed[line] = result.stdout
        for path in WRITES.get(line, []):
            assert (work / path).exists(), (line, path, result.stdout[-1000:])
    # what the lines say they do
    assert "by turn" in printed["sarlang eval vqa talk/prior.jsonl --records talk/records.jsonl"]
    assert "MRR" in printed["sarlang eval knowledge talk/prior_rag.jsonl --records talk --index talk/knowledge"]
    assert "answered by: blobs:" in printed["sarlang eval routing talk/routed.jsonl --records talk --expert prior=talk/prior.jsonl --expert blobs=talk/blobs.jsonl"]
    assert ROUTES_YAML.strip() in (ROOT / "README.md").read_text(encoding="utf-8")
    assert json.loads((work / "p01.json").read_text())["overall"]["n"] == 3
    geojson = json.loads((work / "ships.geojson").read_text())
    assert geojson["properties"]["tiles"] >= 4 and all("Is there a harbor?" in f["properties"]["answers"] for f in geojson["features"]
                                                        if f["properties"]["kind"] == "tile" and "skipped" not in f["properties"])
    assert "| Bleu_1 |" in printed["sarlang eval captions predictions.jsonl --records test.jsonl --mode coco --markdown"]
