"""Knowledge, dialogue and experts on real SAR (MSTAR scenes + HRSID tiles), in one run.

1. A build of ``../shared/data/mstar_scenes`` (``gsd=0.3``, ``sensor=Sandia X-band``: MSTAR's
   collection radar) and ``hrsid`` (``sensor=Sentinel-1B/TerraSAR-X/TanDEM-X``; no GSD, it
   varies per tile) with conversations (``--dialogue 4``) and knowledge questions (``--knowledge``).
2. **Dialogue.** The built-in model (the demo's settings, ``--epochs``) trained on the train
   split (conversation turns with their true earlier turns), then asked every test turn with its
   own earlier answers, and again with the true ones (teacher forcing): accuracy per turn.
3. **Knowledge.** SAR-CLIP trained on the train split; a knowledge index of the train images'
   passages (captions and facts) and a sensor fact sheet; a second built-in model trained with
   the top ``--k`` passages by image in every prompt (never its own image's). Knowledge-question
   accuracy with and without retrieval (paired, McNemar), retrieval recall@K and MRR.
4. **Experts.** The test images dealt by name into a validation half and an evaluation half.
   Experts: the built-in model (step 2), the bright-target detector (``blobs:``) and the blind
   prior (``prior:``). Each expert's accuracy per application on the validation half picks the
   routes; the learned router (MiniLM + logistic regression on the train prompts) answers the
   evaluation half, scored against each expert alone on the same questions.

Development numbers (further samples of both sources are kept aside).

    python benchmarks/experts.py [--epochs 6] [--k 1] [--out /tmp/experts_bench] [--json F]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _phases import run_phase  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FACT_SHEET = """# Sandia X-band

The MSTAR scenes were collected by Sandia National Laboratories' X-band spotlight radar at a ground sampling distance of 0.3 m.

# Sentinel-1B/TerraSAR-X/TanDEM-X

The HRSID ship tiles come from Sentinel-1B (C band) and TerraSAR-X and TanDEM-X (X band) images at 0.5 to 3 m.
"""


def _half(image: str) -> str:
    return "validation" if int(hashlib.sha1(Path(image).name.encode()).hexdigest(), 16) % 2 else "evaluation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/experts_bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not (DATA / "mstar_scenes").is_dir() or not (DATA / "hrsid").is_dir():
        sys.exit(f"{DATA} lacks mstar_scenes or hrsid: this benchmark runs on the real data of ../shared/data")
    from sarlang.cli.demo import BASELINE_SETTINGS, CLIP_SETTINGS
    from sarlang.eval.experts import score_routing
    from sarlang.eval.significance import paired_comparison
    from sarlang.eval.vqa import score_vqa
    from sarlang.formats.predictions import load_eval_items

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    build = out / "build"
    records = build / "records.jsonl"
    sources = [f"voc:{DATA / 'mstar_scenes'},gsd=0.3,sensor=Sandia X-band", f"masks:{DATA / 'hrsid'},sensor=Sentinel-1B/TerraSAR-X/TanDEM-X"]
    built = run_phase("from sarlang.corpus.dataset import BuildOptions, build_dataset\n"
                      f"RESULT = build_dataset({sources!r}, {str(build)!r}, BuildOptions(dialogue=4, knowledge=True))")
    result: dict = {"records": built["records"], "by_split": built["by_split"]}
    print(f"build: {built['records']} records ({built['by_split']})")

    def train(name: str, **extra: object) -> dict:
        config = {"model": "baseline", "records": str(records), "out": str(out / name), "epochs": args.epochs, "max_prompt_tokens": 96,
                  **BASELINE_SETTINGS, **extra}
        return run_phase(f"from sarlang.models.run import train_from_config\nm = train_from_config({config!r})\nRESULT = {{'parameters': m.info()['parameters']}}")

    def predict(spec: str, name: str, **options: object) -> Path:
        path = out / f"{name}.jsonl"
        opts = "".join(f", {k}={v!r}" for k, v in options.items() if k != "retrieve")
        retriever = (f"from sarlang.models.rag import open_retriever\nr = open_retriever({str(options['retrieve'])!r}, {args.k}, 'image')\n"
                     if "retrieve" in options else "r = None\n")
        run_phase("from sarlang.models.base import load_model\nfrom sarlang.models.run import predict_records\n" + retriever +
                  f"RESULT = predict_records(load_model({spec!r}), {str(records)!r}, {str(path)!r}, split='test', restart=True, retriever=r{opts})")
        return path

    def items(path: Path) -> list:
        return load_eval_items(path, "jsonl", records, task="vqa", split="test").items

    # --- dialogue -----------------------------------------------------------------------------
    plain = train("model")
    print(f"built-in model trained in {plain['seconds']} s")
    own, forced = predict(str(out / "model"), "model"), predict(str(out / "model"), "model_forced", teacher_forcing=True)
    turns = {}
    for name, path in (("own answers", own), ("teacher forcing", forced)):
        scores = score_vqa(items(path))
        turns[name] = {t: a.to_dict() for t, a in scores.by_turn.items()}
        print(f"dialogue, {name}: " + ", ".join(f"turn {t} {a.accuracy * 100:.1f}% (n={a.n})" for t, a in scores.by_turn.items()))
    result["dialogue"] = {"train_seconds": plain["seconds"], "by_turn": turns}

    # --- knowledge ----------------------------------------------------------------------------
    clip = run_phase("from sarlang.models.run import train_from_config\n"
                     f"m = train_from_config({ {**CLIP_SETTINGS, 'records': str(records), 'out': str(out / 'clip')}!r})\nRESULT = {{}}")
    (out / "docs").mkdir()
    (out / "docs" / "sensors.md").write_text(FACT_SHEET)
    index = run_phase("from sarlang.knowledge.index import KnowledgeIndex, text_encoder\nfrom sarlang.knowledge.passages import build_passages, document_passages\n"
                      "from sarlang.models.rag import load_image_model\n"
                      f"clip, identity = load_image_model({str(out / 'clip')!r})\n"
                      f"p = build_passages({str(build)!r}) + document_passages({str(out / 'docs')!r})\n"
                      f"i = KnowledgeIndex.build({str(out / 'kb')!r}, p, text_encoder(), clip, identity, image_source={str(out / 'clip')!r})\n"
                      "RESULT = {'passages': len(i.passages)}")
    rag = train("model_rag", retrieve=str(out / "kb"), k=args.k, retrieve_by="image")
    print(f"SAR-CLIP in {clip['seconds']} s, {index['passages']} passages indexed in {index['seconds']} s, retrieval model trained in {rag['seconds']} s")
    with_retrieval = predict(str(out / "model_rag"), "model_rag", retrieve=out / "kb")
    from sarlang.eval.experts import score_knowledge
    from sarlang.formats.records import load_records
    from sarlang.knowledge.index import KnowledgeIndex

    all_records, _ = load_records(records)
    kb = KnowledgeIndex.load(out / "kb")
    without = score_knowledge(items(own), all_records, own)
    retrieved = score_knowledge(items(with_retrieval), all_records, with_retrieval, kb)
    a = {i["id"]: i["correct"] for i in without["items"]}
    b = {i["id"]: i["correct"] for i in retrieved["items"]}
    shared = sorted(set(a) & set(b))
    paired = paired_comparison([a[i] for i in shared], [b[i] for i in shared])
    every_without, every_with = score_vqa(items(own)), score_vqa(items(with_retrieval))
    result["knowledge"] = {"without": without["accuracy"], "with": retrieved["accuracy"], "by_question_type_without": without["by_question_type"],
                           "by_question_type_with": retrieved["by_question_type"], "paired": paired, "retrieval": retrieved["retrieval"],
                           "all_questions_without": every_without.overall.to_dict(), "all_questions_with": every_with.overall.to_dict()}
    print(f"knowledge questions: without retrieval {without['accuracy']['accuracy'] * 100:.1f}%, with {retrieved['accuracy']['accuracy'] * 100:.1f}% "
          f"(n={paired['n']}, McNemar p={paired['p_mcnemar']:.3g}); recall@1 {retrieved['retrieval']['overall']['recall@1'] * 100:.1f}%, "
          f"MRR {retrieved['retrieval']['overall']['mrr']:.3f}; all test questions {every_without.overall.accuracy * 100:.1f}% -> {every_with.overall.accuracy * 100:.1f}%")

    # --- experts ------------------------------------------------------------------------------
    experts = {"model": str(out / "model"), "blobs": "blobs:", "prior": f"prior:{build}"}
    predicted = {"model": own, "blobs": predict("blobs:", "blobs"), "prior": predict(f"prior:{build}", "prior")}
    image_of = {r.id: r.image for r in all_records}
    halves = {name: {h: [it for it in items(path) if _half(image_of[it.id]) == h] for h in ("validation", "evaluation")} for name, path in predicted.items()}
    for name in experts:
        (out / f"{name}_validation.json").write_text(json.dumps(score_vqa(halves[name]["validation"]).to_json()))
    config = {"model": "router", "records": str(records), "out": str(out / "router"), "experts": experts,
              "scores": {name: str(out / f"{name}_validation.json") for name in experts}}
    routed_train = run_phase(f"from sarlang.models.run import train_from_config\nm = train_from_config({config!r})\nRESULT = {{'routes': m.routes}}")
    routed_path = predict(str(out / "router"), "routed")
    routed_by = {json.loads(line)["id"]: json.loads(line)["expert"] for line in routed_path.read_text().splitlines()}
    evaluation = [it for it in items(routed_path) if _half(image_of[it.id]) == "evaluation"]
    routing = score_routing(evaluation, {name: halves[name]["evaluation"] for name in experts}, routed_by)
    result["experts"] = {"routes": routed_train["routes"], **routing}
    print("routes (from the validation half): " + ", ".join(f"{k} -> {v}" for k, v in routed_train["routes"].items()))
    print(f"evaluation half, {routing['n']} questions: routed {routing['routed']['accuracy'] * 100:.1f}%, "
          + ", ".join(f"{n} alone {v['accuracy'] * 100:.1f}% (routed minus it {routing['gain_over'][n]['difference'] * 100:+.1f} points, "
                      f"McNemar p={routing['gain_over'][n]['p_mcnemar']:.3g})" for n, v in routing["experts"].items())
          + f"; oracle {routing['oracle']['accuracy'] * 100:.1f}%")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
