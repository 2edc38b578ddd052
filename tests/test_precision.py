"""train.bf16: auto picks bf16 only when a probe of the training pass finds it clearly faster, and probing
changes nothing else about the run; eval.bf16: auto also needs nll_iw to move by under 0.05 nats per sentence."""

from __future__ import annotations

import importlib
import math

import pytest
import torch
from helpers import bf16_lstm_runs, tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

import textvae.precision as precision
from textvae.cli import app
from textvae.cli.format import format_metrics
from textvae.config import EvalConfig
from textvae.config.loader import from_dict
from textvae.config.sections import TrainConfig
from textvae.data.corpus import Split
from textvae.errors import TextVAEError
from textvae.evaluation.evaluate import evaluate

runner = CliRunner()
evaluate_module = importlib.import_module("textvae.evaluation.evaluate")  # the module, not the function


needs_bf16 = pytest.mark.skipif(not bf16_lstm_runs(), reason="bf16 autocast does not run an LSTM on this machine")


def _no_bf16(bf16):
    """A pass that fails under bf16 as oneDNN does on a CPU without AVX-512."""
    if bf16:
        raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive.\nmore")


def test_explicit_false_is_taken_without_a_probe_and_true_after_one_checking_pass():
    calls = []

    def never(bf16):
        raise AssertionError("probed")

    assert precision.choose_bf16(False, never, "cpu")[0] is False
    assert precision.choose_bf16(True, calls.append, "cpu")[0] is True and calls == [True]


def test_where_bf16_does_not_run_auto_chooses_fp32_and_says_why_and_true_is_a_one_line_error():
    use, why = precision.choose_bf16("auto", _no_bf16, "cpu")
    assert use is False and why.startswith("train.bf16 auto: fp32 (bf16 autocast does not run on this machine: "
                                           "could not create a primitive descriptor")
    assert "more" not in why  # the first line of the error only
    with pytest.raises(TextVAEError, match=r"^train.bf16: true, but bf16 autocast does not run on this machine"):
        precision.choose_bf16(True, _no_bf16, "cpu")
    t = precision.time_passes(_no_bf16, "cpu")
    assert t["bf16"] == math.inf and 0 < t["fp32"] < math.inf and "primitive descriptor" in t["bf16_error"]


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


def test_where_bf16_cannot_run_a_start_with_true_fails_leaving_nothing_and_auto_trains_in_fp32(tmp_path,
                                                                                                  monkeypatch):
    real = torch.nn.LSTM.forward

    def forward(self, *args, **kwargs):  # as oneDNN on a CPU without AVX-512
        _no_bf16(torch.is_autocast_enabled("cpu"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.LSTM, "forward", forward)
    corpus = write_corpus(tmp_path / "c", n_train=32)
    raw = tiny_recipe(corpus, train={"epochs": 1, "threads": 1, "bf16": True}, eval={"iw_samples": 0})
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / "on.yaml", raw)), "--out",
                                 str(tmp_path / "runs" / "on")])
    assert result.exit_code == 2 and "error: train.bf16: true, but bf16 autocast does not run" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no folder, no staging
    result, auto = _train(tmp_path, "auto", corpus, "auto")
    assert auto["bf16"] is False and "train.bf16 auto: fp32 (bf16 autocast does not run" in result.output


def test_a_run_that_probed_and_chose_fp32_trains_exactly_as_fp32(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "c", n_train=32)
    monkeypatch.setattr(precision, "MARGIN", 0.0)  # the real probe runs, and bf16 cannot win
    result, auto = _train(tmp_path, "auto", corpus, "auto")
    assert auto["bf16"] is False and "train.bf16 auto: fp32" in result.output
    _, plain = _train(tmp_path, "plain", corpus, False)
    for k, v in plain["model"].items():
        assert torch.equal(v, auto["model"][k]), k


# --- eval.bf16: nll_iw under bf16 only where it is faster and moves the estimate by under 0.05 nats -----------------


def _evaluate(make_model, make_sentences, bf16):
    model = make_model("vae", vocab_size=12)
    split = Split("test", make_sentences(12, vocab_size=12, seed=2))
    return evaluate(model, split, EvalConfig(iw_samples=4, bf16=bf16), batch_size=4, show_progress=False)


def _fake_timing(fp32, bf16):
    def time_passes(run, device, rounds=3):
        run(False)
        run(True)
        return {"fp32": fp32, "bf16": bf16}

    return time_passes


@needs_bf16
@pytest.mark.parametrize(("bf16_s", "limit", "chosen"), [(0.5, 1e9, True), (0.95, 1e9, False), (0.5, 0.0, False)])
def test_eval_auto_needs_both_speed_and_a_small_bias(monkeypatch, make_model, make_sentences, bf16_s, limit, chosen):
    monkeypatch.setattr(precision, "time_passes", _fake_timing(1.0, bf16_s))
    monkeypatch.setattr(evaluate_module, "BF16_BIAS_LIMIT", limit)
    p = _evaluate(make_model, make_sentences, "auto")["iw_precision"]
    assert p["setting"] == "auto" and p["bf16"] is chosen and (p["fp32_s"], p["bf16_s"]) == (1.0, bf16_s)
    assert math.isfinite(p["bias"])


def test_eval_auto_that_chose_fp32_gives_the_fp32_figures(monkeypatch, make_model, make_sentences):
    monkeypatch.setattr(evaluate_module, "BF16_BIAS_LIMIT", 0.0)  # the real probe runs, and bf16 cannot win
    auto = _evaluate(make_model, make_sentences, "auto")
    plain = _evaluate(make_model, make_sentences, False)
    assert auto["iw_precision"]["bf16"] is False and plain["iw_precision"] == {"setting": False, "bf16": False}
    assert auto["nll_iw"] == plain["nll_iw"] and auto["rec"] == plain["rec"]


def test_eval_where_bf16_does_not_run_auto_gives_the_fp32_figures_and_true_is_an_error(monkeypatch, make_model,
                                                                                       make_sentences):
    real = evaluate_module.nll_iw

    def nll_iw(*args, **kwargs):
        _no_bf16(torch.is_autocast_enabled("cpu"))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "nll_iw", nll_iw)
    auto = _evaluate(make_model, make_sentences, "auto")
    plain = _evaluate(make_model, make_sentences, False)
    p = auto["iw_precision"]
    assert p["bf16"] is False and "primitive descriptor" in p["bf16_error"] and auto["nll_iw"] == plain["nll_iw"]
    assert "eval.bf16 auto chose fp32 for nll_iw (bf16 autocast does not run on this machine" in format_metrics(auto)
    with pytest.raises(TextVAEError, match=r"^eval.bf16: true, but bf16 autocast does not run"):
        _evaluate(make_model, make_sentences, True)


@needs_bf16
def test_eval_bf16_estimate_stays_near_fp32_and_its_bias_is_measured_on_the_same_samples(make_model, make_sentences):
    on = _evaluate(make_model, make_sentences, True)
    off = _evaluate(make_model, make_sentences, False)
    assert on["iw_precision"] == {"setting": True, "bf16": True}
    assert on["nll_iw"] != off["nll_iw"] and on["nll_iw"] == pytest.approx(off["nll_iw"], abs=0.1)
    assert on["rec"] == off["rec"]  # only nll_iw runs under bf16


def test_eval_bf16_option_and_recipe_values():
    assert from_dict(EvalConfig, {"bf16": "auto"}).bf16 == "auto"
    with pytest.raises(TextVAEError, match=r"'bf16' must be bool or one of 'auto', got 'fast'"):
        from_dict(EvalConfig, {"bf16": "fast"})
    result = runner.invoke(app, ["evaluate", "no_such_run", "--bf16", "maybe"])
    assert result.exit_code != 0 and "--bf16: must be true, false or auto, got 'maybe'" in result.output
