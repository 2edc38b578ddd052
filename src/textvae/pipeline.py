"""Glue between recipes, corpora and run folders: load data, build a model, reopen a run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from textvae.allocator import keep_freed_memory
from textvae.config import DataConfig, Recipe, load_recipe
from textvae.data.corpus import Split, encode_split, tokenize_lines
from textvae.data.fragments import Fragments, fragment_seed
from textvae.data.prepared import check_settings, is_prepared, open_split, prepared_labels, prepared_vocab
from textvae.data.source import corpus_labels, corpus_lines, line_origin
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError
from textvae.models.build import build_model
from textvae.models.vae import TextVAE
from textvae.models.weights import load_weights
from textvae.run import Run


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def load_splits(cfg: DataConfig, vocab: Vocab | None = None, splits=("train", "valid", "test"),
                log=_note, length: int = 0) -> tuple[Vocab, dict[str, Split]]:
    """Read and encode splits; the vocabulary is built from the training split unless given. ``length`` > 0: the
    model's fixed length (tokens with </s>, :func:`textvae.config.fixed_length`): a sentence that does not fit is
    a TextVAEError naming its file and line, unless ``cfg.cut`` (then cut; without a fixed length, ``cfg.cut``
    cuts every split to ``cfg.max_len`` tokens). With ``cfg.sample_length`` the splits
    are character samples (:func:`fragment_split`)."""
    if is_prepared(cfg.corpus):
        return load_prepared(cfg, vocab, splits, log, length)
    lines = {s: corpus_lines(cfg, s) for s in splits}
    tokens = {s: tokenize_lines(lines[s], cfg.tokenizer, cfg.lower) for s in splits}
    if vocab is None:
        train = tokens["train"] if "train" in tokens else tokenize_lines(corpus_lines(cfg, "train"), cfg.tokenizer,
                                                                          cfg.lower)
        vocab = Vocab.build(train, cfg.vocab_size, cfg.min_count)
    if not length and cfg.cut and cfg.max_len:
        length = cfg.max_len + 1  # data.cut without a fixed length: every split cut to data.max_len tokens
    out = {}
    for s in splits:
        if cfg.sample_length:
            out[s] = fragment_split(cfg, s, lines[s], vocab)
            continue
        if length:
            tokens[s] = fit_length(cfg, s, tokens[s], length, log)
        out[s] = encode_split(s, tokens[s], vocab, cfg.max_len if s == "train" else 0, cfg.reverse,
                              corpus_labels(cfg, s))
        if out[s].dropped:
            names = f"{cfg.corpus} ({s})"
            if not out[s].ids:
                raise TextVAEError(f"{names}: all {out[s].dropped} lines are longer than data.max_len={cfg.max_len} "
                                   f"tokens: nothing to train on")
            log(f"{names}: dropped {out[s].dropped} of {len(tokens[s])} lines longer than {cfg.max_len} tokens")
    return vocab, out


def load_prepared(cfg: DataConfig, vocab: Vocab | None, splits, log, length: int) -> tuple[Vocab, dict[str, Split]]:
    """:func:`load_splits` for a prepared corpus (:mod:`textvae.data.prepared`): the same sentences, ids and
    filters as from its text, memory-mapped instead of in lists."""
    folder = cfg.corpus
    check_settings(cfg, folder)
    if cfg.sample_length:
        raise TextVAEError(f"data.sample_length: character samples are drawn from text; {folder} is a prepared "
                           f"corpus (use the text corpus)")
    own = prepared_vocab(folder)
    if vocab is not None and vocab.fingerprint != own.fingerprint:
        raise TextVAEError(f"{folder}: its vocabulary ({own.fingerprint}) is not the run's ({vocab.fingerprint})")
    if not length and cfg.cut and cfg.max_len:
        length = cfg.max_len + 1
    out = {}
    for s in splits:
        arr = open_split(folder, s, cfg.reverse)
        cut = length - 1 if length and cfg.cut else 0
        if cut:  # cut first, then the max_len filter, as the text path
            n = int(np.count_nonzero(arr.lengths > cut))
            if n:
                log(f"{folder} ({s}): cut {n} of {len(arr)} lines to {cut} tokens (data.cut)")
            arr = arr.select(cut=cut)
        limit = cfg.max_len if s == "train" else 0
        keep = np.flatnonzero(arr.lengths <= limit) if limit else None
        if keep is not None and len(keep) == len(arr):
            keep = None
        kept = arr.lengths if keep is None else arr.lengths[keep]
        if length and not cut and len(kept) and int(kept.max()) >= length:
            first = int(np.flatnonzero(kept >= length)[0])
            i = first if keep is None else int(keep[first])
            raise TextVAEError(f"{folder} ({s} split), sentence {i + 1}: {int(kept[first])} tokens and </s> do "
                               f"not fit the model's fixed length of {length}; allowed: at most {length - 1} "
                               f"tokens, or set data.cut: true to cut longer lines")
        labels = prepared_labels(folder, s)
        if labels is not None and keep is not None:
            labels = [labels[i] for i in keep.tolist()]
        dropped = len(arr) - len(kept)
        out[s] = Split(s, arr.select(keep, cut), dropped=dropped, labels=labels)
        if dropped:
            if not len(kept):
                raise TextVAEError(f"{folder} ({s}): all {dropped} lines are longer than data.max_len={cfg.max_len} "
                                   f"tokens: nothing to train on")
            log(f"{folder} ({s}): dropped {dropped} of {len(arr)} lines longer than {cfg.max_len} tokens")
    return vocab or own, out


def fit_length(cfg: DataConfig, split: str, sentences: list[list[str]], length: int, log=_note) -> list[list[str]]:
    """Sentences of a model of fixed ``length`` (tokens with </s>): with ``cfg.cut`` each cut to length - 1 tokens;
    otherwise the first that does not fit (and is not dropped by ``data.max_len``) is a TextVAEError naming its file
    and line."""
    if cfg.cut:
        n = sum(len(t) >= length for t in sentences)
        if n:
            log(f"{cfg.corpus} ({split}): cut {n} of {len(sentences)} lines to {length - 1} tokens (data.cut)")
        return [t[: length - 1] for t in sentences]
    limit = cfg.max_len if split == "train" else 0
    for i, t in enumerate(sentences):
        if len(t) >= length and not (limit and len(t) > limit):
            raise TextVAEError(f"{line_origin(cfg, split, i)}: {len(t)} tokens and </s> do not fit the model's fixed "
                               f"length of {length} (model.encoder/decoder.length); allowed: at most {length - 1} "
                               f"tokens, or set data.cut: true to cut longer lines")
    return sentences


def fragment_split(cfg: DataConfig, split: str, lines: list[str], vocab: Vocab) -> Split:
    """Character samples of a split (Semeniuta et al.): word-aligned fragments of at most ``cfg.sample_length`` - 1
    characters (:class:`textvae.data.fragments.Fragments`). Evaluation splits: one per sample_length characters
    (at most ``eval_samples``), fixed; the training split: ``samples_per_epoch`` (or as many) redrawn each epoch by
    ``refresh``."""
    frags = Fragments(lines, cfg.sample_length)
    count = max(1, frags.chars // cfg.sample_length)
    if split == "train" and cfg.samples_per_epoch:
        count = cfg.samples_per_epoch
    elif split != "train" and cfg.eval_samples:
        count = min(count, cfg.eval_samples)

    def draw(epoch: int) -> list[list[int]]:
        text = frags.draw(count, fragment_seed(cfg.split_seed, split, epoch))
        return encode_split(split, tokenize_lines(text, "char", cfg.lower), vocab, reverse=cfg.reverse).ids

    return Split(split, draw(0), refresh=draw if split == "train" else None)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when present, else ``cpu``; a device that is not here is a TextVAEError. On CPU this
    also sets the allocator up for training and evaluation loops (:func:`textvae.allocator.keep_freed_memory`)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= count:
            raise TextVAEError(f"device '{name}': this machine has {count} CUDA device(s); use auto or cpu")
    elif name == "mps" and not torch.backends.mps.is_available():
        raise TextVAEError("device 'mps': not available here; use auto or cpu")
    elif name not in ("cpu", "mps"):
        raise TextVAEError(f"device '{name}': must be auto, cpu, cuda, cuda:N or mps")
    if name == "cpu":
        keep_freed_memory()
    return name


def load_run(path: str | Path, device: str | None = None) -> tuple[Recipe, Vocab, TextVAE]:
    """Reopen a trained run: its recipe, vocabulary and best weights, on ``device`` (default: the recipe's). The
    model is in eval mode with gradients off: for inference only, and safe to share between threads."""
    run = Run(Path(path))
    if not run.path.is_dir() or not run.config.is_file():
        raise TextVAEError(f"{run.path}: not a run folder (no config.yaml)")
    recipe = load_recipe(run.config)
    vocab = Vocab.load(run.vocab)
    model = build_model(recipe.model, len(vocab))
    load_weights(run.best, model, vocab.fingerprint)
    model.requires_grad_(False)
    return recipe, vocab, model.to(resolve_device(device or recipe.train.device)).eval()
