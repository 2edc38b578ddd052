"""Tokenizers, vocabulary, corpora and length-bucketed batching."""

from __future__ import annotations

import pytest
from helpers import write_corpus

from textvae.config import DataConfig
from textvae.data import BOS, EOS, PAD, UNK, Vocab, bucket_order, make_batch, read_lines
from textvae.data.tokenize import tokenize
from textvae.errors import TextVAEError
from textvae.pipeline import load_splits


def test_tokenizers():
    assert tokenize(" The cat  sat ", "word") == ["The", "cat", "sat"]
    assert tokenize(" The cat ", "word", lower=True) == ["the", "cat"]
    assert tokenize(" ab  c ", "char") == ["a", "b", " ", "c"]


def test_vocab_from_training_split_only(tmp_path):
    corpus = write_corpus(tmp_path / "c")
    (corpus / "test.txt").write_text("zebra zebra zebra\n", encoding="utf-8")
    vocab, splits = load_splits(DataConfig(corpus=str(corpus)), log=lambda *a: None)
    assert "zebra" not in vocab.stoi
    assert splits["test"].ids == [[UNK, UNK, UNK]]
    assert vocab.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]


def test_vocab_size_min_count_and_roundtrip(tmp_path):
    sents = [["a", "a", "a", "b", "b", "c"]]
    assert Vocab.build(sents, min_count=2).itos[4:] == ["a", "b"]
    assert Vocab.build(sents, max_size=5).itos[4:] == ["a"]
    v = Vocab.build(sents)
    v.save(tmp_path / "v.txt")
    w = Vocab.load(tmp_path / "v.txt")
    assert w.itos == v.itos and w.fingerprint == v.fingerprint
    assert v.decode(v.encode(["c", "zzz", "a"]) + [EOS, 5]) == ["c", "<unk>", "a"]


def test_char_vocab_keeps_space(tmp_path):
    v = Vocab.build([tokenize("ab c", "char")])
    v.save(tmp_path / "v.txt")
    assert " " in Vocab.load(tmp_path / "v.txt").stoi


def test_max_len_filter_reports_drops(tmp_path):
    corpus = write_corpus(tmp_path / "c")
    messages = []
    _, splits = load_splits(DataConfig(corpus=str(corpus), max_len=4), log=messages.append)
    assert all(len(s) <= 4 for s in splits["train"].ids)
    assert splits["train"].dropped > 0
    assert any(f"dropped {splits['train'].dropped} of 60" in m for m in messages)
    assert splits["test"].dropped == 0, "evaluation splits are never filtered"


def test_read_lines_errors(tmp_path):
    with pytest.raises(TextVAEError, match="file not found"):
        read_lines(tmp_path / "nope.txt")
    (tmp_path / "bad.txt").write_bytes(b"ok\nok\n\xc3\x28 bad\n")
    with pytest.raises(TextVAEError, match=r"bad.txt:3: not valid UTF-8"):
        read_lines(tmp_path / "bad.txt")


def test_make_batch_layout():
    b = make_batch([[5, 6, 7], [8]], [0, 1])
    assert b.inp.tolist() == [[BOS, 5, 6, 7], [BOS, 8, PAD, PAD]]
    assert b.tgt.tolist() == [[5, 6, 7, EOS], [8, EOS, PAD, PAD]]
    assert b.lengths.tolist() == [4, 2] and b.n_tokens == 6


def test_bucketing_groups_lengths_and_is_seeded():
    lengths = [(i * 7919) % 50 + 1 for i in range(1000)]
    batches = bucket_order(lengths, 32, shuffle=True, seed=3, epoch=1)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread <= 2
    assert batches == bucket_order(lengths, 32, shuffle=True, seed=3, epoch=1)
    assert batches != bucket_order(lengths, 32, shuffle=True, seed=3, epoch=2)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded / sum(lengths) < 1.05


def test_the_text_corpus_reader_does_not_import_the_prepared_one():
    """data/corpus.py <-> data/prepared.py was an import circle (hidden in function-level imports); data/source.py
    now reads from either, and neither imports it nor the other's reader, at any level."""
    import ast
    from pathlib import Path

    import textvae.data.corpus as corpus
    import textvae.data.prepared as prepared

    def imported(module) -> set[str]:
        tree = ast.parse(Path(module.__file__).read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}

    assert imported(corpus).isdisjoint({"textvae.data.prepared", "textvae.data.source"})
    assert "textvae.data.source" not in imported(prepared)
