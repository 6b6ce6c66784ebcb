"""The knowledge index: FAISS exact (flat) and approximate (HNSW) search against exact search in
numpy, in one run: build time, query latency and recall@10 of the approximate index.

Vectors: real MiniLM embeddings of ``--real`` passages (captions of a build of
``../shared/data``, when present, plus their paraphrased queries), and ``--sizes`` corpora of
clustered unit vectors of MiniLM's dimension (384) for scale: a mixture of 2,000 Gaussian
clusters with a spread like that of sentence embeddings (nearest neighbours at cosine 0.6-0.9).
Exact search is ``argpartition`` over one matrix product (what a numpy user writes); FAISS flat
is exact too (its top-10 must equal numpy's); HNSW's recall@10 is the share of numpy's top 10 it
returns. Queries run one at a time (the latency a prompt waits) and as one batch.

The ``auto`` kind of ``sarlang index`` switches to HNSW at :data:`sarlang.knowledge.index.HNSW_FROM`
passages: the size from which this benchmark shows exact search past ~2 ms a query.

    python benchmarks/knowledge_index.py [--sizes 10000,50000,200000] [--queries 500] [--json F]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def clustered(n: int, dim: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """``n`` unit vectors around random ``centres`` (each row a centre plus Gaussian noise)."""
    which = rng.integers(0, len(centres), n)
    x = centres[which] + rng.normal(0, 0.045, (n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ base.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def measure(base: np.ndarray, queries: np.ndarray, k: int = 10) -> dict:
    import faiss

    from sarlang.knowledge.index import _new_index

    out: dict = {"n": len(base), "queries": len(queries)}
    t = time.perf_counter()
    truth = exact_top(base, queries, k)
    out["numpy_exact"] = {"batch_ms_per_query": (time.perf_counter() - t) * 1000 / len(queries)}
    t = time.perf_counter()
    for q in queries[:100]:
        exact_top(base, q[None], k)
    out["numpy_exact"]["single_ms"] = (time.perf_counter() - t) * 1000 / min(100, len(queries))
    for kind in ("flat", "hnsw"):
        index = _new_index(kind, base.shape[1])
        t = time.perf_counter()
        index.add(base)
        built = time.perf_counter() - t
        t = time.perf_counter()
        _, found = index.search(queries, k)
        batch = (time.perf_counter() - t) * 1000 / len(queries)
        t = time.perf_counter()
        for q in queries[:100]:
            index.search(q[None], k)
        single = (time.perf_counter() - t) * 1000 / min(100, len(queries))
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth)]))
        out[kind] = {"build_s": built, "batch_ms_per_query": batch, "single_ms": single, "recall@10": recall}
        path = Path("/tmp") / f"kb_bench_{kind}.faiss"
        faiss.write_index(index, str(path))
        t = time.perf_counter()
        faiss.read_index(str(path))
        out[kind]["load_s"] = time.perf_counter() - t
        out[kind]["bytes"] = path.stat().st_size
        path.unlink()
    return out


def real_vectors(limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """MiniLM embeddings of the captions of a build of the shared data, and of their first sentences as queries."""
    if not (DATA / "mstar_scenes").is_dir():
        return None
    import tempfile

    from sarlang.corpus.dataset import build_dataset
    from sarlang.knowledge.index import text_encoder

    with tempfile.TemporaryDirectory() as tmp:
        build_dataset([f"voc:{DATA / 'mstar_scenes'},gsd=0.3,sensor=MSTAR", f"masks:{DATA / 'hrsid'},sensor=HRSID"], Path(tmp))
        captions = [json.loads(line)["answer"] for line in (Path(tmp) / "records.jsonl").read_text().splitlines()
                    if json.loads(line)["application"] == "image_description"][:limit]
    encode = text_encoder()
    return encode(captions), encode([c.split(".")[0] for c in captions[:200]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--real", type=int, default=648)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    dim = 384
    centres = rng.normal(0, 1, (2000, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    results = []
    real = real_vectors(args.real)
    if real is not None:
        results.append({"corpus": "real MiniLM captions", **measure(*real)})
    for n in (int(s) for s in args.sizes.split(",")):
        base = clustered(n, dim, rng, centres)
        queries = clustered(args.queries, dim, rng, centres)
        results.append({"corpus": "clustered", **measure(base, queries)})
    print(f"{'corpus':<22}{'n':>8} | {'numpy ms/q':>10} {'flat ms/q':>10} {'hnsw ms/q':>10} | {'flat build s':>12} {'hnsw build s':>12} | {'hnsw recall@10':>14} {'flat recall':>11}")
    for r in results:
        print(f"{r['corpus']:<22}{r['n']:>8} | {r['numpy_exact']['single_ms']:>10.3f} {r['flat']['single_ms']:>10.3f} {r['hnsw']['single_ms']:>10.3f} | "
              f"{r['flat']['build_s']:>12.3f} {r['hnsw']['build_s']:>12.2f} | {r['hnsw']['recall@10']:>14.3f} {r['flat']['recall@10']:>11.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
