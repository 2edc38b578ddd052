"""An interrupted run resumes to bitwise-identical weights on CPU."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from helpers import tiny_recipe, write_corpus
from safetensors.torch import load_file

from textvae.config import Recipe, from_dict, recipe_to_yaml
from textvae.models.build import build_model
from textvae.pipeline import load_splits
from textvae.run import Run
from textvae.training.trainer import Trainer, TrainingDiverged, TrainingInterrupted, seed_everything


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
    assert resumed.state.step == 6
    resumed.fit()

    assert resumed.state.step == whole.state.step > 7
    assert resumed.state.train_tokens == whole.state.train_tokens
    for a, b in ((whole.model.state_dict(), resumed.model.state_dict()),
                 (whole.objective.state_dict(), resumed.objective.state_dict())):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert bool(objective.get("bow")) == bool(whole.objective.state_dict())  # the BOW head is compared too
    log_whole = [json.loads(x) for x in (tmp_path / "whole/metrics.jsonl").read_text().splitlines()]
    log_cut = [json.loads(x) for x in (tmp_path / "cut/metrics.jsonl").read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]  # noqa: E731
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
    assert trainer.state.best == min(r["neg_elbo"] for r in valid)


@pytest.mark.parametrize("reload", [True, False])
def test_decay_reload_goes_on_from_the_best_weights_and_max_decays_stops(tmp_path, reload):
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    recipe = from_dict(Recipe, tiny_recipe(corpus, train={
        "epochs": 60, "early_stop": 0, "lr": 1.0, "optimizer": "sgd", "lr_decay": 0.5, "lr_patience": 0,
        "min_lr": 0.0, "decay_reload": reload, "max_decays": 2}))
    trainer = _trainer(recipe, tmp_path / "run")
    trainer.fit()
    valid = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    valid = [r for r in valid if r["kind"] == "valid"]
    assert trainer.state.decays == 2 and len(valid) < 60  # stopped by max_decays
    assert [r["lr"] for r in valid].count(0.25) == 1 and not valid[-1]["best"]
    best = load_file(str(tmp_path / "run/best.safetensors"))
    now = trainer.model.state_dict()
    same = all(torch.equal(now[k], best[k]) for k in best)
    assert same == reload  # the last decay reloaded the best weights, and the run stopped there


def test_decay_from_holds_the_rate_for_its_epochs_counting_bad_ones(tmp_path):
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    patience, wait = 1, 5
    recipe = from_dict(Recipe, tiny_recipe(corpus, train={
        "epochs": 14, "early_stop": 0, "lr": 1.0, "optimizer": "sgd", "lr_decay": 0.5, "lr_patience": patience,
        "min_lr": 0.0, "max_decays": 1, "decay_from": wait}))
    _trainer(recipe, tmp_path / "run").fit()
    rows = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    valid = [r for r in rows if r["kind"] == "valid"]
    bad_run, expected, held = 0, None, False  # the first epoch (0-based) from the wait on ending too long a bad run
    for i, r in enumerate(valid):
        bad_run = 0 if r["best"] else bad_run + 1
        held |= i < wait and bad_run > patience  # a decay the wait held back
        if i >= wait and bad_run > patience:
            expected = i
            break
    assert held and expected == wait  # the bad epochs of the wait counted: it decayed as soon as it could
    assert [r["lr"] for r in valid] == [1.0] * expected + [0.5] and len(valid) == expected + 1


def test_finished_run_trains_on_when_its_epoch_cap_is_raised(tmp_path):
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    cfg = tiny_recipe(corpus)
    cfg["train"].update(epochs=1, max_steps=0, early_stop=0)
    first = _trainer(from_dict(Recipe, cfg), tmp_path / "run")
    first.fit()
    assert first.state.finished and first.state.epoch == 1
    again = _trainer(from_dict(Recipe, cfg), tmp_path / "run", vocab=first.vocab)
    again.resume()
    assert again.state.finished  # same cap: nothing left to do
    cfg["train"]["epochs"] = 2
    longer = _trainer(from_dict(Recipe, cfg), tmp_path / "run", vocab=first.vocab)
    longer.resume()
    assert not longer.state.finished
    longer.fit()
    assert longer.state.epoch == 2 and longer.state.step == 2 * first.state.step


# --- kill-anywhere resume: every step, the step cap, the validation line, signals, temporaries --------------------

TIMING = ("tokens_per_s", "seconds", "time", "flops_per_token", "gflops", "peak_gflops", "utilisation")


def _log(run_dir) -> list[dict]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _same_run(a: Trainer, b: Trainer) -> None:
    assert a.state == dataclasses.replace(b.state, train_seconds=a.state.train_seconds)
    for x, y in ((a.model.state_dict(), b.model.state_dict()), (a.objective.state_dict(), b.objective.state_dict())):
        assert all(torch.equal(x[k], y[k]) for k in x)
    assert _log(a.run.path) == _log(b.run.path)
    best_a, best_b = load_file(a.run.best), load_file(b.run.best)
    assert best_a.keys() == best_b.keys() and all(torch.equal(best_a[k], best_b[k]) for k in best_a)


def _crashing_recipe(tmp_path, **train) -> Recipe:
    corpus = write_corpus(tmp_path / "corpus", n_train=40)
    return from_dict(Recipe, tiny_recipe(corpus, train={"epochs": 2, "checkpoint_every": 3, "log_every": 2, **train}))


def _resume_after(recipe, run_dir, vocab) -> Trainer:
    again = _trainer(recipe, run_dir, vocab=vocab)
    again.resume()
    again.fit()
    return again


def test_a_crash_after_any_step_resumes_to_the_same_run(tmp_path):
    """Checkpoints every 3 steps, log lines every 2: crashes land inside log windows, on checkpoint steps, on the
    last step of an epoch (before its validation) and on the last step of the run."""
    torch.set_num_threads(1)
    recipe = _crashing_recipe(tmp_path)
    whole = _trainer(recipe, tmp_path / "whole")
    whole.fit()
    total = whole.state.step
    assert total == 10 and total % 3 and (total // 2) % 3  # 5 batches an epoch: the epoch ends mid-window
    for crash in range(1, total + 1):
        def kill(step, crash=crash):
            if step == crash:
                raise Crash
        run_dir = tmp_path / f"cut{crash}"
        first = _trainer(recipe, run_dir, on_step=kill)
        with pytest.raises(Crash):
            first.fit()
        _same_run(whole, _resume_after(recipe, run_dir, first.vocab))


def test_a_kill_between_the_step_cap_checkpoint_and_its_validation(tmp_path):
    torch.set_num_threads(1)
    recipe = _crashing_recipe(tmp_path, max_steps=6, epochs=5)  # step 6: checkpoint, then the cap's validation
    whole = _trainer(recipe, tmp_path / "whole")
    whole.fit()

    def kill(step):
        if step == 6:
            raise Crash

    first = _trainer(recipe, tmp_path / "cut", on_step=kill)
    with pytest.raises(Crash):
        first.fit()
    assert torch.load(first.run.checkpoint, weights_only=False)["step"] == 6  # checkpoint at the cap, not validated
    again = _resume_after(recipe, tmp_path / "cut", first.vocab)
    assert [r["step"] for r in _log(again.run.path) if r["kind"] == "valid"] == [5, 6]
    _same_run(whole, again)


def test_a_kill_right_after_a_validation_line(tmp_path, monkeypatch):
    """checkpoint_every 5 = one epoch: the epoch's last step writes a checkpoint, then the validation line; a kill
    before the epoch's own checkpoint must not leave that line twice."""
    torch.set_num_threads(1)
    recipe = _crashing_recipe(tmp_path, checkpoint_every=5)
    whole = _trainer(recipe, tmp_path / "whole")
    whole.fit()
    first = _trainer(recipe, tmp_path / "cut")
    write = first.logbook.write

    def write_then_die(record):
        write(record)
        if record["kind"] == "valid":
            raise Crash

    monkeypatch.setattr(first.logbook, "write", write_then_die)
    with pytest.raises(Crash):
        first.fit()
    _same_run(whole, _resume_after(recipe, tmp_path / "cut", first.vocab))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_writes_a_checkpoint_and_the_run_resumes_exactly(tmp_path, sig):
    torch.set_num_threads(1)
    recipe = _crashing_recipe(tmp_path, checkpoint_every=100)  # no periodic checkpoint after step 0
    whole = _trainer(recipe, tmp_path / "whole")
    whole.fit()

    def signal_at_4(step):
        if step == 4:
            os.kill(os.getpid(), sig)

    first = _trainer(recipe, tmp_path / "cut", on_step=signal_at_4)
    with pytest.raises(TrainingInterrupted) as info:
        first.fit()
    assert info.value.step == 4 and info.value.signum == sig
    assert torch.load(first.run.checkpoint, weights_only=False)["step"] == 4  # nothing since step 0 was lost
    assert signal.getsignal(sig) != first._signals._note  # the handler is the caller's again
    _same_run(whole, _resume_after(recipe, tmp_path / "cut", first.vocab))


def test_resume_removes_temporary_files_of_cut_writes(tmp_path):
    from textvae.training.launch import resume_run

    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    cfg = tiny_recipe(corpus, train={"epochs": 1})
    first = _trainer(from_dict(Recipe, cfg), tmp_path / "run")
    first.fit()
    (tmp_path / "run" / "config.yaml").write_text(recipe_to_yaml(from_dict(Recipe, cfg)))
    (tmp_path / "run" / "vocab.txt").write_text("".join(t + "\n" for t in first.vocab.itos))
    stale = [tmp_path / "run" / ".checkpoint.pt.k3j_x9qa.tmp", tmp_path / "run" / ".best.safetensors.0a1b2c3d.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    keep = tmp_path / "run" / "notes.tmp"
    keep.write_text("mine")
    resume_run(tmp_path / "run", log=lambda *a: None)
    assert not any(p.exists() for p in stale) and keep.exists()


@pytest.mark.parametrize("bad,checkpoint_every,log_every,max_steps,kept", [
    (4, 100, 100, 4, 0), (2, 3, 100, 0, 0), (4, 100, 2, 0, 0), (5, 3, 100, 0, 3),
], ids=["seen-at-the-step-cap", "seen-at-a-checkpoint", "seen-at-a-log-line", "seen-at-the-epoch-end-line"])
def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, bad, checkpoint_every,
                                                                                log_every, max_steps, kept):
    """5 steps an epoch; the loss of step ``bad`` is NaN, and the first check after it (the validation at the
    step cap, a checkpoint, a log line) stops the run before anything of it is saved or logged."""
    torch.set_num_threads(1)
    recipe = _crashing_recipe(tmp_path, checkpoint_every=checkpoint_every, log_every=log_every, max_steps=max_steps)

    def poison(step):
        if step == bad - 1:
            with torch.no_grad():
                next(trainer.model.decoder.parameters()).fill_(float("nan"))

    trainer = _trainer(recipe, tmp_path / "run", on_step=poison)
    with pytest.raises(TrainingDiverged, match=f"not finite at step {bad};.*checkpoint of step {kept} "):
        trainer.fit()
    ckpt = torch.load(trainer.run.checkpoint, weights_only=False)
    assert ckpt["step"] == kept and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    log = tmp_path / "run" / "metrics.jsonl"
    rows = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    assert all(r["step"] < bad for r in rows) and all("NaN" not in json.dumps(r) for r in rows)


def test_a_failed_start_leaves_nothing_behind(tmp_path, monkeypatch):
    from textvae.training import launch

    corpus = write_corpus(tmp_path / "corpus")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_to_yaml(from_dict(Recipe, tiny_recipe(corpus, train={"epochs": 1}))))

    def die(self):
        raise Crash  # as if killed while writing the first checkpoint

    monkeypatch.setattr(launch.Trainer, "save", die)
    with pytest.raises(Crash):
        launch.start_run(recipe, out=tmp_path / "run", log=lambda *a: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "r.yaml"]
    monkeypatch.undo()
    launch.start_run(recipe, out=tmp_path / "run", log=lambda *a: None).fit()  # the same command now works
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_a_start_killed_before_its_rename_does_not_block_the_next(tmp_path):
    from textvae.training import launch

    corpus = write_corpus(tmp_path / "corpus")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_to_yaml(from_dict(Recipe, tiny_recipe(corpus, train={"epochs": 1}))))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".run.starting-{int(dead.stdout)}"  # the folder of a start whose process is gone
    stale.mkdir()
    (stale / "config.yaml").write_text("half")
    launch.start_run(recipe, out=tmp_path / "run", log=lambda *a: None)
    assert not stale.exists() and (tmp_path / "run" / "checkpoint.pt").is_file()


def test_a_run_folder_without_a_checkpoint_resumes_from_step_zero(tmp_path):
    """What a start killed by textvae 0.1 left: config.yaml and vocab.txt, no checkpoint."""
    from textvae.training.launch import resume_run, start_run

    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_to_yaml(from_dict(Recipe, tiny_recipe(corpus, train={"epochs": 1}))))
    whole = start_run(recipe, out=tmp_path / "whole", log=lambda *a: None)
    whole.fit()
    (tmp_path / "stuck").mkdir()
    for name in ("config.yaml", "vocab.txt"):
        (tmp_path / "stuck" / name).write_bytes((tmp_path / "whole" / name).read_bytes())
    again = resume_run(tmp_path / "stuck", log=lambda *a: None)
    again.fit()
    _same_run(whole, again)
