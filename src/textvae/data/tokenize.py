"""Tokenizers of corpus lines: whitespace words (an already tokenized corpus), characters, or raw text through
sacremoses (moses) or the Penn Treebank conventions (penn)."""

from __future__ import annotations

from textvae.data.normalize import split_text


def tokenize(line: str, kind: str = "word", lower: bool = False) -> list[str]:
    """Split one line into tokens. ``kind``: "word" (whitespace), "char" (every character, spaces kept as single
    spaces between words), "moses" or "penn" (raw text, see ``textvae.data.normalize.split_text``)."""
    if lower:
        line = line.lower()
    return split_text(line, kind)


def detokenize(tokens: list[str], kind: str = "word") -> str:
    return ("" if kind == "char" else " ").join(tokens)
