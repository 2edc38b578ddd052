"""Vocabulary built from the training split; saved as a plain text file, one token per line."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from textvae.atomic import write_text_atomic
from textvae.errors import TextVAEError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


class Vocab:
    """Token <-> id map. Ids 0-3 are ``<pad> <unk> <bos> <eos>``; the rest by decreasing training frequency."""

    def __init__(self, itos: list[str]):
        if tuple(itos[:4]) != SPECIALS:
            raise TextVAEError(f"vocabulary must start with {' '.join(SPECIALS)}")
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise TextVAEError("vocabulary has duplicate tokens")

    @classmethod
    def build(cls, sentences: Iterable[list[str]], max_size: int = 0, min_count: int = 1) -> Vocab:
        """Count tokens; keep those seen at least ``min_count`` times, at most ``max_size`` entries with specials."""
        counts = Counter(tok for sent in sentences for tok in sent)
        for s in SPECIALS:
            counts.pop(s, None)
        words = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_count]
        if max_size > 0:
            words = words[: max(0, max_size - len(SPECIALS))]
        return cls(list(SPECIALS) + words)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, UNK) for t in tokens]

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True) -> list[str]:
        out = []
        for i in ids:
            i = int(i)
            if i == EOS and stop_at_eos:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.itos[i])
        return out

    @property
    def fingerprint(self) -> str:
        """sha256 of the token list: a checkpoint records it to refuse a different vocabulary."""
        return hashlib.sha256("\n".join(self.itos).encode("utf-8")).hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        write_text_atomic(path, "".join(t + "\n" for t in self.itos))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise TextVAEError(f"{path}: vocabulary file not found")
        text = path.read_text(encoding="utf-8")
        return cls(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"))
