"""Fixed-length character samples from random positions of a text (Semeniuta et al. 2017's PTB experiments).

The authors' sampler picks a random position of the character stream, moves it to the start of a word, takes up
to ``length`` characters without crossing a line end, and cuts back to the end of the last whole word; the rest
of the sample is padding. Ours does the same, with the word start drawn uniformly from every word start of the
text, and leaves room for ``</s>``: a fragment has at most ``length - 1`` characters.
"""

from __future__ import annotations

import numpy as np

from textvae.errors import BadValue, TextVAEError


class Fragments:
    """Word-aligned fragments of ``lines``, at most ``length`` - 1 characters each (single spaces between words)."""

    def __init__(self, lines: list[str], length: int):
        if length < 2:
            raise BadValue("length", f"fragments need at least 2 characters, got {length}")
        self.lines = [" ".join(line.split()) for line in lines]
        self.lines = [line for line in self.lines if line]
        self.length = length
        starts = [(i, j) for i, line in enumerate(self.lines) for j, ch in enumerate(line)
                  if ch != " " and (j == 0 or line[j - 1] == " ")]
        if not starts:
            raise TextVAEError("no words to draw character fragments from (an empty text)")
        self.starts = np.array(starts, dtype=np.int64)

    def cut(self, line: int, start: int) -> str:
        """The fragment that starts at character ``start`` of line ``line``: whole words only, unless its first
        word alone is longer than the fragment (then it is cut)."""
        text = self.lines[line][start : start + self.length - 1]
        rest = self.lines[line][start + self.length - 1 : start + self.length]
        if rest and rest != " " and " " in text:  # the cut fell inside a word: drop that word
            text = text[: text.rindex(" ")]
        return text.rstrip()

    def draw(self, count: int, seed: list[int]) -> list[str]:
        """``count`` fragments at word starts drawn uniformly (with replacement) by numpy's PCG64 from ``seed``."""
        picks = np.random.default_rng(seed).integers(0, len(self.starts), size=count)
        return [self.cut(int(self.starts[k, 0]), int(self.starts[k, 1])) for k in picks]

    @property
    def chars(self) -> int:
        """Characters of the text (lines joined by single spaces, without line ends)."""
        return sum(len(line) for line in self.lines)


SPLIT_KEYS = {"train": 0, "valid": 1, "test": 2}


def fragment_seed(split_seed: int, split: str, epoch: int = 0) -> list[int]:
    """The seed of a split's fragments: training fragments differ from epoch to epoch and are the same for the
    same (split_seed, epoch), so a resumed run sees them again; evaluation splits use epoch 0 only."""
    return [split_seed, SPLIT_KEYS[split], epoch]
