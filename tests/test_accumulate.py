"""Gradient accumulation (train.accumulate) and the FLOPs and utilisation in the training log."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app

runner = CliRunner()
COMMON = {"model": {"type": "lm"}, "objective": {"word_dropout": {"keep": 1.0}},
          "train": {"epochs": 2, "threads": 1, "checkpoint_every": 1000}, "eval": {"iw_samples": 0}}


def _train(tmp_path, name: str, corpus, batch: int, accumulate: int):
    raw = tiny_recipe(corpus, data={"batch_size": batch}, **COMMON)
    raw["train"]["accumulate"] = accumulate
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / f"{name}.yaml", raw)), "--out",
                                 str(tmp_path / name)])
    assert result.exit_code == 0, result.output
    return torch.load(tmp_path / name / "checkpoint.pt", weights_only=False)


def test_accumulating_two_parts_equals_one_batch_of_both(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=64)
    whole, parts = _train(tmp_path, "whole", corpus, 8, 1), _train(tmp_path, "parts", corpus, 4, 2)
    assert whole["step"] == parts["step"] == 16
    for k, v in whole["model"].items():
        torch.testing.assert_close(v, parts["model"][k], rtol=1e-4, atol=1e-5, msg=k)
    single = _train(tmp_path, "single", corpus, 4, 1)  # the same batch size without accumulation differs
    assert single["step"] == 32 and not all(torch.allclose(v, single["model"][k]) for k, v in whole["model"].items())


def test_the_training_log_reports_flops_per_token_and_utilisation(tmp_path):
    corpus = write_corpus(tmp_path / "c", n_train=64)
    _train(tmp_path, "run", corpus, 8, 1)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    hidden, vocab = 16, 16  # the tiny recipe's decoder and its vocabulary (12 words and 4 specials)
    for r in train:
        # the output layer alone costs 6 H V per target token (forward 2, backward 4); padding only adds
        assert 6 * hidden * vocab <= r["flops_per_token"] < 1e6
        assert 0 < r["utilisation"] < 1 and r["gflops"] == pytest.approx(r["utilisation"] * r["peak_gflops"], rel=1e-6)


def test_a_vae_accumulates_its_logged_numbers_too(tmp_path):
    """The VAE's objective logs the KL weight as a plain number beside tensors: the parts' logs still add up."""
    corpus = write_corpus(tmp_path / "c", n_train=64)
    raw = tiny_recipe(corpus, data={"batch_size": 4}, train={"accumulate": 2, "epochs": 1, "threads": 1},
                      eval={"iw_samples": 0})
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / "vae.yaml", raw)), "--out",
                                 str(tmp_path / "vae")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "vae" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    # linear KL weight over 10 steps, logged every 2 steps: the mean of the window's weights, as without parts
    assert [round(r["kl_weight"], 6) for r in train[:3]] == [0.05, 0.25, 0.45]
