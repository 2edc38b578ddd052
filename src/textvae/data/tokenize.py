"""Tokenizers: whitespace words or characters."""

from __future__ import annotations


def tokenize(line: str, kind: str = "word", lower: bool = False) -> list[str]:
    """Split one line into tokens. ``kind`` is "word" (whitespace) or "char" (every character, spaces kept
    as single spaces between words)."""
    if lower:
        line = line.lower()
    if kind == "word":
        return line.split()
    if kind == "char":
        return list(" ".join(line.split()))
    raise ValueError(f"unknown tokenizer {kind!r}")


def detokenize(tokens: list[str], kind: str = "word") -> str:
    return ("" if kind == "char" else " ").join(tokens)
