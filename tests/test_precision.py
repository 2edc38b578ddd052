"""train.bf16: auto picks bf16 only when a probe of the training pass finds it clearly faster, and probing
changes nothing else about the run."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

import textvae.training.precision as precision
from textvae.cli import app
from textvae.config.loader import from_dict
from textvae.config.sections import TrainConfig
from textvae.errors import TextVAEError

runner = CliRunner()


def test_explicit_settings_are_taken_without_a_probe():
    def never(bf16):
        raise AssertionError("probed")

    assert precision.choose_bf16(True, never, "cpu")[0] is True
    assert precision.choose_bf16(False, never, "cpu")[0] is False


@pytest.mark.parametrize(("fp32", "bf16", "chosen"), [(1.0, 0.5, True), (1.0, 0.95, False), (1.0, 3.0, False)])
def test_auto_picks_bf16_only_under_the_margin(monkeypatch, fp32, bf16, chosen):
    monkeypatch.setattr(precision, "time_passes", lambda run, device: {"fp32": fp32, "bf16": bf16})
    use, why = precision.choose_bf16("auto", lambda b: None, "cpu")
    assert use is chosen and ("bf16 (" if chosen else "fp32 (") in why


def test_timing_the_passes_restores_the_rng():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    calls = []
    best = precision.time_passes(lambda b: calls.append((b, torch.rand(1))), "cpu", rounds=2)
    assert torch.equal(torch.rand(4), expected)
    assert [b for b, _ in calls] == [False, True] * 3 and best["fp32"] > 0 and best["bf16"] > 0


def test_the_recipe_accepts_true_false_and_auto_only():
    assert from_dict(TrainConfig, {"bf16": "auto"}).bf16 == "auto"
    assert from_dict(TrainConfig, {"bf16": True}).bf16 is True
    with pytest.raises(TextVAEError, match=r"'bf16' must be bool or one of 'auto', got 'yes'"):
        from_dict(TrainConfig, {"bf16": "yes"})


def _train(tmp_path, name, corpus, bf16):
    raw = tiny_recipe(corpus, train={"epochs": 1, "threads": 1, "bf16": bf16}, eval={"iw_samples": 0})
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / f"{name}.yaml", raw)), "--out",
                                 str(tmp_path / name)])
    assert result.exit_code == 0, result.output
    return result, torch.load(tmp_path / name / "checkpoint.pt", weights_only=False)


def test_a_run_that_probed_and_chose_fp32_trains_exactly_as_fp32(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "c", n_train=32)
    monkeypatch.setattr(precision, "MARGIN", 0.0)  # the real probe runs, and bf16 cannot win
    result, auto = _train(tmp_path, "auto", corpus, "auto")
    assert auto["bf16"] is False and "train.bf16 auto: fp32" in result.output
    _, plain = _train(tmp_path, "plain", corpus, False)
    for k, v in plain["model"].items():
        assert torch.equal(v, auto["model"][k]), k
