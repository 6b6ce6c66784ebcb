"""Caption metrics agree with pycocoevalcap 1.2 to 1e-9, on generated and property-based corpora."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge, my_lcs

from sarlang.errors import SarlangError
from sarlang.eval.captions import score_captions
from sarlang.eval.rouge import lcs_length

from .conftest import needs_java

TOL = 1e-9
WORDS = "a the ship ships Ship sea harbor bright dark speckle target is are in of with near large small two , . 3 [10.5,".split()


def reference_scores(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, np.ndarray]]:
    gts = {i: list(r) for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"Bleu_{k + 1}": (bleu[k], np.array(bleu_per[k])) for k in range(4)}
    out["ROUGE_L"] = Rouge().compute_score(gts, res)
    out["CIDEr"] = Cider().compute_score(gts, res)
    return out


def assert_parity(hyps: list[str], refs: list[list[str]]) -> None:
    ours = score_captions(hyps, refs, mode="sarlang", meteor=False)
    theirs = reference_scores(hyps, refs)
    for metric, (corpus, per) in theirs.items():
        assert ours.scores[metric] == pytest.approx(corpus, abs=TOL, rel=0), metric
        np.testing.assert_allclose(ours.per_sample[metric], per, atol=TOL, rtol=0, err_msg=metric)


def random_corpus(rng: random.Random, n: int, max_refs: int, max_len: int) -> tuple[list[str], list[list[str]]]:
    def sentence(lo: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, max_len)))

    hyps = [sentence(0) for _ in range(n)]
    refs = [[sentence(1) for _ in range(rng.randint(1, max_refs))] for _ in range(n)]
    return hyps, refs


@pytest.mark.parametrize("seed,n,max_refs,max_len", [(0, 200, 1, 30), (1, 150, 5, 20), (2, 40, 3, 80), (3, 1, 1, 10), (4, 2, 2, 3)])
def test_parity_on_generated_corpora(seed: int, n: int, max_refs: int, max_len: int) -> None:
    hyps, refs = random_corpus(random.Random(seed), n, max_refs, max_len)
    assert_parity(hyps, refs)


def test_parity_with_identical_and_disjoint_captions() -> None:
    hyps = ["a bright ship in dark sea", "xyz qqq", "a bright ship in dark sea", ""]
    refs = [["a bright ship in dark sea"], ["a harbor with ships"], ["ships"], ["a harbor"]]
    assert_parity(hyps, refs)
    ours = score_captions(hyps[:1] * 3, [["a bright ship in dark sea"]] * 3, meteor=False)
    assert ours.scores["Bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert ours.scores["ROUGE_L"] == pytest.approx(1.0)


def test_parity_with_irregular_whitespace() -> None:
    # pycocoevalcap splits BLEU/CIDEr on any whitespace but ROUGE-L on single spaces only.
    hyps = ["a  ship\tin the   sea ", " two ships", "ship\nship"]
    refs = [["a ship in the sea"], ["two  ships", "two ships near a harbor"], ["ship ship"]]
    assert_parity(hyps, refs)


sentences = st.lists(st.sampled_from(WORDS + ["", " "]), min_size=0, max_size=25).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(sentences, st.lists(sentences.filter(lambda s: s.strip() != ""), min_size=1, max_size=4)), min_size=1, max_size=12))
@example([("a a", ["a"])])  # an order with n-grams in hypotheses only
def test_parity_property_based(pairs: list[tuple[str, list[str]]]) -> None:
    assert_parity([h for h, _ in pairs], [r for _, r in pairs])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from("abcde"), max_size=80), st.lists(st.sampled_from("abcdef"), max_size=80))
def test_bit_parallel_lcs_equals_dynamic_programming(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == my_lcs(a, b)


@pytest.mark.slow
def test_large_corpus_parity_and_parallel_path() -> None:
    # Above the size where ROUGE-L runs in a forked worker.
    hyps, refs = random_corpus(random.Random(7), 4500, 2, 25)
    assert_parity(hyps, refs)


def test_mode_and_unavailable_metrics_are_recorded() -> None:
    result = score_captions(["a ship"], [["a ship at sea"]], meteor=False).to_json()
    assert result["mode"] == "sarlang"
    assert set(result["scores"]) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"}
    assert result["scores"]["METEOR"] is None
    assert "SPICE" in result["unavailable"] and "offline" in result["unavailable"]["SPICE"]
    assert result["n"] == 1


@pytest.mark.parametrize(
    "hyps,refs,message",
    [([], [], "no captions"), (["a"], [], "hypotheses"), (["a"], [[]], "no reference")],
)
def test_bad_input_is_a_clear_error(hyps: list[str], refs: list[list[str]], message: str) -> None:
    with pytest.raises(SarlangError, match=message):
        score_captions(hyps, refs, meteor=False)


def test_unknown_mode() -> None:
    with pytest.raises(SarlangError, match="unknown caption mode"):
        score_captions(["a"], [["a"]], mode="bleu")


@needs_java
def test_coco_mode_matches_pycocoevalcap_pipeline() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    hyps = ["A ship (large) is in the harbor.", "Two boats, docked; they're U.S. ships!", "The tanks' rings: bright", "Café area"]
    refs = [["A large ship in a harbor."], ["Two ships are docked.", "There're 2 boats."], ["Bright rings of tanks."], ["a cafe area"]]
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tokenizer.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    expected = reference_scores([res[i][0] for i in range(len(hyps))], [gts[i] for i in range(len(hyps))])
    ours = score_captions(hyps, refs, mode="coco", meteor=False)
    assert ours.mode == "coco" and "PTB" in ours.tokenizer
    for metric, (corpus, _per) in expected.items():
        assert ours.scores[metric] == pytest.approx(corpus, abs=TOL), metric


@needs_java
def test_ptb_tokenizer_matches_pycocoevalcap_and_keeps_empty_lines() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from sarlang.eval.ptb import ptb_tokenize

    sentences = ["A ship (large) is at [10.5, 20, 30, 40].", "", "Don't move -- it's 3.5 m/pixel... ok?", "\"Quoted\" text; yes: fine"]
    ours = ptb_tokenize(sentences)
    nonempty = [s for s in sentences if s]
    theirs = PTBTokenizer().tokenize({i: [{"caption": s}] for i, s in enumerate(nonempty)})
    assert [o for o in ours if o] == [theirs[i][0] for i in range(len(nonempty))]
    assert ours[1] == ""
    assert ours[0] == "a ship -lrb- large -rrb- is at -lsb- 10.5 20 30 40 -rsb-"


@pytest.mark.slow
@needs_java
def test_meteor_matches_pycocoevalcap() -> None:
    from pycocoevalcap.meteor.meteor import Meteor

    hyps = ["a bright ship in the dark sea", "two aircraft on the apron", "storage tanks in a grid"]
    refs = [["a ship in the sea", "one bright vessel at sea"], ["two planes parked on the apron"], ["circular tanks arranged in a grid"]]
    ours = score_captions(hyps, refs, meteor=True)
    meteor = Meteor()
    corpus, per = meteor.compute_score({i: r for i, r in enumerate(refs)}, {i: [h] for i, h in enumerate(hyps)})
    assert ours.scores["METEOR"] == pytest.approx(corpus, abs=1e-12)
    np.testing.assert_allclose(ours.per_sample["METEOR"], per, atol=1e-12)
    assert "METEOR" not in ours.unavailable
