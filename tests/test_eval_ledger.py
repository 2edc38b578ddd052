"""An evaluation cut short resumes where it stopped, with exactly an uninterrupted run's figures
(textvae.evaluation.ledger)."""

from __future__ import annotations

import importlib

import pytest
import torch
from helpers import bf16_lstm_runs

from textvae.config import EvalConfig
from textvae.data.corpus import Split
from textvae.evaluation.evaluate import evaluate
from textvae.evaluation.ledger import Ledger, weights_digest
from textvae.progress import Task

evaluate_module = importlib.import_module("textvae.evaluation.evaluate")  # the module, not the function


class Cut(Exception):
    """Stands for a kill in the middle of an evaluation."""


def _figures(out: dict) -> dict:
    return {k: v for k, v in out.items() if k != "seconds"}


def _run(model, split, ledger=None, k=4, bf16=False):
    return evaluate(model, split, EvalConfig(iw_samples=k, bf16=bf16), batch_size=3, show_progress=False,
                    ledger=ledger)


def _counting_nll_iw(monkeypatch, cut_at=None):
    """nll_iw that counts its calls (one per batch) and raises Cut on call number ``cut_at``."""
    real, calls = evaluate_module.nll_iw, []

    def counted(*args, **kwargs):
        calls.append(1)
        if cut_at is not None and len(calls) == cut_at:
            raise Cut
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "nll_iw", counted)
    return calls


@pytest.fixture
def data(make_model, make_sentences):
    return make_model("vae", vocab_size=12), Split("test", make_sentences(14, vocab_size=12, seed=3))


def test_a_cut_evaluation_resumes_with_the_uninterrupted_figures(tmp_path, monkeypatch, data):
    model, split = data
    whole = _run(model, split)
    ledger = tmp_path / "eval_test.ledger"
    _counting_nll_iw(monkeypatch, cut_at=3)
    with pytest.raises(Cut):
        _run(model, split, ledger)
    saved = torch.load(ledger, weights_only=True)
    assert sorted(saved["done"]) == [0, 1] and saved["settings"]["iw_samples"] == 4
    assert Ledger(ledger, {**saved["settings"], "seed": 7}).done == {}  # another evaluation's: not taken
    calls = _counting_nll_iw(monkeypatch)
    resumed = _run(model, split, ledger)
    assert _figures(resumed) == _figures(whole)
    assert len(calls) == 5 - 2  # 14 sentences in batches of 3: 5 batches, 2 of them done before the cut
    assert not ledger.exists()  # removed once the evaluation ended


def test_a_ledger_of_other_settings_or_weights_is_not_used(tmp_path, monkeypatch, data, make_model):
    model, split = data
    ledger = tmp_path / "eval_test.ledger"
    _counting_nll_iw(monkeypatch, cut_at=3)
    with pytest.raises(Cut):
        _run(model, split, ledger, k=5)
    calls = _counting_nll_iw(monkeypatch)
    assert _figures(_run(model, split, ledger, k=4)) == _figures(_run(model, split, k=4))
    assert len(calls) == 5 + 5  # K differs: every batch computed again (and again without a ledger)
    _counting_nll_iw(monkeypatch, cut_at=2)
    with pytest.raises(Cut):
        _run(model, split, ledger)
    other = make_model("vae", vocab_size=12, seed=1)
    assert weights_digest(other) != weights_digest(model)
    calls = _counting_nll_iw(monkeypatch)
    _run(other, split, ledger)
    assert len(calls) == 5


def test_a_resumed_evaluation_keeps_the_precision_chosen_at_its_start(tmp_path, monkeypatch, data):
    model, split = data
    ledger = tmp_path / "eval_test.ledger"
    # a choice of bf16 where it runs here (on a CPU without AVX-512 oneDNN has no bf16 LSTM: fp32 then)
    chosen = {"setting": "auto", "bf16": bf16_lstm_runs(), "fp32_s": 1.0, "bf16_s": 0.5, "bias": 0.0}
    monkeypatch.setattr(evaluate_module, "iw_precision", lambda *a: (chosen["bf16"], dict(chosen)))
    _counting_nll_iw(monkeypatch, cut_at=2)
    with pytest.raises(Cut):
        _run(model, split, ledger, bf16="auto")

    def no_probe(*args):
        raise AssertionError("a resumed evaluation probed the precision again")

    monkeypatch.setattr(evaluate_module, "iw_precision", no_probe)
    _counting_nll_iw(monkeypatch)
    assert _run(model, split, ledger, bf16="auto")["iw_precision"] == chosen


def test_progress_counts_skipped_work_as_done_but_not_in_the_rate():
    t = Task("x", 100, "tokens")
    t.skip(60)
    t.start -= 10.0  # ten seconds ago
    t.done += 20
    assert t.done == 80 and t.rate() == pytest.approx(2.0, rel=0.01)
