"""Prepared corpora (textvae prepare): streamed, sharded, memory-mapped; resumable to byte-identical files; the
same sentences, batches and training result as the text corpus they came from."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config import DataConfig
from textvae.data.batching import bucket_order, iterate_batches
from textvae.data.prepared import prepare
from textvae.errors import TextVAEError
from textvae.pipeline import load_splits

runner = CliRunner()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("settings", [{}, {"max_len": 5, "reverse": True}, {"vocab_size": 8, "lower": True},
                                      {"cut": True, "max_len": 4}])
def test_a_prepared_corpus_gives_the_same_splits_and_batches_as_its_text(tmp_path, settings):
    corpus = write_corpus(tmp_path / "c", n_train=50)
    base = {k: v for k, v in settings.items() if k in ("vocab_size", "lower")}
    prepare([str(corpus)], tmp_path / "p", DataConfig(corpus=str(corpus), **base), shard_sentences=7)
    text_vocab, text = load_splits(DataConfig(corpus=str(corpus), **settings))
    prep_vocab, prep = load_splits(DataConfig(corpus=str(tmp_path / "p"), **settings))
    assert prep_vocab.itos == text_vocab.itos
    for split in ("train", "valid", "test"):
        assert list(prep[split].ids) == text[split].ids and prep[split].dropped == text[split].dropped
        assert prep[split].n_tokens == text[split].n_tokens
        a = bucket_order(text[split].lengths(), 8, True, seed=3, epoch=1)
        b = bucket_order(prep[split].lengths(), 8, True, seed=3, epoch=1)
        assert a == b
        for (_, x), (_, y) in zip(iterate_batches(text[split].ids, a), iterate_batches(prep[split].ids, b),
                                  strict=True):
            assert torch.equal(x.inp, y.inp) and torch.equal(x.tgt, y.tgt)


def test_files_plain_and_gzip_split_as_a_single_file_corpus_is(tmp_path):
    lines = [f"w{i % 13} w{i % 7} w{i % 5}" for i in range(300)]
    (tmp_path / "a.txt").write_text("\n".join(lines[:120]) + "\n")
    with gzip.open(tmp_path / "b.txt.gz", "wt") as f:
        f.write("\n\n".join(lines[120:]) + "\n")  # blank lines are skipped, as in a text corpus
    (tmp_path / "all.txt").write_text("\n".join(lines) + "\n")
    cfg = DataConfig(corpus=str(tmp_path / "all.txt"), split_seed=4)
    prepare([str(tmp_path / "a.txt"), str(tmp_path / "b.txt.gz")], tmp_path / "p", cfg, shard_sentences=50)
    _, text = load_splits(cfg)
    _, prep = load_splits(DataConfig(corpus=str(tmp_path / "p"), split_seed=4))
    for split in ("train", "valid", "test"):
        assert list(prep[split].ids) == text[split].ids


def test_an_interrupted_preparation_resumes_to_byte_identical_files(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=400, n_eval=40)
    whole = tmp_path / "whole"
    prepare([str(corpus)], whole, DataConfig(corpus=str(corpus)), shard_sentences=30)
    out = tmp_path / "resumed"
    script = (f"import os; from textvae.data import prepared as p; from textvae.config import DataConfig\n"
              f"real = p._write_array\n"
              f"def die(path, a):\n"
              f"    real(path, a)\n"
              f"    if path.name == 'train-00005.off': os._exit(9)\n"
              f"p._write_array = die\n"
              f"p.prepare([{str(corpus)!r}], {str(out)!r}, DataConfig(corpus={str(corpus)!r}), shard_sentences=30)\n")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    assert not (out / "manifest.json").exists() and (out / "progress.json").is_file()
    assert len(json.loads((out / "progress.json").read_text())["splits"]["train"]) == 5  # shard 5 not recorded
    with pytest.raises(TextVAEError, match="interrupted preparation"):
        prepare([str(corpus)], out, DataConfig(corpus=str(corpus), lower=True), shard_sentences=30)
    prepare([str(corpus)], out, DataConfig(corpus=str(corpus)), shard_sentences=30)
    assert _files(out) == _files(whole)


def test_a_recipe_must_agree_with_the_prepared_settings(tmp_path):
    corpus = write_corpus(tmp_path / "c")
    prepare([str(corpus)], tmp_path / "p", DataConfig(corpus=str(corpus), vocab_size=9))
    with pytest.raises(TextVAEError, match=r"data.vocab_size: 0, but .* was prepared with 9"):
        load_splits(DataConfig(corpus=str(tmp_path / "p")))
    with pytest.raises(TextVAEError, match="already holds a prepared corpus"):
        prepare([str(corpus)], tmp_path / "p", DataConfig(corpus=str(corpus), vocab_size=9))


def test_training_from_a_prepared_corpus_ends_where_training_from_its_text_ends(tmp_path):
    corpus = write_corpus(tmp_path / "c")
    out = runner.invoke(app, ["prepare", str(corpus), "--out", str(tmp_path / "p"), "--shard-sentences", "16",
                              "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["splits"]["train"]["sentences"] == 60
    weights = []
    for name, source in (("text", corpus), ("prepared", tmp_path / "p")):
        recipe = write_recipe(tmp_path / f"{name}.yaml", tiny_recipe(source, eval={"iw_samples": 0}))
        result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        from safetensors.torch import load_file

        weights.append(load_file(tmp_path / name / "best.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize("args, says", [
    (["prepare", "nope", "--out", "p"], "nope: neither a registered corpus"),
    (["prepare", "ptb", "--out", "p", "--shard-sentences", "0"], "--shard-sentences: must be >= 1"),
    (["prepare", "ptb", "--out", "p", "--tokenizer", "bpe"], "--tokenizer"),
])
def test_bad_prepare_input_is_one_line(tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()  # a failed start leaves no folder behind


def test_worker_processes_write_the_same_files(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=9000, n_eval=300)
    prepare([str(corpus)], tmp_path / "one", DataConfig(corpus=str(corpus)), shard_sentences=2500)
    prepare([str(corpus)], tmp_path / "two", DataConfig(corpus=str(corpus)), shard_sentences=2500, workers=2)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
