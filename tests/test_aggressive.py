"""Aggressive inference-network training (He et al. 2019): encoder-only inner steps until the encoder's loss
stops falling, decoder-only outer steps, the phase ending when the validation MI stops rising."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import tiny_recipe, write_corpus
from test_resume import TIMING, Crash, _trainer

from textvae.config import from_dict
from textvae.config.sections import Recipe
from textvae.data.batching import make_batch
from textvae.errors import TextVAEError
from textvae.objectives.objective import Objective
from textvae.training import aggressive
from textvae.training.step import grads_only_for, train_step


def test_inner_steps_stop_when_the_loss_per_token_stops_falling():
    seqs = [[4, 5, 6]] * 8  # 4 target tokens a sentence
    batches = [[0, 1], [2, 3], [4, 5], [6, 7]]
    every = aggressive.CHECK_EVERY
    # per-sentence losses: 40 over the first window; 20 over the second; then rising again
    losses = [40.0] * every + [20.0] * every + [30.0] * every + [10.0] * 100
    seen = []

    def run_step(batch):
        seen.append(batch.size)
        return {"loss": torch.tensor(losses[len(seen) - 1])}

    steps, tokens = aggressive.encoder_steps(run_step, seqs, batches, 100, torch.Generator().manual_seed(0), "cpu")
    assert steps == 3 * every and tokens == steps * 2 * 4  # the third check (30 >= 20 per sentence) stops it
    assert aggressive.encoder_steps(lambda b: {"loss": torch.tensor(1.0)}, seqs, batches, 7,
                                    torch.Generator().manual_seed(0), "cpu")[0] == 7  # the cap


def test_an_encoder_step_leaves_the_decoder_and_its_optimiser_state_alone(make_model):
    model = make_model("vae", vocab_size=10, seed=0, latent_dim=3)
    objective = Objective.from_config(from_dict(Recipe, tiny_recipe(Path("unused"))).objective, model)
    opt = torch.optim.Adam([*model.parameters(), *objective.parameters()], lr=0.01)
    enc, dec = aggressive.part_params(model, objective)
    assert {id(p) for p in enc} | {id(p) for p in dec} == {id(p) for p in model.parameters()}
    before = [p.detach().clone() for p in model.parameters()]
    batch = make_batch([[4, 5, 6], [7, 8]], [0, 1])
    train_step(model, objective, opt, batch, 0, 5.0, torch.autocast("cpu", enabled=False), only=enc)
    changed = {id(p) for p, b in zip(model.parameters(), before, strict=True) if not torch.equal(p, b)}
    assert changed and changed <= {id(p) for p in enc}
    assert all(p not in opt.state for p in dec)


@pytest.mark.parametrize("part", [0, 1])  # 0: an encoder step, 1: a decoder step
def test_a_part_step_tracks_only_its_part_and_gets_the_same_gradients(make_model, part):
    model = make_model("vae", vocab_size=10, seed=0, latent_dim=3)
    objective = Objective.from_config(from_dict(Recipe, tiny_recipe(Path("unused"))).objective, model)
    params = [*model.parameters(), *objective.parameters()]
    only = aggressive.part_params(model, objective)[part]
    batch = make_batch([[4, 5, 6], [7, 8, 9, 4]], [0, 1])

    def grads(tracked):
        for p in params:
            p.grad = None
        seen = []
        hook = model.encoder.register_forward_hook(lambda m, i, out: seen.append(out.requires_grad))
        torch.manual_seed(1)  # the same z both times
        with grads_only_for(params, tracked):
            objective(model, batch, 0)[0].backward()
        hook.remove()
        return [None if p.grad is None else p.grad.clone() for p in params], seen[0]

    full, enc_tracked_full = grads(None)
    mine, enc_tracked = grads(only)
    keep = {id(p) for p in only}
    for p, f, m in zip(params, full, mine, strict=True):
        if id(p) in keep:
            torch.testing.assert_close(m, f, rtol=1e-6, atol=1e-7)
        else:
            assert m is None  # never computed
    assert all(p.requires_grad for p in params)  # restored
    assert enc_tracked_full and enc_tracked == (part == 0)  # a decoder step builds no graph through the encoder


def test_grads_only_for_restores_tracking_after_an_error(make_model):
    model = make_model("vae", vocab_size=10, seed=0, latent_dim=3)
    params = list(model.parameters())
    with pytest.raises(RuntimeError), grads_only_for(params, params[:1]):
        assert not params[1].requires_grad
        raise RuntimeError("boom")
    assert all(p.requires_grad for p in params)


def _recipe(tmp_path, **train):
    corpus = write_corpus(tmp_path / "corpus")
    return from_dict(Recipe, tiny_recipe(corpus, model={"decoder": {"dropout": 0.1}},
                                         train={"epochs": 3, "aggressive": True, "aggressive_steps": 20, **train}))


def test_aggressive_training_resumes_exactly_and_ends_when_mi_stops_rising(tmp_path):
    torch.set_num_threads(1)
    recipe = _recipe(tmp_path)
    whole = _trainer(recipe, tmp_path / "whole")
    whole.fit()
    log = [json.loads(x) for x in (tmp_path / "whole/metrics.jsonl").read_text().splitlines()]
    mis = [r["mi"] for r in log if r["kind"] == "valid"]
    rising = all(b > a for a, b in zip(mis, mis[1:], strict=False))
    assert whole.state.aggressive == rising  # on while the MI rises, off for good once it does not
    plain = _trainer(from_dict(Recipe, {**tiny_recipe(recipe.data.corpus), "train": {"epochs": 1}}),
                     tmp_path / "plain")
    plain.fit()
    # the inner steps' tokens count: an aggressive epoch trains on many more tokens than a plain one
    first_epoch = [r for r in log if r["kind"] == "train" and r["epoch"] == 1]
    assert sum(r["tokens"] for r in first_epoch) > 2 * plain.state.train_tokens

    def crash_at_7(step):
        if step == 7:
            raise Crash

    first = _trainer(recipe, tmp_path / "cut", on_step=crash_at_7)
    with pytest.raises(Crash):
        first.fit()
    resumed = _trainer(recipe, tmp_path / "cut", vocab=first.vocab)
    resumed.resume()
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_cut = [json.loads(x) for x in (tmp_path / "cut/metrics.jsonl").read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]  # noqa: E731
    assert strip(log) == strip(log_cut)


def test_aggressive_needs_a_vae_and_no_accumulation(tmp_path):
    from textvae.config.loader import check_ranges

    corpus = write_corpus(tmp_path / "corpus")
    for changes, message in (({"model": {"type": "lm"}}, "model.type must be vae, not lm"),
                             ({"train": {"accumulate": 2}}, "train.accumulate > 1 is not supported")):
        raw = tiny_recipe(corpus, train={"aggressive": True}, **{k: v for k, v in changes.items() if k == "model"})
        raw["train"].update(changes.get("train", {}))
        with pytest.raises(TextVAEError, match=message):
            check_ranges(from_dict(Recipe, raw), "r.yaml")
