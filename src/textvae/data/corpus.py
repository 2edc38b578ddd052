"""Corpora: a registry of bundled corpora and reading one-sentence-per-line files strictly."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from textvae.data.tokenize import tokenize
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError

SPLITS = ("train", "valid", "test")

_YELP = "yelp_sentiment_shen2017/{}.{}.txt"
CORPORA: dict[str, dict[str, tuple[str, ...]]] = {
    "ptb": {"train": ("ptb/ptb.train.txt",), "valid": ("ptb/ptb.valid.txt",), "test": ("ptb/ptb.test.txt",)},
    # negative (.0) then positive (.1) sentences; labelled sets for attribute arithmetic are the single files
    "yelp": {s: (_YELP.format(s, 0), _YELP.format(s, 1)) for s in SPLITS},
}
"""Corpus name -> split -> files (read one after the other), relative to the data folder (see ``data_root``)."""

_SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "dev", "val"), "test": ("test",)}


def data_root() -> Path:
    """$TEXTVAE_DATA, else ./data, else the ``data/`` folder of the source checkout."""
    env = os.environ.get("TEXTVAE_DATA")
    if env:
        return Path(env)
    if (Path.cwd() / "data").is_dir():
        return Path.cwd() / "data"
    return Path(__file__).resolve().parents[3] / "data"


def split_files(corpus: str) -> dict[str, list[Path]]:
    """Files of each split for a registry name or a folder with files named like *train*, *valid|dev*, *test*."""
    if corpus in CORPORA:
        root = data_root()
        return {s: [root / f for f in files] for s, files in CORPORA[corpus].items()}
    folder = Path(corpus)
    if not folder.is_dir():
        raise TextVAEError(
            f"data.corpus: '{corpus}' is neither a registered corpus ({', '.join(CORPORA)}) nor a folder"
        )
    files = {}
    for split, aliases in _SPLIT_ALIASES.items():
        found = sorted(p for p in folder.iterdir() if p.is_file() and any(a in p.name for a in aliases))
        if not found:
            raise TextVAEError(f"{folder}: missing {split} split (no file named like *{aliases[0]}*)")
        if len(found) > 1:
            raise TextVAEError(f"{folder}: several files for the {split} split: {', '.join(p.name for p in found)}")
        files[split] = [found[0]]
    return files


def read_lines(path: str | Path) -> list[str]:
    """Non-blank lines of a UTF-8 file; a missing, empty or non-UTF-8 file, or one with NUL bytes, raises
    TextVAEError."""
    path = Path(path)
    if not path.is_file():
        raise TextVAEError(f"{path}: file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TextVAEError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TextVAEError(f"{path}:{line}: contains a NUL byte (not a text file?)")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise TextVAEError(f"{path}: file is empty")
    return lines


@dataclass
class Split:
    """One split encoded with a vocabulary: ``ids[i]`` is sentence i without <bos>/<eos>."""

    name: str
    ids: list[list[int]]
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_tokens(self) -> int:
        """Predicted tokens: words plus one </s> per sentence (<s> not counted)."""
        return sum(len(s) + 1 for s in self.ids)


def read_split(files: list[Path]) -> list[str]:
    """The lines of a split's files, one file after the other."""
    return [line for path in files for line in read_lines(path)]


def tokenize_split(files: list[Path], kind: str, lower: bool) -> list[list[str]]:
    """Tokenized lines of a split's files."""
    return [tokenize(line, kind, lower) for line in read_split(files)]


def encode_split(name: str, sentences: list[list[str]], vocab: Vocab, max_len: int = 0) -> Split:
    kept = [s for s in sentences if max_len <= 0 or len(s) <= max_len]
    return Split(name, [vocab.encode(s) for s in kept], dropped=len(sentences) - len(kept))
