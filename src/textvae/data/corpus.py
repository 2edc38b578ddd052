"""Corpora: a registry of bundled corpora with the style each was normalised in, folders of split files, single
text files split deterministically, and reading one-sentence-per-line files strictly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textvae.config.bundled import shipped_folder
from textvae.data.normalize import Style
from textvae.data.tokenize import tokenize
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError

SPLITS = ("train", "valid", "test")

_YELP = "yelp_sentiment_shen2017/{}.{}.txt"
CORPORA: dict[str, dict[str, tuple[str, ...]]] = {
    "ptb": {"train": ("ptb/ptb.train.txt",), "valid": ("ptb/ptb.valid.txt",), "test": ("ptb/ptb.test.txt",)},
    # negative (.0) then positive (.1) sentences; labelled sets for attribute arithmetic are the single files
    "yelp": {s: (_YELP.format(s, 0), _YELP.format(s, 1)) for s in SPLITS},
    # Semeniuta et al.'s tweet set-up on public tweets (data/twitter_us_airline/SOURCE.md): character tokens
    "tweets": {s: (f"twitter_us_airline/{s}.txt",) for s in SPLITS},
    # mu-Forcing's COSR set-up on the SophonPlus reviews (data/chinese_reviews/SOURCE.md): segmented by jieba
    "chinese_reviews": {s: (f"chinese_reviews/{s}.txt",) for s in SPLITS},
    # Li et al. 2018's Amazon review sentences: their dev and test sets only (3,000 sentences; data/amazon/SOURCE.md)
    "amazon": {s: (f"amazon/{s}.0.txt", f"amazon/{s}.1.txt") for s in SPLITS},
    # the Book Corpus's stand-in: War and Peace, sentences of 5-30 words (data/books/SOURCE.md)
    "books": {s: (f"books/{s}.txt",) for s in SPLITS},
    "snli": {s: (f"snli/{s}.txt",) for s in SPLITS},
}
"""Corpus name -> split -> files (read one after the other), relative to the data folder (see ``data_root``)."""

STYLES: dict[str, dict] = {
    "ptb": {"tokenizer": "penn", "lower": True, "numbers": "N", "punct": "drop"},
    "yelp": {"tokenizer": "penn", "lower": True, "numbers": "_num_", "punct": "keep"},
    "tweets": {"tokenizer": "char", "lower": False, "numbers": "", "punct": "keep", "clean": "tweet"},
    "chinese_reviews": {"tokenizer": "jieba", "lower": False, "numbers": "", "punct": "keep"},
    "amazon": {"tokenizer": "moses", "lower": True, "numbers": "", "punct": "keep"},
    "books": {"tokenizer": "moses", "lower": True, "numbers": "", "punct": "keep"},
    "snli": {"tokenizer": "moses", "lower": True, "numbers": "", "punct": "keep"},
}
"""How each registered corpus was normalised (``textvae.data.normalize.Style``): PTB (Mikolov) is Penn Treebank
tokens in lower case with numbers as N and no punctuation; Shen et al.'s Yelp sentences keep punctuation and write
most numbers as _num_."""


def default_tokenizer(corpus: str) -> str:
    """How ``corpus`` (a registered name, a folder or a file) is read when no tokenizer is given: char where it
    was normalised as characters (:data:`STYLES`), else word (the registered corpora are stored tokenized)."""
    return "char" if STYLES.get(corpus, {}).get("tokenizer") == "char" else "word"


LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "yelp": {s: ("=neg", "=pos") for s in SPLITS},
    "amazon": {s: ("=neg", "=pos") for s in SPLITS},
    "tweets": {s: (f"twitter_us_airline/{s}.labels",) for s in SPLITS},
    "chinese_reviews": {s: (f"chinese_reviews/{s}.labels",) for s in SPLITS},
}
"""Corpus name -> split -> the labels of each of its files (``CORPORA``), in order: a file of one label a line, or
``=LABEL`` for a file whose every line has that label."""

_SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "dev", "val"), "test": ("test",)}


def data_root() -> Path:
    """Where the bundled corpora are: $TEXTVAE_DATA; else the ``data/`` folder of the source checkout this module
    is in; else where ``pip install`` put them (``<prefix>/share/textvae/data``, the wheel's data files)."""
    return shipped_folder("data", "TEXTVAE_DATA")


def split_files(corpus: str) -> dict[str, list[Path]]:
    """Files of each split for a registry name or a folder with files named like *train*, *valid|dev*, *test*
    (a single-file corpus: see :func:`corpus_lines`)."""
    if corpus in CORPORA:
        root = data_root()
        return {s: [root / f for f in files] for s, files in CORPORA[corpus].items()}
    folder = Path(corpus)
    if not folder.is_dir():
        raise TextVAEError(
            f"data.corpus: '{corpus}' is neither a registered corpus ({', '.join(CORPORA)}), a folder nor a file"
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
    """One split encoded with a vocabulary: ``ids[i]`` is sentence i without <bos>/<eos>. ``refresh(epoch)``,
    where set, gives the sentences of a training epoch (character samples redrawn each epoch); the Trainer calls
    it at the start of each epoch."""

    name: str
    ids: list[list[int]]
    dropped: int = 0
    refresh: Callable[[int], list[list[int]]] | None = field(default=None, repr=False, compare=False)
    labels: list[str] | None = None
    """The label of each sentence (a labelled corpus, :data:`LABELS`), aligned with ``ids``; None without."""

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self):
        """Tokens of each sentence (without </s>): a list, or a numpy array for a prepared corpus."""
        got = getattr(self.ids, "lengths", None)
        return got if got is not None else [len(s) for s in self.ids]

    @property
    def n_tokens(self) -> int:
        """Predicted tokens: words plus one </s> per sentence (<s> not counted)."""
        return int(sum(self.lengths())) + len(self.ids)


def read_split(files: list[Path]) -> list[str]:
    """The lines of a split's files, one file after the other."""
    return [line for path in files for line in read_lines(path)]


def split_indices(n: int, valid_fraction: float, test_fraction: float, seed: int) -> dict[str, list[int]]:
    """Line numbers of a single-file corpus of ``n`` lines per split: a permutation drawn from ``seed`` (numpy's
    PCG64, the same on every machine) gives round(n * fraction) lines (at least one) to valid and to test; each
    split keeps the file's order."""
    n_valid, n_test = (max(1, round(n * f)) for f in (valid_fraction, test_fraction))
    if n - n_valid - n_test < 1:
        raise TextVAEError(f"{n} lines are too few to split into train, valid and test")
    perm = np.random.default_rng(seed).permutation(n)
    parts = {"valid": perm[:n_valid], "test": perm[n_valid : n_valid + n_test], "train": perm[n_valid + n_test :]}
    return {k: sorted(v.tolist()) for k, v in parts.items()}


def raw_lines(cfg, split: str) -> list[str]:
    """The raw lines of a split of a text corpus ``cfg.corpus`` (``cfg``: a DataConfig): a registered corpus, a
    folder of split files, or one text file split by :func:`split_indices`. (A prepared folder's lines:
    ``textvae.data.source.corpus_lines``, which reads either.)"""
    path = Path(cfg.corpus)
    if cfg.corpus not in CORPORA and path.is_file():
        lines = read_lines(path)
        try:
            idx = split_indices(len(lines), cfg.valid_fraction, cfg.test_fraction, cfg.split_seed)[split]
        except ValueError as exc:
            raise TextVAEError(f"{path}: {exc}") from None
        return [lines[i] for i in idx]
    return read_split(split_files(cfg.corpus)[split])


def registered_labels(corpus: str, split: str) -> list[str] | None:
    """The label of each line of a split of a registered labelled corpus (:data:`LABELS`), aligned with its
    lines; None for a corpus without labels. A label file whose length differs from its text file is a
    TextVAEError."""
    if corpus not in LABELS:
        return None
    root, out = data_root(), []
    for text, spec in zip(CORPORA[corpus][split], LABELS[corpus][split], strict=True):
        n = len(read_lines(root / text))
        labels = [spec[1:]] * n if spec.startswith("=") else read_lines(root / spec)
        if len(labels) != n:
            raise TextVAEError(f"{root / spec}: {len(labels)} labels for the {n} lines of {root / text}")
        out += labels
    return out


def raw_origin(cfg, split: str, index: int) -> str:
    """``file:line`` of line ``index`` of a split as :func:`raw_lines` returns it (blank lines skipped)."""
    path = Path(cfg.corpus)
    if cfg.corpus not in CORPORA and path.is_file():
        files = [path]
        index = split_indices(len(read_lines(path)), cfg.valid_fraction, cfg.test_fraction, cfg.split_seed)[split][
            index]
    else:
        files = split_files(cfg.corpus)[split]
    for f in files:
        numbers = [i + 1 for i, line in enumerate(f.read_text(encoding="utf-8").splitlines()) if line.strip()]
        if index < len(numbers):
            return f"{f}:{numbers[index]}"
        index -= len(numbers)
    raise IndexError(f"line {index} past the end of the {split} split")


def input_style(cfg) -> Style:
    """How text a user types is normalised for a run whose data section is ``cfg``: each "auto" field of
    ``cfg.input`` from the corpus's registered style (:data:`STYLES`), else from the data section (whitespace-
    tokenized corpora get moses for raw input; lower case as ``data.lower``; numbers and punctuation kept)."""
    base = {"clean": "none", **(STYLES.get(cfg.corpus) or {
        "tokenizer": "moses" if cfg.tokenizer == "word" else cfg.tokenizer, "lower": cfg.lower, "numbers": "",
        "punct": "keep"})}
    given = {k: getattr(cfg.input, k) for k in ("tokenizer", "lower", "numbers", "punct", "clean")}
    return Style(**{k: base[k] if v == "auto" else v for k, v in given.items()})


def tokenize_lines(lines: list[str], kind: str, lower: bool) -> list[list[str]]:
    """Tokens of each line."""
    return [tokenize(line, kind, lower) for line in lines]


def encode_split(name: str, sentences: list[list[str]], vocab: Vocab, max_len: int = 0, reverse: bool = False,
                 labels: list[str] | None = None) -> Split:
    """Token ids of each sentence (``reverse``: last word first, for right-to-left models); training sentences
    longer than ``max_len`` (> 0) dropped, with their ``labels``."""
    keep = [i for i, s in enumerate(sentences) if max_len <= 0 or len(s) <= max_len]
    ids = [vocab.encode(sentences[i][::-1] if reverse else sentences[i]) for i in keep]
    return Split(name, ids, dropped=len(sentences) - len(keep), labels=None if labels is None else
                 [labels[i] for i in keep])
