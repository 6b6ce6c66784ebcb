"""The built-in model's tokenizer: words, numbers and punctuation of the training text, lower-cased."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

SPECIALS = ("<pad>", "<bos>", "<sep>", "<eos>", "<unk>")
PAD, BOS, SEP, EOS, UNK = range(5)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[^\sa-z\d]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (with an inner apostrophe), numbers (with a decimal part) and single punctuation marks."""
    return _TOKEN.findall(text.lower())


def detokenize(tokens: Sequence[str]) -> str:
    """Tokens joined back into text, without spaces before closing or after opening punctuation."""
    text = " ".join(tokens)
    text = re.sub(r" ([.,;:!?)\]])", r"\1", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    text = re.sub(r" ' ", "'", text)
    return text


class Vocabulary:
    """Token <-> id; the five specials first, then the training text's tokens in sorted order.

    Args:
        tokens: Every token, its position being its id (``vocab.json``).
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Sequence[str], min_count: int) -> Vocabulary:
        """The vocabulary of ``texts``: tokens seen fewer than ``min_count`` times are left to ``<unk>``."""
        counts = Counter(t for text in texts for t in tokenize(text))
        words = sorted(t for t, c in counts.items() if c >= min_count)
        return cls([*SPECIALS, *words])

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (``<unk>`` for unknown tokens)."""
        return [self.index.get(t, UNK) for t in tokenize(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, special tokens other than ``<unk>`` left out."""
        return detokenize([self.tokens[i] for i in ids if i >= len(SPECIALS) or i == UNK])
