"""Tokenizers of corpus lines: whitespace words (an already tokenized corpus), characters, raw text through
sacremoses (moses) or the Penn Treebank conventions (penn), or Chinese words through jieba (jieba); and the way
back to text, which writes Chinese without spaces."""

from __future__ import annotations

import unicodedata

from textvae.config.sections import TOKENIZERS
from textvae.data.normalize import split_text
from textvae.errors import BadValue, listed


def check_tokenizer(kind: str) -> str:
    """``kind`` when it is one of :data:`TOKENIZERS`, else a BadValue naming the value."""
    if kind not in TOKENIZERS:
        raise BadValue("tokenizer", f"must be {listed(TOKENIZERS)}, got {kind!r}")
    return kind


def tokenize(line: str, kind: str = "word", lower: bool = False) -> list[str]:
    """Split one line into tokens. ``kind``: "word" (whitespace), "char" (every character, spaces kept as single
    spaces between words), "moses", "penn" or "jieba" (raw text, see ``textvae.data.normalize.split_text``)."""
    if lower:
        line = line.lower()
    return split_text(line, kind)


def wide(ch: str) -> bool:
    """A character written without spaces around it: Chinese, Japanese and Korean characters and full-width
    punctuation (Unicode East Asian width W or F)."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def detokenize(tokens: list[str], kind: str = "word") -> str:
    """Tokens -> text: characters joined as they are; words joined by single spaces, except next to Chinese (wide)
    characters, so a segmented Chinese sentence reads as written ("这个 手机 很 好" -> "这个手机很好") and a
    Latin word inside it keeps its spaces only towards other Latin words."""
    if kind == "char":
        return "".join(tokens)
    out: list[str] = []
    for tok in tokens:
        if out and tok and out[-1] and not (wide(out[-1][-1]) or wide(tok[0])):
            out.append(" ")
        out.append(tok)
    return "".join(out)
