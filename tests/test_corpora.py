"""Bundled corpora, labels, Chinese segmentation and `textvae corpus`."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config import DataConfig
from textvae.data.chinese import prepare
from textvae.data.corpus import CORPORA, LABELS, SPLITS, default_tokenizer
from textvae.data.source import corpus_labels, corpus_lines
from textvae.data.tokenize import detokenize, tokenize
from textvae.errors import TextVAEError
from textvae.pipeline import load_splits
from textvae.session.latent import labelled_lines

runner = CliRunner()


@pytest.mark.parametrize("text", ["这个手机很好用，电池也耐用！", "酒店的服务态度非常好", "书的质量一般"])
def test_segmentation_round_trips(text):
    words = tokenize(text, "jieba")
    assert len(words) > 1 and all(w.strip() for w in words)
    assert "".join(words) == text
    assert detokenize(words) == text  # printed without spaces


def test_detokenize_spaces_latin_words_only():
    assert detokenize(["the", "cat", "sat", "."]) == "the cat sat ."
    assert detokenize(["我", "买", "了", "iPhone", "12", "，", "很", "好"]) == "我买了iPhone 12，很好"
    assert detokenize(list("a b"), "char") == "a b"


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_every_bundled_corpus_loads_with_aligned_labels(corpus):
    cfg = DataConfig(corpus=corpus)
    for split in SPLITS:
        lines = corpus_lines(cfg, split)
        assert len(lines) >= 250
        labels = corpus_labels(cfg, split)
        assert (labels is None) == (corpus not in LABELS)
        if labels is not None:
            assert len(labels) == len(lines) and len(set(labels)) >= 2


def test_chinese_vocabulary_is_made_of_segmented_words():
    vocab, splits = load_splits(DataConfig(corpus="chinese_reviews", min_count=3), splits=("train",),
                                log=lambda *a: None)
    words = vocab.itos[4:]
    assert 8000 < len(words) < 11000  # mu-Forcing: about 9k
    assert "手机" in vocab.stoi and sum(len(w) > 1 for w in words) > len(words) / 2
    assert max(len(s) for s in splits["train"].ids) <= 40


def test_labels_stay_aligned_through_filtering():
    cfg = DataConfig(corpus="tweets", tokenizer="char", max_len=70)
    lines, labels = corpus_lines(cfg, "train"), corpus_labels(cfg, "train")
    by_text = {}
    for x, y in zip(lines, labels, strict=True):
        by_text.setdefault(" ".join(x.split()), set()).add(y)
    vocab, splits = load_splits(cfg, splits=("train",), log=lambda *a: None)
    train = splits["train"]
    assert train.dropped > 1000 and len(train.labels) == len(train.ids)
    for ids, label in zip(train.ids, train.labels, strict=True):
        assert label in by_text["".join(vocab.decode(ids))]


def test_labelled_lines_for_arithmetic():
    cfg = DataConfig(corpus="chinese_reviews")
    s = SimpleNamespace(recipe=SimpleNamespace(data=cfg), split_lines=lambda split: corpus_lines(cfg, split),
                        run_path="run")
    neg, pos = labelled_lines(s, "valid", "neg"), labelled_lines(s, "valid", "pos")
    assert len(neg) + len(pos) == len(corpus_lines(cfg, "valid")) and set(neg).isdisjoint(pos)
    with pytest.raises(TextVAEError, match="labels: neg, pos"):
        labelled_lines(s, "valid", "positive")
    ptb = SimpleNamespace(recipe=SimpleNamespace(data=DataConfig(corpus="ptb")), run_path="run")
    with pytest.raises(TextVAEError, match="has no labels"):
        labelled_lines(ptb, "valid", "neg")


def test_chinese_split_script_is_deterministic_and_filters(tmp_path):
    rows = ["cat,label,review"] + [f"书籍,{i % 2},\ufeff这本书很好看第{i}次读" for i in range(40)]
    rows.append("书籍,0," + "很" * 3 + "，".join(["书"] * 45))  # 45+ words: dropped
    rows.append("书籍,1,")  # empty: left out
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
        counts = prepare(tmp_path / "in.csv", tmp_path / out)
    assert counts == {"dropped": 1, "valid": 2, "test": 4, "train": 34}
    for name in ("train.txt", "test.labels", "valid.categories"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "\ufeff" not in (tmp_path / "a" / "train.txt").read_text(encoding="utf-8")


def test_corpus_command(tmp_path):
    out = tmp_path / "lengths.png"
    result = runner.invoke(app, ["corpus", "tweets", "--plot", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["tokenizer"] == "char" and stats["splits"]["test"]["sentences"] == 1008
    assert stats["splits"]["train"]["length"]["max"] <= 127 and "lengths" not in stats["splits"]["train"]
    assert sum(stats["splits"]["valid"]["labels"].values()) == 1008
    assert out.read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["corpus", "nowhere", "--plot", str(tmp_path / "x.png")])
    assert bad.exit_code == 2 and "neither a registered corpus" in bad.stderr
    # the default tokenizer is read from data.corpus.STYLES: char only where the corpus is stored as characters
    assert [default_tokenizer(c) for c in ("tweets", "ptb", "chinese_reviews", "a/folder")] == \
        ["char", "word", "word", "word"]


def test_book_sentences_and_splits_are_deterministic(tmp_path):
    from textvae.data.books import book_sentences, prepare_book

    text = ("Header.\n*** START OF THIS BOOK ***\nChapter one.\n\nMr. Smith met Dr. Brown in St. Petersburg. "
            "\u201cHow are you?\u201d he asked\nquietly. They talked of the war and of A. Kutuzov's plans! "
            "It was late.\n*** END OF THIS BOOK ***\nLicence.")
    assert book_sentences(text) == ["Chapter one.", "Mr. Smith met Dr. Brown in St. Petersburg.",
                                    "\u201cHow are you?\u201d he asked quietly.",
                                    "They talked of the war and of A. Kutuzov's plans!", "It was late."]
    (tmp_path / "book.txt").write_text(text * 30, encoding="utf-8")
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
        counts = prepare_book(tmp_path / "book.txt", tmp_path / out)
    assert (tmp_path / "a" / "train.txt").read_bytes() == (tmp_path / "b" / "train.txt").read_bytes()
    kept = (tmp_path / "a" / "train.txt").read_text().splitlines()
    assert counts["train"] == len(kept) and all(5 <= len(x.split()) <= 30 for x in kept)
    assert '" how are you ? " he asked quietly .' in (tmp_path / "a" / "train.txt").read_text() + "".join(
        (tmp_path / "a" / f).read_text() for f in ("valid.txt", "test.txt"))
