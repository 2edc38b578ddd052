"""An interrupted run resumes to bitwise-identical weights on CPU."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import tiny_recipe, write_corpus

from textvae.config import Recipe, from_dict
from textvae.models.build import build_model
from textvae.pipeline import load_splits
from textvae.run import Run
from textvae.training.trainer import Trainer, seed_everything


class Crash(Exception):
    pass


def _trainer(recipe: Recipe, run_dir, on_step=None, vocab=None):
    vocab, splits = load_splits(recipe.data, vocab, splits=("train", "valid"), log=lambda *a: None)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(recipe.train.seed)
    model = build_model(recipe.model, len(vocab))
    return Trainer(recipe, model, vocab, splits, Run(run_dir), "cpu", on_step=on_step, log=lambda *a: None)


@pytest.mark.parametrize("model_type,objective", [
    ("vae", {}), ("lm", {}),
    ("vae", {"bow": {"weight": 0.5, "hidden": 8}, "mu_forcing": {"beta": 1.0}, "free_bits": {"per_dim": 0.1},
             "kl_weight": {"schedule": "cyclical", "steps": 12, "cycles": 3}}),
], ids=["vae", "lm", "vae+bow+mu+fb+cyclical"])
def test_resume_is_bitwise_identical(tmp_path, model_type, objective):
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    recipe = from_dict(Recipe, tiny_recipe(corpus, model={"type": model_type, "decoder": {"dropout": 0.1}},
                                           objective=objective))

    whole = _trainer(recipe, tmp_path / "whole")
    whole.fit()

    def crash_at_7(step):
        if step == 7:  # mid-epoch, one step after the checkpoint at step 6
            raise Crash

    first = _trainer(recipe, tmp_path / "cut", on_step=crash_at_7)
    with pytest.raises(Crash):
        first.fit()
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "train", "step": 8, "rec"')  # a line cut short by the kill
    resumed = _trainer(recipe, tmp_path / "cut", vocab=first.vocab)
    resumed.resume()
    assert resumed.state["step"] == 6
    resumed.fit()

    assert resumed.state["step"] == whole.state["step"] > 7
    assert resumed.state["train_tokens"] == whole.state["train_tokens"]
    for a, b in ((whole.model.state_dict(), resumed.model.state_dict()),
                 (whole.objective.state_dict(), resumed.objective.state_dict())):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert bool(objective.get("bow")) == bool(whole.objective.state_dict())  # the BOW head is compared too
    log_whole = [json.loads(x) for x in (tmp_path / "whole/metrics.jsonl").read_text().splitlines()]
    log_cut = [json.loads(x) for x in (tmp_path / "cut/metrics.jsonl").read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("tokens_per_s", "seconds", "time")} for r in rows]  # noqa: E731
    assert strip(log_whole) == strip(log_cut)


def test_best_checkpoint_and_early_stop(tmp_path):
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    recipe = from_dict(Recipe, tiny_recipe(corpus, train={"epochs": 50, "early_stop": 1, "lr": 0.5,
                                                          "optimizer": "sgd", "lr_decay": 1.0}))
    trainer = _trainer(recipe, tmp_path / "run")
    trainer.fit()
    rows = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    valid = [r for r in rows if r["kind"] == "valid"]
    assert len(valid) < 50, "early stopping never triggered"
    assert not valid[-1]["best"]
    assert (tmp_path / "run/best.safetensors").is_file()
    assert trainer.state["best"] == min(r["neg_elbo"] for r in valid)


def test_finished_run_trains_on_when_its_epoch_cap_is_raised(tmp_path):
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    cfg = tiny_recipe(corpus)
    cfg["train"].update(epochs=1, max_steps=0, early_stop=0)
    first = _trainer(from_dict(Recipe, cfg), tmp_path / "run")
    first.fit()
    assert first.state["finished"] and first.state["epoch"] == 1
    again = _trainer(from_dict(Recipe, cfg), tmp_path / "run", vocab=first.vocab)
    again.resume()
    assert again.state["finished"]  # same cap: nothing left to do
    cfg["train"]["epochs"] = 2
    longer = _trainer(from_dict(Recipe, cfg), tmp_path / "run", vocab=first.vocab)
    longer.resume()
    assert not longer.state["finished"]
    longer.fit()
    assert longer.state["epoch"] == 2 and longer.state["step"] == 2 * first.state["step"]
