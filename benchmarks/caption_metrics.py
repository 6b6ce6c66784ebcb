"""Time sarlang's BLEU + ROUGE-L + CIDEr against pycocoevalcap 1.2 on one corpus, in one run.

The corpus imitates SARLANG-1M's detailed-caption test set: 13,682 images (its size), one
reference each, captions of three to five sentences about SAR scenes built from a grammar,
and hypotheses that are perturbed copies (words dropped, swapped or replaced; sentences
reordered or lost), as a fine-tuned model's output would be. Both implementations get the
same raw strings ("sarlang" mode: no tokenisation). Prints both times, the speed ratio, and the
largest absolute difference over the corpus scores and all per-image scores.

Target (issue 2): at least 20x faster, differences below 1e-9.

    python benchmarks/caption_metrics.py [--n 13682] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

import numpy as np

SCENES = ["harbor", "port", "airport", "coastline", "river", "urban area", "industrial zone", "farmland", "open sea", "shipyard", "oil depot", "bridge crossing", "suburb", "forest edge", "lake"]
OBJECTS = ["ship", "ships", "aircraft", "cars", "storage tanks", "bridge", "buildings", "cranes", "boats", "roads", "runway", "piers", "containers", "vessels", "trucks"]
TEXTURES = ["bright", "dark", "speckled", "smooth", "granular", "strong", "weak", "uniform", "heterogeneous", "linear", "point-like", "circular", "rectangular"]
PLACES = ["in the upper left", "in the center", "along the bottom edge", "on the right side", "near the shore", "across the image", "in the lower half", "at the top", "next to the pier", "around the basin"]
VERBS = ["appear as", "show", "produce", "exhibit", "are visible as", "stand out as", "form", "create"]
RETURNS = ["strong backscatter", "double-bounce echoes", "bright point returns", "dark low-backscatter regions", "corner reflections", "sidelobe streaks", "speckle noise", "linear features"]


def sentence(rng: random.Random) -> str:
    pattern = rng.randrange(4)
    if pattern == 0:
        return f"The SAR image shows a {rng.choice(SCENES)} with {rng.randint(2, 30)} {rng.choice(OBJECTS)} {rng.choice(PLACES)}."
    if pattern == 1:
        return f"The {rng.choice(OBJECTS)} {rng.choice(VERBS)} {rng.choice(TEXTURES)} {rng.choice(RETURNS)} {rng.choice(PLACES)}."
    if pattern == 2:
        return f"{rng.choice(TEXTURES).capitalize()} {rng.choice(RETURNS)} from {rng.choice(OBJECTS)} contrast with the {rng.choice(TEXTURES)} {rng.choice(SCENES)} {rng.choice(PLACES)}."
    return f"There are {rng.randint(1, 12)} {rng.choice(OBJECTS)} and several {rng.choice(OBJECTS)} {rng.choice(PLACES)}, while the {rng.choice(SCENES)} remains {rng.choice(TEXTURES)}."


def perturb(rng: random.Random, caption: str) -> str:
    sentences = caption.split(". ")
    rng.shuffle(sentences)
    sentences = sentences[: rng.randint(max(1, len(sentences) - 2), len(sentences))]
    words = " ".join(sentences).split()
    out: list[str] = []
    vocabulary = TEXTURES + OBJECTS + SCENES
    for word in words:
        r = rng.random()
        if r < 0.08:
            continue
        if r < 0.22:
            out.append(rng.choice(vocabulary).split()[0])
        else:
            out.append(word)
    return " ".join(out)


def make_corpus(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    refs = [" ".join(sentence(rng) for _ in range(rng.randint(3, 5))) for _ in range(n)]
    hyps = [perturb(rng, r) for r in refs]
    return hyps, [[r] for r in refs]


def run_reference(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, np.ndarray]]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {i: r for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"Bleu_{k + 1}": (bleu[k], np.asarray(bleu_per[k])) for k in range(4)}
    out["ROUGE_L"] = Rouge().compute_score(gts, res)
    out["CIDEr"] = Cider().compute_score(gts, res)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=13682, help="number of images (default: SARLANG-1M's detailed-caption test set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the measurements here")
    args = parser.parse_args()

    from sarlang.eval.captions import score_captions

    hyps, refs = make_corpus(args.n, args.seed)
    words = np.mean([len(r[0].split()) for r in refs])
    print(f"corpus: {args.n} images, 1 reference each, {words:.1f} words per reference on average")

    # Warm both up on a few captions so neither pays import costs in the timed run.
    score_captions(hyps[:20], refs[:20], meteor=False)
    run_reference(hyps[:20], refs[:20])

    t0 = time.perf_counter()
    ours = score_captions(hyps, refs, mode="sarlang", meteor=False)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = run_reference(hyps, refs)
    t_ref = time.perf_counter() - t0

    diff = 0.0
    for metric, (corpus, per) in theirs.items():
        diff = max(diff, abs(ours.scores[metric] - corpus), float(np.max(np.abs(np.asarray(ours.per_sample[metric]) - per))))
    ratio = t_ref / t_ours
    print(f"pycocoevalcap 1.2 (BLEU + ROUGE-L + CIDEr): {t_ref:8.2f} s")
    print(f"sarlang           (BLEU + ROUGE-L + CIDEr): {t_ours:8.2f} s")
    print(f"speed ratio: {ratio:.1f}x   (target >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
    print(f"largest absolute difference (corpus and per-image scores): {diff:.3g}   (target < 1e-9: {'met' if diff < 1e-9 else 'NOT met'})")
    print("scores: " + ", ".join(f"{k} {v:.4f}" for k, v in ours.scores.items() if v is not None))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"n": args.n, "seconds_pycocoevalcap": t_ref, "seconds_sarlang": t_ours, "ratio": ratio,
                       "max_abs_difference": diff, "machine": platform.platform()}, handle, indent=2)


if __name__ == "__main__":
    main()
