"""Prepared corpora: a corpus tokenized once into memory-mapped token shards, for corpora of tens of millions of
sentences (the Book Corpus's 53-80 million) that outgrow a Python list of lists.

A prepared folder holds ``vocab.txt``, per split shards ``{split}-{k:05d}.tok`` (the token ids of
``shard_sentences`` consecutive sentences, one after the other, without specials, in reading order; uint16 when
the vocabulary fits, else uint32) and ``{split}-{k:05d}.off`` (int64 offsets: sentence i of the shard is
``tok[off[i]:off[i + 1]]``), ``{split}.labels`` for a labelled corpus, and ``manifest.json`` (format, source, the
data settings the ids depend on, the vocabulary's size and fingerprint, per split the counts and each shard's
sha256). The manifest is written last: a folder without one is a preparation under way or interrupted, which
:func:`prepare` resumes shard by shard (``progress.json``) to byte-identical files.

:func:`prepare` streams the text (memory bounded by the vocabulary and one shard, whatever the corpus size);
:func:`load_prepared` opens the shards with ``numpy.memmap``; :class:`TokenArray` is the sentence sequence a
:class:`textvae.data.corpus.Split` holds, read from the pages the batches touch."""

from __future__ import annotations

import gzip
import hashlib
import json
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from textvae.atomic import write_atomic, write_json_atomic, write_text_atomic
from textvae.data.corpus import CORPORA, LABELS, SPLITS, registered_labels, split_files, split_indices
from textvae.data.tokenize import tokenize
from textvae.data.vocab import SPECIALS, UNK, Vocab
from textvae.errors import BadValue, TextVAEError
from textvae.progress import task

FORMAT = 1
MANIFEST, PROGRESS, VOCAB = "manifest.json", "progress.json", "vocab.txt"
SETTINGS = ("tokenizer", "lower", "vocab_size", "min_count")
"""The data settings token ids depend on: a recipe training from a prepared folder must agree with them."""
SPLIT_SETTINGS = ("valid_fraction", "test_fraction", "split_seed")
"""The settings that split a single-file source, recorded too."""


def is_prepared(corpus: str | Path) -> bool:
    """Whether ``corpus`` names a prepared folder (one with a manifest)."""
    return (Path(corpus) / MANIFEST).is_file()


# ---- reading text, streamed --------------------------------------------------------------------------------------
def stream_lines(path: Path) -> Iterator[str]:
    """The non-blank lines of a UTF-8 text file, plain or gzip (``.gz``), one at a time: the same lines
    :func:`textvae.data.corpus.read_lines` returns, without holding the file in memory."""
    if not path.is_file():
        raise TextVAEError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rt", encoding="utf-8", newline=None) as f:
            for number, raw in enumerate(f, 1):  # noqa: B007
                if "\x00" in raw:
                    raise TextVAEError(f"{path}:{number}: contains a NUL byte (not a text file?)")
                for line in raw.splitlines():
                    if line.strip():
                        yield line
    except UnicodeDecodeError as exc:
        raise TextVAEError(f"{path}:{number + 1}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})") from None
    except (OSError, EOFError) as exc:
        raise TextVAEError(f"{path}: cannot read it ({exc})") from None


@dataclass
class Source:
    """What to prepare: per split its files, or (``single``) files read as one text split into train, valid and
    test by the permutation of :func:`textvae.data.corpus.split_indices`, as a single-file corpus is."""

    name: str
    files: dict[str, list[Path]]
    single: list[Path] | None = None
    labelled: bool = False


def find_source(corpus: list[str]) -> Source:
    """A registered name, a folder of split files, or any number of plain or gzip text files."""
    if len(corpus) == 1 and (corpus[0] in CORPORA or Path(corpus[0]).is_dir()):
        if is_prepared(corpus[0]):
            raise TextVAEError(f"{corpus[0]}: is already a prepared corpus")
        return Source(corpus[0], split_files(corpus[0]), labelled=corpus[0] in LABELS)
    files = [Path(c) for c in corpus]
    for f in files:
        if not f.is_file():
            raise TextVAEError(f"{f}: neither a registered corpus ({', '.join(CORPORA)}), a folder nor a file")
    return Source(" ".join(corpus), {}, single=files)


def _lines(files: list[Path]) -> Iterator[str]:
    for f in files:
        yield from stream_lines(f)


class _Assign:
    """The split of each line of a single-file source: one byte per line."""

    def __init__(self, files: list[Path], cfg) -> None:
        n = sum(1 for _ in _lines(files))
        try:
            idx = split_indices_array(n, cfg.valid_fraction, cfg.test_fraction, cfg.split_seed)
        except ValueError as exc:
            raise TextVAEError(f"{' '.join(map(str, files))}: {exc}") from None
        self.split = idx

    def count(self, split: str) -> int:
        return int(np.count_nonzero(self.split == SPLITS.index(split)))

    def lines(self, files: list[Path], split: str) -> Iterator[str]:
        code = SPLITS.index(split)
        for line, s in zip(_lines(files), self.split, strict=True):
            if s == code:
                yield line


def split_indices_array(n: int, valid_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """The split of each of ``n`` lines (0 train, 1 valid, 2 test) as :func:`split_indices` draws it, in one byte
    per line (the permutation is transient)."""
    n_valid, n_test = (max(1, round(n * f)) for f in (valid_fraction, test_fraction))
    if n - n_valid - n_test < 1:
        split_indices(n, valid_fraction, test_fraction, seed)  # raises its ValueError
    perm = np.random.default_rng(seed).permutation(n)
    out = np.zeros(n, dtype=np.uint8)
    out[perm[:n_valid]] = 1
    out[perm[n_valid : n_valid + n_test]] = 2
    return out


# ---- preparing ---------------------------------------------------------------------------------------------------
class _Ids(dict):
    """token -> id, <unk> for a token out of the vocabulary (looked up in C through ``map``)."""

    def __missing__(self, key: str) -> int:
        return UNK


_worker: dict = {}


def _init_worker(kind: str, lower: bool, itos: list[str] | None) -> None:
    _worker.update(kind=kind, lower=lower, ids=_Ids((t, i) for i, t in enumerate(itos)) if itos else None)


def _count_chunk(lines: list[str]) -> tuple[Counter, int]:
    """Token counts of some lines (the vocabulary pass)."""
    counts: Counter = Counter()
    for line in lines:
        counts.update(tokenize(line, _worker["kind"], _worker["lower"]))
    return counts, len(lines)


def _encode_chunk(lines: list[str]) -> tuple[array, array]:
    """The token ids of some lines, one after the other, and each line's count of them."""
    ids, kind, lower = _worker["ids"], _worker["kind"], _worker["lower"]
    flat, lengths = array("I"), array("I")
    for line in lines:
        toks = tokenize(line, kind, lower)
        flat.extend(map(ids.__getitem__, toks))
        lengths.append(len(toks))
    return flat, lengths


def _chunks(lines: Iterator[str], size: int = 4096) -> Iterator[list[str]]:
    return iter(lambda: list(islice(lines, size)), [])


@contextmanager
def _pool(cfg, workers: int, itos: list[str] | None = None):
    """``map(fn, chunks)`` over ``workers`` processes (in order), or in this one."""
    _init_worker(cfg.tokenizer, cfg.lower, itos)
    if workers <= 1:
        yield map
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers, _init_worker, (cfg.tokenizer, cfg.lower, itos)) as pool:
        yield lambda fn, chunks: pool.imap(fn, chunks)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_array(path: Path, array: np.ndarray) -> None:
    write_atomic(path, lambda tmp: array.tofile(tmp))


def prepare(corpus: list[str], out: str | Path, cfg, vocab_file: str | Path | None = None,
            shard_sentences: int = 1_000_000, workers: int = 1, log=None) -> dict:
    """Prepare ``corpus`` (see :func:`find_source`) into the folder ``out`` with the data settings of ``cfg`` (a
    DataConfig: tokenizer, lower, vocab_size, min_count, and the split fractions and seed of a single-file source);
    the vocabulary is built from the training split in a first streaming pass, or read from ``vocab_file``.
    Resumes an interrupted preparation of the same corpus and settings; returns the manifest."""
    out = Path(out)
    if shard_sentences < 1:
        raise BadValue("shard_sentences", f"must be >= 1, got {shard_sentences}")
    if is_prepared(out):
        raise BadValue("out", "already holds a prepared corpus", out)
    src = find_source(corpus)
    settings = {k: getattr(cfg, k) for k in SETTINGS} | (
        {k: getattr(cfg, k) for k in SPLIT_SETTINGS} if src.single else {})
    given = Vocab.load(Path(vocab_file)) if vocab_file is not None else None
    head = {"format": FORMAT, "source": src.name, "settings": settings, "shard_sentences": shard_sentences,
            "vocab_given": given.fingerprint if given else None}
    state = _start(out, head)
    assign = _Assign(src.single, cfg) if src.single else None

    def split_lines(split: str) -> Iterator[str]:
        return assign.lines(src.single, split) if assign else _lines(src.files[split])

    sizes = {s: assign.count(s) if assign else sum(1 for _ in split_lines(s)) for s in SPLITS}

    if not (out / VOCAB).is_file():
        if given is not None:
            vocab = given
        else:
            counts: Counter = Counter()
            with task("vocabulary (train)", sizes["train"], "sentences") as bar, _pool(cfg, workers) as run:
                for part, n in run(_count_chunk, _chunks(split_lines("train"))):
                    counts.update(part)
                    bar.advance(n)
            vocab = vocab_from_counts(counts, cfg.vocab_size, cfg.min_count)
        vocab.save(out / VOCAB)
    vocab = Vocab.load(out / VOCAB)
    dtype = np.uint16 if len(vocab) <= 1 << 16 else np.uint32
    with _pool(cfg, workers, vocab.itos) as run:
        for split in SPLITS:
            _prepare_split(out, split, split_lines(split), sizes[split], state, shard_sentences, dtype, run, src.name)
    if src.labelled:
        for split in SPLITS:
            labels = registered_labels(src.name, split)
            write_text_atomic(out / f"{split}.labels", "\n".join(labels) + "\n")
    manifest = {**head, "dtype": np.dtype(dtype).name, "vocab": {"size": len(vocab), "fingerprint": vocab.fingerprint},
                "labels": src.labelled,
                "splits": {s: {"sentences": sum(x["sentences"] for x in state["splits"][s]),
                               "tokens": sum(x["tokens"] for x in state["splits"][s]),
                               "unk": sum(x["unk"] for x in state["splits"][s]),
                               "shards": state["splits"][s]} for s in SPLITS}}
    write_json_atomic(out / MANIFEST, manifest)
    (out / PROGRESS).unlink(missing_ok=True)
    return manifest


def _prepare_split(out: Path, split: str, lines: Iterator[str], size: int, state: dict, shard_sentences: int,
                   dtype, run, source: str) -> None:
    """Write the shards of one split not written yet (``state``: the progress, updated shard by shard)."""
    done = state["splits"].setdefault(split, [])
    for _ in islice(lines, len(done) * shard_sentences):  # skip the sentences of finished shards
        pass
    k = len(done)
    with task(f"prepare ({split})", size, "sentences") as bar:
        bar.advance(len(done) * shard_sentences)
        while True:
            flat, lengths = array("I"), array("I")
            for f, n in run(_encode_chunk, _chunks(islice(lines, shard_sentences))):
                flat.extend(f)
                lengths.extend(n)
            if not lengths:
                break
            offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(np.frombuffer(lengths, dtype=np.uint32), out=offsets[1:])
            flat = np.frombuffer(flat, dtype=np.uint32).astype(dtype)
            stem = f"{split}-{k:05d}"
            _write_array(out / f"{stem}.tok", flat)
            _write_array(out / f"{stem}.off", offsets)
            done.append({"stem": stem, "sentences": len(lengths), "tokens": int(offsets[-1]),
                         "unk": int(np.count_nonzero(flat == 1)),
                         "sha256": {"tok": _sha256(out / f"{stem}.tok"), "off": _sha256(out / f"{stem}.off")}})
            write_json_atomic(out / PROGRESS, state)
            bar.advance(len(lengths))
            k += 1
    if not done:
        raise TextVAEError(f"{source}: the {split} split has no sentences")


def _start(out: Path, head: dict) -> dict:
    """The progress of a preparation of ``out``: resumed when one with the same head is under way; a folder
    holding anything else is an error."""
    state_file = out / PROGRESS
    if state_file.is_file():
        state = json.loads(state_file.read_text())
        if state["head"] != head:
            raise BadValue("out", f"holds an interrupted preparation of {state['head']['source']} with "
                               f"other settings; remove it or give another folder", out)
        return state
    if out.exists() and (not out.is_dir() or any(p.name != VOCAB for p in out.iterdir())):
        raise BadValue("out", "exists and is not an interrupted preparation; give a new folder", out)
    out.mkdir(parents=True, exist_ok=True)
    state = {"head": head, "splits": {}}
    write_json_atomic(state_file, state)
    return state


def vocab_from_counts(counts: Counter, max_size: int = 0, min_count: int = 1) -> Vocab:
    """The vocabulary :meth:`Vocab.build` makes from the same counts (most frequent first, ties by token)."""
    for s in SPECIALS:
        counts.pop(s, None)
    words = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_count]
    if max_size > 0:
        words = words[: max(0, max_size - len(SPECIALS))]
    return Vocab(list(SPECIALS) + words)


# ---- reading a prepared folder -----------------------------------------------------------------------------------
class TokenArray(Sequence):
    """The sentences of a prepared split (token ids without specials), read from memory-mapped shards: ``keep``
    (indices) selects some, ``cut`` (> 0) cuts each to that many tokens, ``reverse`` gives them last word first
    (after the cut, as the text path does). Indexing gives a list of ints; ``lengths`` is a numpy array of token
    counts."""

    def __init__(self, shards: list[tuple[np.ndarray, np.ndarray]], reverse: bool = False,
                 keep: np.ndarray | None = None, cut: int = 0) -> None:
        self.shards, self.reverse, self.keep, self.cut = shards, reverse, keep, cut
        counts = np.array([len(off) - 1 for _, off in shards], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        full = np.concatenate([np.diff(off).astype(np.int32) for _, off in shards]) if shards else np.zeros(0, np.int32)
        self.full_lengths = full
        lengths = full if keep is None else full[keep]
        self.lengths = np.minimum(lengths, cut) if cut > 0 else lengths

    def select(self, keep: np.ndarray | None = None, cut: int = 0) -> TokenArray:
        """The same shards with another selection and cut."""
        return TokenArray(self.shards, self.reverse, keep, cut)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        g = int(self.keep[i]) if self.keep is not None else i
        k = int(np.searchsorted(self.starts, g, side="right")) - 1
        tok, off = self.shards[k]
        j = g - int(self.starts[k])
        a, b = int(off[j]), int(off[j + 1])
        if self.cut > 0:
            b = min(b, a + self.cut)
        ids = tok[a:b].tolist()
        return ids[::-1] if self.reverse else ids


def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TextVAEError(f"{path}: not a readable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise TextVAEError(f"{path}: format {manifest.get('format')}; this textvae reads format {FORMAT}")
    return manifest


def check_settings(cfg, folder: str | Path) -> dict:
    """The manifest of a prepared ``folder``; a recipe whose data settings differ from those the ids were made
    with is a TextVAEError naming the setting."""
    manifest = read_manifest(folder)
    for key, value in manifest["settings"].items():
        if key in SETTINGS and getattr(cfg, key) != value:
            raise TextVAEError(f"data.{key}: {getattr(cfg, key)!r}, but {folder} was prepared with {value!r}; set "
                               f"data.{key}: {value!r} or prepare the corpus again")
    return manifest


def prepared_vocab(folder: str | Path) -> Vocab:
    return Vocab.load(Path(folder) / VOCAB)


def open_split(folder: str | Path, split: str, reverse: bool = False) -> TokenArray:
    """A prepared split as a :class:`TokenArray` of all its sentences."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    dtype = np.dtype(manifest["dtype"])
    shards = []
    for s in manifest["splits"][split]["shards"]:
        tok_path, off_path = folder / f"{s['stem']}.tok", folder / f"{s['stem']}.off"
        for p in (tok_path, off_path):
            if not p.is_file():
                raise TextVAEError(f"{p}: missing shard of the prepared corpus {folder}")
        tok = np.memmap(tok_path, dtype=dtype, mode="r") if s["tokens"] else np.zeros(0, dtype)
        off = np.memmap(off_path, dtype=np.int64, mode="r")
        if len(off) != s["sentences"] + 1 or int(off[-1]) != s["tokens"]:
            raise TextVAEError(f"{off_path}: does not match the manifest (truncated or replaced?)")
        shards.append((tok, off))
    return TokenArray(shards, reverse)


def prepared_lines(folder: str | Path, split: str, tokenizer: str = "word") -> list[str]:
    """The sentences of a prepared split as text, as the model sees them (words out of the vocabulary as <unk>)."""
    from textvae.data.tokenize import detokenize

    vocab = prepared_vocab(folder)
    return [detokenize(vocab.decode(ids), tokenizer) for ids in open_split(folder, split)]


def prepared_labels(folder: str | Path, split: str) -> list[str] | None:
    path = Path(folder) / f"{split}.labels"
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else None

