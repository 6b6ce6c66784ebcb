"""SARLANG in the evaluation harnesses: the lmms-eval task folder (loaded offline by lmms-eval
itself, scoring as ``sarlang eval vqa`` does) and VLMEvalKit's dataset class file."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sarlang.formats.exports import export_records
from sarlang.formats.records import load_records
from sarlang.formats.predictions import task_of
from tests.conftest import run_cli


def answers_of(records_file: Path, split: str = "test") -> dict[str, str]:
    """Predictions that are right, right in another form, or wrong, so both rule sets have work
    and disagree somewhere (the official rule is a substring test, the strict one normalises)."""
    records, _ = load_records(records_file)
    chosen = [r for r in records if r.split == split and task_of(r) == "vqa"]
    forms = [lambda a: a, lambda a: f"The answer is {a.upper()}.", lambda a: "no idea", lambda a: f"{a}s", lambda a: "yes"]
    return {r.id: forms[i % len(forms)](r.answer) for i, r in enumerate(chosen)}


def write_predictions(path: Path, answers: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "prediction": v, "model": "replay", "settings": {}}) + "\n" for k, v in answers.items()))
    return path


class _FunctionTag(yaml.SafeLoader):
    """YAML with lmms-eval's ``!function module.name`` tags read as the text."""


_FunctionTag.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def import_path(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lmms_eval_task_folder_is_complete(sim_bench: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (the parquet extra)")
    import pyarrow.parquet as pq

    written = export_records(sim_bench, "lmms-eval", tmp_path / "task")
    assert {"sarlang_test.yaml", "sarlang_train.yaml", "utils.py", "data/test.parquet"} <= set(written)
    config = yaml.load((tmp_path / "task" / "sarlang_test.yaml").read_text(), Loader=_FunctionTag)
    assert config["task"] == "sarlang_test" and config["dataset_path"] == "parquet" and config["test_split"] == "test"
    data_file = Path(config["dataset_kwargs"]["data_files"]["test"])
    assert data_file.is_absolute() and data_file == (tmp_path / "task" / "data" / "test.parquet").resolve()
    utils = import_path(tmp_path / "task" / "utils.py", "sarlang_task_utils")
    named = [config[k][1] for k in ("doc_to_visual", "doc_to_text", "doc_to_target", "process_results")]
    named += [m["aggregation"][1] for m in config["metric_list"]]
    for name in named:
        module, _, attribute = name.partition(".")
        assert module == "utils" and callable(getattr(utils, attribute)), name
    docs = pq.read_table(data_file).to_pylist()
    records, _ = load_records(sim_bench / "records.jsonl")
    assert [d["id"] for d in docs] == [r.id for r in records if r.split == "test" and task_of(r) == "vqa"]
    doc = docs[0]
    assert utils.doc_to_text(doc) == doc["prompt"] == f"Question: {doc['question']}. Answer the question concisely."
    assert utils.doc_to_visual(doc)[0].mode == "RGB"
    metrics = utils.process_results(doc, [doc["answer"]])
    assert set(metrics) == {f"{m}_{k}" for m in ("strict", "official") for k in ("micro", "macro", doc["application"])}
    assert all(v["strict"] and v["official"] for v in metrics.values())


@pytest.mark.slow
def test_lmms_eval_loads_the_task_offline_and_scores_as_sarlang_eval(sim_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    from PIL import ImageFile

    # lmms-eval turns on Pillow's LOAD_TRUNCATED_IMAGES for the process: put it back afterwards
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", ImageFile.LOAD_TRUNCATED_IMAGES)
    lmms_model = pytest.importorskip("lmms_eval.api.model", reason="lmms-eval is not installed (make test installs it)")
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    export_records(sim_bench, "lmms-eval", tmp_path / "task")
    answers = answers_of(sim_bench / "records.jsonl")

    class Replay(lmms_model.lmms):
        """An lmms-eval model answering from a predictions file, so lmms-eval's own pipeline scores them."""

        def __init__(self) -> None:
            super().__init__()
            self.prompts: list[str] = []

        def generate_until(self, requests: list) -> list[str]:
            replies = []
            for request in requests:
                context, _, doc_to_visual, doc_id, task, split = request.args
                doc = self.task_dict[task][split][doc_id]
                assert doc_to_visual(doc)[0].size[0] > 0
                self.prompts.append(context)
                replies.append(answers[doc["id"]])
            return replies

        def loglikelihood(self, requests: list) -> list:
            raise NotImplementedError

        def generate_until_multi_round(self, requests: list) -> list:
            raise NotImplementedError

    model = Replay()
    manager = TaskManager(include_path=str(tmp_path / "task"), include_defaults=False)
    assert manager.all_tasks == ["sarlang_test", "sarlang_train"]
    out = simple_evaluate(model=model, tasks=["sarlang_test"], task_manager=manager, log_samples=False, bootstrap_iters=0)
    got = out["results"]["sarlang_test"]
    assert len(model.prompts) == len(answers) and all(p.startswith("Question: ") for p in model.prompts)

    predictions = write_predictions(tmp_path / "p.jsonl", answers)
    for mode in ("strict", "official"):
        result = run_cli("eval", "vqa", str(predictions), "--records", str(sim_bench / "records.jsonl"), "--mode", mode,
                         "--json", str(tmp_path / f"{mode}.json"))
        assert result.returncode == 0, result.stderr
        ours = json.loads((tmp_path / f"{mode}.json").read_text())
        assert got[f"{mode}_micro,none"] == pytest.approx(ours["overall"]["accuracy"], abs=1e-12)
        assert got[f"{mode}_macro,none"] == pytest.approx(ours["macro"], abs=1e-12)
        for application, accuracy in ours["by_application"].items():
            assert got[f"{mode}_{application},none"] == pytest.approx(accuracy["accuracy"], abs=1e-12)
    strict, official = (json.loads((tmp_path / f"{m}.json").read_text()) for m in ("strict", "official"))
    assert strict["overall"]["accuracy"] != official["overall"]["accuracy"]  # the two rule sets were both exercised


def _stand_in_vlmeval(root: Path) -> None:
    """VLMEvalKit is not on PyPI: the two names the class file imports, as VLMEvalKit defines them
    (``CustomVQADataset`` reads ``$LMUData/<name>.tsv``; ``load``/``dump`` by file extension)."""
    (root / "vlmeval" / "dataset").mkdir(parents=True)
    (root / "vlmeval" / "__init__.py").write_text("")
    (root / "vlmeval" / "dataset" / "__init__.py").write_text("")
    (root / "vlmeval" / "smp.py").write_text(
        "import pandas as pd\n"
        "def load(f):\n    return pd.read_excel(f) if f.endswith('.xlsx') else pd.read_csv(f, sep='\\t')\n"
        "def dump(data, f):\n    data.to_csv(f, index=False)\n")
    (root / "vlmeval" / "dataset" / "image_vqa.py").write_text(
        "import os\nfrom ..smp import load\n"
        "class CustomVQADataset:\n"
        "    def __init__(self, dataset):\n        self.dataset_name = dataset\n        self.data = self.load_data(dataset)\n"
        "    def load_data(self, dataset):\n        return load(os.path.join(os.environ['LMUData'], dataset + '.tsv'))\n"
        "    def evaluate(self, eval_file, **judge_kwargs):\n        raise NotImplementedError\n")


def test_vlmevalkit_class_scores_as_sarlang_eval(sim_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("openpyxl", reason="openpyxl is not installed (the xlsx extra)")
    export_records(sim_bench, "vlmevalkit", tmp_path / "vk")
    _stand_in_vlmeval(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("LMUData", str(tmp_path / "vk"))
    for name in [m for m in sys.modules if m == "vlmeval" or m.startswith("vlmeval.")]:
        monkeypatch.delitem(sys.modules, name)
    module = import_path(tmp_path / "vk" / "sarlang_vlmevalkit.py", "sarlang_vlmevalkit")
    assert module.SARLANG.supported_datasets() == ["SARLANG_test", "SARLANG_train"]
    # a count read back by pandas as 3.0 (its column had an empty cell) is the answer "3" again
    assert [module._text(v) for v in (3.0, 2, float("nan"), "yes", 2.5)] == ["3", "2", "", "yes", "2.5"]
    dataset = module.SARLANG("SARLANG_test")
    # VLMEvalKit's result file: the TSV's rows with the model's prediction, as .xlsx
    records, _ = load_records(sim_bench / "records.jsonl")
    test = [r for r in records if r.split == "test"]
    answers = answers_of(sim_bench / "records.jsonl")
    table = dataset.data.copy()
    assert list(table["answer"].astype(str)) == [r.answer for r in test]
    table["prediction"] = [answers.get(r.id, "A caption.") for r in test]
    eval_file = tmp_path / "vk" / "Replay_SARLANG_test.xlsx"
    table.to_excel(eval_file, index=False)
    result = dataset.evaluate(str(eval_file)).set_index("mode")
    assert (tmp_path / "vk" / "Replay_SARLANG_test_acc.csv").exists()
    predictions = write_predictions(tmp_path / "p.jsonl", answers)
    for mode in ("strict", "official"):
        run = run_cli("eval", "vqa", str(predictions), "--records", str(sim_bench / "records.jsonl"), "--mode", mode, "--json", str(tmp_path / "s.json"))
        assert run.returncode == 0, run.stderr
        ours = json.loads((tmp_path / "s.json").read_text())
        assert result.loc[mode, "micro"] == pytest.approx(ours["overall"]["accuracy"], abs=1e-12)
        assert result.loc[mode, "macro"] == pytest.approx(ours["macro"], abs=1e-12)
        assert result.loc[mode, "n"] == ours["overall"]["n"]
        for application, accuracy in ours["by_application"].items():
            assert result.loc[mode, application] == pytest.approx(accuracy["accuracy"], abs=1e-12)
    assert pd is not None and os.path.exists(tmp_path / "vk" / "SARLANG_test.tsv")
