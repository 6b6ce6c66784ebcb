"""What a hostile, broken or merely unusual input does to scoring, reports and exports: each ends
in the right result, a clear error or a reject with its reason, never a traceback or a silently
wrong score."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli

#: Texts a model or a source may hold: every kind of line break, control characters, quotes
#: where CSV and TSV readers look for them, markup.
HOSTILE = ["a\rb", "c\nd", "e\tf", "g\x0bh", "i\x0cj", "k\x1cl", "m\x85n", "o\u2028p", "q\x1br", 'say "3"', '"quoted" start',
           "x\r\ny", "<script>alert(1)</script>", "--><b>bold</b>", "[link](http://example.com)"]


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated build (with box questions) whose answers and questions were replaced by
    hostile texts (each record keeps its application and split)."""
    from sarlang.corpus.dataset import build_dataset

    root = tmp_path_factory.mktemp("hostile")
    build_dataset(["simulate:6,size=64,seed=3"], root / "build")
    path = root / "build" / "records.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
    for k, row in enumerate(rows):
        if row["application"] not in ("image_description", "visual_grounding"):
            text = HOSTILE[k % len(HOSTILE)]
            row["answer"] = f"{text} {k}"
            row["question"] = f"What about {text}, question {k}?"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (root / "build" / "records.parquet").unlink(missing_ok=True)
    return root / "build"


@pytest.mark.parametrize("fmt", ["sarlang", "llava", "sharegpt", "vlmevalkit"])
def test_every_export_reads_back_to_the_same_records(fmt: str, hostile_build: Path, tmp_path: Path) -> None:
    """Line breaks of every kind, tabs and quotes inside texts survive each export: read back (as
    sarlang eval --records reads the file a tool was given), every question and answer is the one
    exported, and pandas (VLMEvalKit's reader) sees as many rows as records."""
    from sarlang.formats.exports import export_records
    from sarlang.formats.records import load_records

    records, _ = load_records(hostile_build)
    written = export_records(hostile_build, fmt, tmp_path / "out", box_convention="sarlang")
    test = sorted((r for r in records if r.split == "test" and not r.is_caption), key=lambda r: r.id)
    name = {"sarlang": "test.json", "llava": "llava_test.json", "sharegpt": "sharegpt_test.json", "vlmevalkit": "SARLANG_test.tsv"}[fmt]
    assert name in written
    back, rejects = load_records(tmp_path / "out" / name)
    assert not rejects
    questions = [r for r in back if not r.is_caption]
    assert sorted((r.question, r.answer) for r in questions) == sorted((r.question.strip(), r.answer) for r in test)
    if fmt == "vlmevalkit":
        pandas = pytest.importorskip("pandas")
        table = pandas.read_csv(tmp_path / "out" / name, sep="\t", keep_default_na=False)
        assert len(table) == sum(1 for r in records if r.split == "test") and set(table["answer"].astype(str)) >= {r.answer for r in test}
    if fmt == "sarlang":  # the CSVs too, with Python's csv module and ours
        with open(tmp_path / "out" / "VQA_test.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert sorted(r[2] for r in rows[1:]) == sorted(r.answer for r in test)


def test_hf_and_lmms_eval_exports_keep_the_texts(hostile_build: Path, tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow.parquet")
    from sarlang.formats.exports import export_records
    from sarlang.formats.records import load_records

    records, _ = load_records(hostile_build)
    answers = sorted(r.answer for r in records if r.split == "test")
    export_records(hostile_build, "hf", tmp_path / "hf")
    table = pyarrow.read_table(next((tmp_path / "hf" / "data").glob("test-*.parquet")))
    assert sorted(table.column("answer").to_pylist()) == answers


def test_answers_holding_line_separators_are_predicted_and_scored(hostile_build: Path, tmp_path: Path) -> None:
    """A model whose answers hold U+2028, U+0085 or \\x1c (here the blind prior of a build whose
    answers all hold them): predict writes and re-reads its file, eval scores it."""
    import shutil

    build = tmp_path / "build"
    shutil.copytree(hostile_build, build)
    rows = [json.loads(line) for line in (build / "records.jsonl").read_text(encoding="utf-8").split("\n") if line]
    for row in rows:
        row["answer"] = "two\u2028ships\x85in\x1cport"
    (build / "records.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "prior.jsonl"
    result = run_cli("predict", "--model", f"prior:{build}", "--records", str(build / "records.jsonl"), "--out", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    assert any("\u2028" in r["prediction"] or "\x85" in r["prediction"] for r in rows)
    result = run_cli("eval", "vqa", str(out), "--records", str(build), "--json", str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["summary"]["rejected"] == 0 and scores["overall"]["accuracy"] == 1.0


@pytest.fixture(scope="module")
def grounding_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sarlang.corpus.dataset import BuildOptions, build_dataset

    root = tmp_path_factory.mktemp("grounding")
    build_dataset(["simulate:8,size=96,seed=2"], root / "build", BuildOptions(grounding="sarlang"))
    return root / "build"


def _llamafactory_rows(export: Path, answer=lambda label, question: label) -> str:
    """LLaMA-Factory's generated_predictions.jsonl for an export's file: a row per conversation."""
    rows = []
    for item in json.loads(export.read_text(encoding="utf-8")):
        question, label = item["messages"][0]["content"], item["messages"][1]["content"]
        rows.append({"prompt": f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n", "predict": answer(label, question), "label": label})
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_box_questions_are_recognised_wherever_the_records_come_from(grounding_build: Path, tmp_path: Path) -> None:
    """Box answers are never scored by the VQA rules: with the build, with the export the tool
    read, or with no records; eval grounding scores them against the export too."""
    from sarlang.formats.exports import export_records

    export_records(grounding_build, "sharegpt", tmp_path / "sg", box_convention="sarlang")
    predictions = tmp_path / "generated_predictions.jsonl"
    predictions.write_text(_llamafactory_rows(tmp_path / "sg" / "sharegpt_test.json"), encoding="utf-8")
    boxes = sum(1 for item in json.loads((tmp_path / "sg" / "sharegpt_test.json").read_text()) if "box" in item["messages"][0]["content"].lower())
    assert boxes > 0
    for records in ([], ["--records", str(grounding_build)], ["--records", str(tmp_path / "sg" / "sharegpt_test.json")]):
        result = run_cli("eval", "vqa", str(predictions), *records, "--json", str(tmp_path / "v.json"))
        assert result.returncode == 0, result.stderr
        scored = json.loads((tmp_path / "v.json").read_text())
        assert "visual_grounding" not in scored["by_application"], records
        assert any("visual-grounding" in note for note in scored["summary"]["notes"]), (records, scored["summary"]["notes"])
    result = run_cli("eval", "grounding", str(predictions), "--records", str(tmp_path / "sg" / "sharegpt_test.json"), "--json", str(tmp_path / "g.json"))
    assert result.returncode == 0, result.stderr
    grounding = json.loads((tmp_path / "g.json").read_text())
    assert grounding["single"]["acc@0.5"] == 1.0 and grounding["single"]["n"] + grounding["several"]["n"] == boxes


def test_a_box_written_backwards_gets_no_credit_and_full_width_digits_are_read(grounding_build: Path, tmp_path: Path) -> None:
    import unicodedata

    from sarlang.formats.records import load_records

    records, _ = load_records(grounding_build)
    single = [r for r in records if r.split == "test" and r.application == "visual_grounding" and len(r.provenance["boxes"]) == 1]
    assert len(single) >= 2

    def backwards(r) -> str:  # [x + w, y + h, -w, -h]: the same rectangle, measured from its far corner
        x, y, w, h = r.provenance["boxes"][0]
        return f"[{x + w:.1f}, {y + h:.1f}, {-w:.1f}, {-h:.1f}]"

    def full_width(r) -> str:  # ［12，32，29，13］
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in r.answer)

    assert unicodedata.normalize("NFKC", full_width(single[0])) == single[0].answer
    for make, expected in ((backwards, 0.0), (full_width, 1.0)):
        path = tmp_path / f"{make.__name__}.jsonl"
        path.write_text("".join(json.dumps({"id": r.id, "prediction": make(r)}, ensure_ascii=False) + "\n" for r in single), encoding="utf-8")
        result = run_cli("eval", "grounding", str(path), "--records", str(grounding_build), "--json", str(tmp_path / "g.json"))
        assert result.returncode == 0, result.stderr
        scores = json.loads((tmp_path / "g.json").read_text())["single"]
        assert scores["acc@0.5"] == expected and scores["n"] == len(single), make.__name__


def test_files_nothing_can_be_read_from(tmp_path: Path) -> None:
    """UTF-16 and a JSON array are read (and said); a file of nothing scorable names the reasons
    and, with --rejects, writes them before stopping; eval all without the records a file needs
    says to pass them."""
    records = EXAMPLES / "vqa" / "records.jsonl"
    text = (EXAMPLES / "vqa" / "predictions_model_a.jsonl").read_text(encoding="utf-8")
    (tmp_path / "u16.jsonl").write_bytes(text.encode("utf-16"))
    (tmp_path / "array.json").write_text(json.dumps([json.loads(line) for line in text.split("\n") if line]), encoding="utf-8")
    reference = run_cli("eval", "vqa", str(EXAMPLES / "vqa" / "predictions_model_a.jsonl"), "--records", str(records), "--json", str(tmp_path / "r.json"))
    assert reference.returncode == 0
    for name, said in (("u16.jsonl", "read as UTF-16"), ("array.json", "a JSON array of 44 rows")):
        result = run_cli("eval", "vqa", str(tmp_path / name), "--records", str(records), "--json", str(tmp_path / "s.json"))
        assert result.returncode == 0 and said in result.stdout, result.stdout + result.stderr
        assert json.loads((tmp_path / "s.json").read_text())["overall"] == json.loads((tmp_path / "r.json").read_text())["overall"]
    (tmp_path / "junk.jsonl").write_text('{"id": "nope", "prediction": "x"}\n{"id": "also-nope", "prediction": "y"}\n', encoding="utf-8")
    result = run_cli("eval", "vqa", str(tmp_path / "junk.jsonl"), "--records", str(records), "--rejects", str(tmp_path / "why.jsonl"))
    assert result.returncode == 2 and "not a question record" in result.stderr and "Traceback" not in result.stderr
    assert f"is in {tmp_path / 'why.jsonl'}" in result.stderr
    assert len((tmp_path / "why.jsonl").read_text().splitlines()) >= 2
    result = run_cli("eval", "vqa", str(tmp_path / "junk.jsonl"), "--records", str(records))
    assert result.returncode == 2 and "--rejects FILE" in result.stderr
    result = run_cli("eval", "all", str(EXAMPLES / "vqa" / "predictions_model_a.jsonl"), "--out", str(tmp_path / "all"))
    assert result.returncode == 2 and "pass the records file with --records" in result.stderr and "holds neither" not in result.stderr


def test_the_report_says_when_predictions_changed_after_scoring(tmp_path: Path) -> None:
    pytest.importorskip("jinja2", reason="jinja2 is not installed (the report extra)")
    records = EXAMPLES / "vqa" / "records.jsonl"
    predictions = tmp_path / "p.jsonl"
    predictions.write_text((EXAMPLES / "vqa" / "predictions_model_a.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    assert run_cli("eval", "vqa", str(predictions), "--records", str(records), "--json", str(tmp_path / "vqa.json")).returncode == 0
    scores = json.loads((tmp_path / "vqa.json").read_text())
    assert len(scores["input_sha256"]) == 64 and len(scores["records_sha256"]) == 64
    first = run_cli("report", str(tmp_path / "vqa.json"), "--out", str(tmp_path / "a.html"))
    assert first.returncode == 0 and "changed after" not in first.stdout
    rows = [json.loads(line) for line in predictions.read_text().split("\n") if line]
    rows[0]["prediction"] = "an answer written after scoring"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    second = run_cli("report", str(tmp_path / "vqa.json"), "--out", str(tmp_path / "b.html"))
    assert second.returncode == 0 and "changed after they were scored" in second.stdout
    page = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "changed after they were scored" in page and "an answer written after scoring" not in page


def test_supplied_text_is_shown_as_text_in_the_report(tmp_path: Path, sim_bench: Path) -> None:
    """Answers and run names holding markup end as text in the page: its only script is its own."""
    pytest.importorskip("jinja2", reason="jinja2 is not installed (the report extra)")
    from html.parser import HTMLParser

    from sarlang.formats.records import load_records

    records, _ = load_records(sim_bench)
    test = [r for r in records if r.split == "test" and not r.is_caption and r.application != "visual_grounding"]
    hostile = ['</pre><script>alert(1)</script>', '--><img src=x onerror=alert(2)>', '"><svg onload=alert(3)>']
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": r.id, "prediction": hostile[k % 3]}) + "\n" for k, r in enumerate(test)), encoding="utf-8")
    assert run_cli("eval", "vqa", str(path), "--records", str(sim_bench), "--json", str(tmp_path / "vqa.json")).returncode == 0
    result = run_cli("report", str(tmp_path / "vqa.json"), "--name", "<script>x</script>--><b>", "--out", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[tuple[str, list]] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.tags.append((tag, attrs))

    parser = Tags()
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    parser.feed(page)
    assert [t for t, _ in parser.tags].count("script") == 1
    assert not [t for t, attrs in parser.tags if t in ("img", "svg") and any(k.startswith("on") for k, _ in attrs)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_supplied_text_is_shown_as_text_in_the_demo_page() -> None:
    from sarlang.app.web import as_markdown_text, describe_preview, without_server_paths

    name = "**bold** <img src=x onerror=alert(1)> [link](http://example.com) `code`.png"
    line = describe_preview({"file": name, "width": 8, "height": 8, "units": "display8", "looks": None})
    assert "<img" not in line and "](" not in line and "**bold**" not in line.replace("\\*", "")
    assert as_markdown_text("a_b*c") == "a\\_b\\*c" and as_markdown_text("<b>&") == "&lt;b&gt;&amp;"
    assert without_server_paths("cannot read raster '/tmp/gradio/abc123/junk.tif': bad") == "cannot read raster 'junk.tif': bad"
