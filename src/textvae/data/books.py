"""Sentences from a book (the Book Corpus's stand-in: Tolstoy's War and Peace) and from a sentence list (an SNLI
sample), split once into fixed train/valid/test files:

    python -m textvae.data.books book data/war_and_peace/warandpeace.txt data/books
    python -m textvae.data.books lines ../shared/data/snli_sample/snli_sentences_sample.txt data/snli

Book: the Project Gutenberg header and licence are cut off, curly quotes made straight, paragraphs joined,
sentences split at ., ! or ? followed by a capital (not after Mr., Mrs., Dr. or St.), tokenized by sacremoses and
lower-cased, and those of 5 to 30 words kept (AutoGen's filter). A sentence list: tokenized and lower-cased the
same way. Both: shuffled with numpy's PCG64 from the seed, 90/5/5.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from textvae.data.normalize import split_text

SENTENCE_END = re.compile(r"(?:(?<=[.!?])(?<!\b[A-Z]\.)|(?<=[.!?][\"'\u201d\u2019]))\s+(?=[\"'\u201c\u2018]?[A-Z])")
"""A sentence ends at ., ! or ? (and a closing quote) before white space and a capital (or an opening quote);
not after a single capital (an initial)."""
ABBREVIATIONS = re.compile(r"\b(Mr|Mrs|Dr|St)\.\s")
MIN_WORDS, MAX_WORDS = 5, 30
STRAIGHT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
"""Curly quotes made straight before tokenizing (so "kutuzov's" becomes "kutuzov 's", not a lone quote)."""


def book_sentences(text: str) -> list[str]:
    """The sentences of a Project Gutenberg book (between its START and END markers), one string each."""
    start, end = text.find("*** START OF"), text.find("*** END OF")
    body = text[text.index("\n", start) + 1 if start >= 0 else 0 : end if end >= 0 else len(text)]
    out = []
    for paragraph in re.split(r"\n\s*\n", body):
        flat = ABBREVIATIONS.sub(lambda m: m.group(1) + "\u2024 ", " ".join(paragraph.split()))  # protect the dot
        out += [s.replace("\u2024", ".") for s in SENTENCE_END.split(flat) if s.strip()]
    return out


def _write_splits(lines: list[str], out: Path, seed: int) -> dict[str, int]:
    order = np.random.default_rng(seed).permutation(len(lines))
    n_small = round(0.05 * len(lines))
    parts = {"valid": order[:n_small], "test": order[n_small : 2 * n_small], "train": order[2 * n_small :]}
    for split, idx in parts.items():
        (out / f"{split}.txt").write_text("".join(f"{lines[i]}\n" for i in sorted(idx.tolist())), encoding="utf-8")
    return {split: len(idx) for split, idx in parts.items()}


def prepare_book(path: str | Path, out: str | Path, seed: int = 0) -> dict[str, int]:
    """A book's sentences of 5-30 words (sacremoses tokens, lower case), split 90/5/5."""
    sentences = book_sentences(Path(path).read_text(encoding="utf-8").translate(STRAIGHT))
    tokens = (split_text(s.lower(), "moses") for s in sentences)
    kept = [" ".join(t) for t in tokens if MIN_WORDS <= len(t) <= MAX_WORDS]
    return {"sentences": len(sentences), **_write_splits(kept, Path(out), seed)}


def prepare_lines(path: str | Path, out: str | Path, seed: int = 0) -> dict[str, int]:
    """A file of one sentence a line (blank lines left out), tokenized by sacremoses, lower-cased, split 90/5/5."""
    text = Path(path).read_text(encoding="utf-8").translate(STRAIGHT)
    lines = [" ".join(split_text(line.lower(), "moses")) for line in text.splitlines() if line.strip()]
    return _write_splits(lines, Path(out), seed)


if __name__ == "__main__":
    kind, src, dst = sys.argv[1:4]
    print((prepare_book if kind == "book" else prepare_lines)(src, dst))
