"""Generation scores: fast-bleu against nltk, distinct-n by hand, and the generate-eval command."""

from __future__ import annotations

import json
import random

import pytest
from helpers import WORDS, tiny_recipe, write_corpus, write_recipe
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from typer.testing import CliRunner

from textvae.analysis.generation import bleu_scores, distinct_n, generation_scores
from textvae.cli import app


def _sentences(n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(WORDS[:6]) for _ in range(rng.randint(3, 9))] for _ in range(n)]


def test_bleu_and_self_bleu_match_nltk():
    samples, refs = _sentences(25, 0), _sentences(40, 1)
    smooth = SmoothingFunction().method1
    ours = bleu_scores(samples, refs)
    for n in (4, 5):
        w = tuple([1.0 / n] * n)
        bleu = sum(sentence_bleu(refs, s, w, smoothing_function=smooth) for s in samples) / len(samples)
        self_bleu = sum(sentence_bleu(samples[:i] + samples[i + 1 :], s, w, smoothing_function=smooth)
                        for i, s in enumerate(samples)) / len(samples)
        assert ours[f"bleu{n}"] == pytest.approx(100 * bleu, abs=1e-6)
        assert ours[f"self_bleu{n}"] == pytest.approx(100 * self_bleu, abs=1e-6)
    assert 0 < ours["bleu4"] < 100


def test_identical_samples_have_self_bleu_100_and_low_distinct():
    same = [["the", "cat", "sees", "a", "dog"]] * 5
    assert bleu_scores(same, same)["self_bleu4"] == pytest.approx(100.0)
    assert distinct_n(same, 1) == pytest.approx(5 / 25)
    assert distinct_n([["a", "b", "a"], ["a", "b"]], 2) == pytest.approx(2 / 3)  # (a,b) twice, (b,a) once
    scores = generation_scores(same, _sentences(3, 2))
    assert scores["mean_length"] == 5 and scores["samples"] == 5


def test_generate_eval_command(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 0}))
    runner = CliRunner()
    assert runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / "run")]).exit_code == 0
    result = runner.invoke(app, ["generate-eval", str(tmp_path / "run"), "--n", "20", "--refs", "5",
                                 "--method", "sample", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["samples"] == 20 and out["references"] == 5
    assert json.loads((tmp_path / "run" / "generate_eval.json").read_text())["bleu4"] == out["bleu4"]
    assert runner.invoke(app, ["generate-eval", str(tmp_path / "run"), "--n", "1"]).exit_code == 2
