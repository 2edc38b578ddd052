"""The trainer: a plain loop over epochs and optimiser steps that calls the small parts of training (one file
each): :mod:`.state` (what a checkpoint holds), :mod:`.step` (one optimiser step), :mod:`.parallel` (DDP and each
rank's batches), :mod:`.bf16` (the precision), :mod:`.flops` (FLOPs and peak), :mod:`.signals` (SIGINT/SIGTERM),
:mod:`.divergence` (non-finite losses), :mod:`.logbook` (the metrics log), :mod:`.lr_schedule` (decay on plateau)
and :mod:`.aggressive` (He et al.'s encoder phases). Resumable checkpoints are bitwise-identical on CPU."""

from __future__ import annotations

import math
import random
import signal
import time
from collections.abc import Callable

import numpy as np
import torch

from textvae import distributed as dist
from textvae.config import Recipe
from textvae.data.batching import iterate_steps
from textvae.data.corpus import Split
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError
from textvae.evaluation.collapse import collapse_note
from textvae.evaluation.evaluate import evaluate
from textvae.models.vae import TextVAE
from textvae.models.weights import load_weights, save_weights
from textvae.objectives.objective import Objective
from textvae.progress import progress_bar
from textvae.run import Run
from textvae.training import aggressive
from textvae.training.bf16 import autocast, training_bf16
from textvae.training.checkpoint import (
    fit_optimizer_state,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from textvae.training.divergence import LossWatch, TrainingDiverged
from textvae.training.flops import FlopMeter
from textvae.training.logbook import Logbook, LogWindow
from textvae.training.lr_schedule import PlateauDecay
from textvae.training.parallel import ddp_forward, epoch_batches
from textvae.training.signals import StopSignals, TrainingInterrupted
from textvae.training.state import TrainState
from textvae.training.step import build_optimizer, train_step

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted", "seed_everything", "selection_key",
           "validation_loss"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def selection_key(recipe: Recipe) -> str:
    """What ``train.select`` resolves to (see TrainConfig.select)."""
    kw = recipe.objective.kl_weight
    if recipe.train.select == "auto":
        return "rec" if kw.schedule == "constant" and kw.value == 0 else "neg_elbo"
    return recipe.train.select


def validation_loss(metrics: dict, key: str = "neg_elbo") -> float:
    """The figure model selection minimises: ``key`` where the model reports it (neg_elbo or rec for a VAE),
    else nll (RNNLM), else rec (autoencoder)."""
    for k in (key, "nll", "rec"):
        if k in metrics:
            return metrics[k]
    raise KeyError("no validation loss in metrics")


class Trainer:
    """Trains ``model`` on ``splits['train']``, validating on ``splits['valid']`` each epoch, in ``run``.

    Killed at any moment, the run resumes exactly (``docs/design.md``, "Resuming"): a checkpoint holds the
    :class:`TrainState`, the partly averaged log window and every RNG; SIGINT and SIGTERM write one and raise
    :class:`TrainingInterrupted`. A non-finite loss raises :class:`TrainingDiverged` before anything of it is
    saved or logged. ``on_step(step)`` is called after every optimiser step (tests use it to simulate a crash)."""

    def __init__(self, recipe: Recipe, model: TextVAE, vocab: Vocab, splits: dict[str, Split], run: Run,
                 device: str = "cpu", on_step: Callable[[int], None] | None = None, log=print):
        self.recipe, self.model, self.vocab, self.splits = recipe, model.to(device), vocab, splits
        self.logbook = Logbook(run, recipe.train.tensorboard)
        self.run = run
        self.device, self.on_step, self.log = device, on_step, log
        t = recipe.train
        # the objective may own parameters (the bag-of-words head): trained and checkpointed with the model
        self.objective = Objective.from_config(recipe.objective, model).to(device)
        self.optimizer = build_optimizer(t, [*model.parameters(), *self.objective.parameters()])
        self.forward = ddp_forward(recipe, self.model, self.objective, device)
        self.lr_schedule = PlateauDecay(t, self.optimizer)
        self.state = TrainState(world=dist.ctx.world, aggressive=bool(t.aggressive))
        self.window = LogWindow()
        self.flops = FlopMeter()
        self.losses = LossWatch()
        self._bf16: bool | None = None  # the precision this process trains in, decided when training starts
        self.saved_step = 0
        self._signals = StopSignals()

    @property
    def run(self) -> Run:
        """The run folder (a new run is built in a staging folder, then moved: its log goes where it goes)."""
        return self.logbook.run

    @run.setter
    def run(self, run: Run) -> None:
        self.logbook.run = run

    def describe(self) -> str:
        """One line: the run folder, model type and size, vocabulary, training sentences and device."""
        ranks = f" x {dist.ctx.world} ranks ({dist.ctx.backend})" if dist.ctx.distributed else ""
        return (f"{self.run.path}: {self.recipe.model.type} with {self.model.n_params:,} parameters, vocabulary "
                f"{len(self.vocab)}, {len(self.splits['train'])} training sentences, device {self.device}{ranks}")

    def summary(self) -> dict:
        """Parameters, optimiser steps, epochs, training wall time (s) and target tokens so far, tokens per second."""
        st = self.state
        return {"params": self.model.n_params, "steps": st.step, "epochs": st.epoch,
                "train_seconds": st.train_seconds, "train_tokens": st.train_tokens, "bf16": self._bf16,
                "tokens_per_s": st.train_tokens / max(st.train_seconds, 1e-9)}

    # -- checkpoints ---------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the full training state atomically (after checking that nothing non-finite goes into it). Under
        DDP every rank calls it (its RNG state is gathered) and the main rank writes."""
        self._check_finite()
        rngs = dist.gather(rng_state())
        if dist.ctx.main:
            save_checkpoint(self.run.checkpoint, {
                **self.state.to_checkpoint(), "model": self.model.state_dict(),
                "objective": self.objective.state_dict(), "optimizer": self.optimizer.state_dict(),
                "window": self.window.to_checkpoint(), "scheduler": self.lr_schedule.state_dict(), "rng": rngs[0],
                **({"rng_ranks": rngs} if dist.ctx.distributed else {}), "vocab": self.vocab.fingerprint})
        self.saved_step = self.state.step

    def resume(self) -> None:
        ckpt = load_checkpoint(self.run.checkpoint, self.vocab.fingerprint)
        self.model.load_state_dict(ckpt["model"])
        self.objective.load_state_dict(ckpt.get("objective", {}))
        self.optimizer.load_state_dict(ckpt["optimizer"])
        fit_optimizer_state(self.optimizer)
        self.lr_schedule.load_state_dict(ckpt["scheduler"])
        state = TrainState.from_checkpoint(ckpt)
        if state.world != dist.ctx.world:
            raise TextVAEError(f"{self.run.path}: its checkpoint was written by {state.world} process(es); resume it "
                               f"with the same number (torchrun --nproc_per_node={state.world})" if state.world > 1
                               else f"{self.run.path}: its checkpoint was written by one process; resume it "
                               f"without torchrun, or with --nproc_per_node=1")
        set_rng_state(ckpt["rng_ranks"][dist.ctx.rank] if dist.ctx.distributed else ckpt["rng"])
        self.state, self.window = state, LogWindow.from_checkpoint(ckpt.get("window"))
        self.saved_step = state.step
        # re-decided under the run's config.yaml: raising train.epochs there lets a finished run train on
        state.finished = self._done()
        self.logbook.truncate(state.step, state.epoch)
        if state.finished:
            self.log(f"{self.run.path}: finished at epoch {state.epoch}, step {state.step}; to train on, raise "
                     f"train.epochs (and train.max_steps or train.early_stop) in its config.yaml")
        else:
            self.log(f"resumed {self.run.path} at epoch {state.epoch + 1}/{self.recipe.train.epochs}, "
                     f"step {state.step}")

    # -- signals and divergence ----------------------------------------------------------------------
    def _stop_if_signalled(self) -> None:
        if self._signals.requested(self.device):
            self.save()
            raise TrainingInterrupted(self._signals.signum or signal.SIGTERM, self.state.step, self.run)

    def _check_finite(self) -> None:
        self.losses.check(self.device, str(self.run.path), self.saved_step)

    # -- training ------------------------------------------------------------------------------------
    def fit(self) -> None:
        t, train = self.recipe.train, self.splits["train"]
        self.logbook.open()
        bf16 = self.decide_precision()
        cast = autocast(self.device, bf16)
        self.flops.measure_peak(self.device, bf16)
        if not self.run.checkpoint.exists():
            self.save()  # a run killed before its first periodic checkpoint still resumes
        try:
            with self._signals, progress_bar(None if dist.ctx.main else False) as bar:
                while not self.state.finished:
                    epoch = self.state.epoch
                    if train.refresh is not None:  # character samples: this epoch's draw
                        train.ids = train.refresh(epoch)
                    batches = epoch_batches(train, self.recipe, epoch)
                    task = bar.add_task(f"epoch {epoch + 1}/{t.epochs}", total=len(batches),
                                        completed=self.state.position, rate="")
                    if not (t.max_steps and self.state.step >= t.max_steps):  # else only its validation is due
                        self._epoch(batches, cast, bar, task)
                    self._end_epoch()
                    self._stop_if_signalled()
        finally:
            self.logbook.close()

    def decide_precision(self) -> bool:
        """The precision this process trains in, decided once: train.bf16 when it is true or false; with auto,
        the choice made at the run's start (kept in the checkpoint), or a probe (:func:`.bf16.training_bf16`)."""
        if self._bf16 is None:
            setting = self.recipe.train.bf16
            if setting == "auto" and self.state.bf16 is not None:
                self._bf16 = self.state.bf16
            else:
                self._bf16, why = training_bf16(self.recipe, self.model, self.objective, self.optimizer,
                                                self.splits["train"], self.device, self.state.step)
                if setting == "auto":
                    self.state.bf16 = self._bf16
                    if dist.ctx.main:
                        self.log(why)
        return self._bf16

    def _epoch(self, batches, cast, bar, task) -> None:
        """Train from ``state.position`` to the end of the epoch, or to the step cap."""
        t, st = self.recipe.train, self.state
        self.model.train()

        def run_step(batch, only=None):
            return train_step(self.model, self.objective, self.optimizer, batch, st.step, t.clip_grad, cast,
                              t.clip_value, self.forward, only=only)

        for pos, parts in iterate_steps(self.splits["train"].ids, batches, t.accumulate, st.position):
            step_tic = time.perf_counter()
            n_tok = sum(b.n_tokens for b in parts)  # counted on the CPU copy: no device sync per step
            parts = [b.to(self.device) for b in parts]
            batch = parts[0] if len(parts) == 1 else parts
            only = None
            if st.aggressive:  # the encoder first, until its loss stops falling; then this batch for the decoder
                enc, only = aggressive.part_params(self.model, self.objective)
                _, inner_tokens = aggressive.encoder_steps(
                    lambda b, enc=enc: run_step(b, enc), self.splits["train"].ids, batches, t.aggressive_steps,
                    aggressive.inner_generator(t.seed, st.step), self.device)
                n_tok += inner_tokens
            logs = self.flops.step(lambda batch=batch, only=only: run_step(batch, only), n_tok)
            st.step += 1
            st.position = pos + 1
            seconds = time.perf_counter() - step_tic
            st.train_seconds += seconds
            st.train_tokens += n_tok
            self.losses.add(st.step, logs["loss"])
            self.window.add(logs, n_tok, seconds)
            if st.step % t.log_every == 0 or st.position == len(batches):
                self._log_train(len(batches), bar, task)
            bar.update(task, completed=st.position)
            if st.step % t.checkpoint_every == 0:
                self.save()
            if self.on_step is not None:
                self.on_step(st.step)
            self._stop_if_signalled()
            if t.max_steps and st.step >= t.max_steps:
                return

    def _log_train(self, n_batches: int, bar, task) -> None:
        """Write the averages of the log window to the log and start a new window; show them on the bar, or as a
        plain line with the run's ETA when there is no terminal."""
        self._check_finite()
        t, st, w = self.recipe.train, self.state, self.window
        record = w.record(st.step, st.epoch + 1, self.lr_schedule.lr, self.flops.per_token, self.flops.peak)
        self.logbook.write(record)
        shown = f"objective {record['loss']:.2f}" + (f"  neg_elbo {record['neg_elbo']:.2f}"
                                                     if "kl" in record else "")
        bar.update(task, rate=f"{record['tokens_per_s']:.0f} tok/s  {shown}")
        if bar.disable:
            left = n_batches - st.position + max(0, t.epochs - st.epoch - 1) * n_batches
            if t.max_steps:
                left = min(left, t.max_steps - st.step)
            self.log(f"epoch {st.epoch + 1}/{t.epochs} batch {st.position}/{n_batches} step {st.step}: "
                     f"{shown} (nats/sentence)  {record['tokens_per_s']:.0f} tok/s  "
                     f"ETA {left * w.seconds / w.steps / 60:.1f} min (training steps left in the run)")
        self.window = LogWindow()

    def _end_epoch(self) -> None:
        self._check_finite()
        st, t = self.state, self.recipe.train
        # under DDP every rank validates its share of the batches and takes the whole split's figures
        metrics = evaluate(self.model, self.splits["valid"], self.recipe.eval, self.recipe.data.eval_batch_size,
                           self.device, iw_samples=0, show_progress=False, bpc=self.recipe.data.tokenizer == "char")
        val = validation_loss(metrics, selection_key(self.recipe))
        if not math.isfinite(val):
            raise TrainingDiverged(f"training diverged: the validation loss after step {st.step} is not finite; "
                                   f"{self.run.path} keeps the checkpoint of step {self.saved_step}")
        lr = self.lr_schedule.lr
        decayed = self.lr_schedule.step(val, st.epoch)
        improved = val < st.best
        if improved:
            st.best, st.bad_epochs = val, 0
            if dist.ctx.main:
                save_weights(self.run.best, self.model, self.vocab.fingerprint)
        else:
            st.bad_epochs += 1
        if decayed:
            st.decays += 1
            if t.decay_reload and not improved:  # on from the best weights, the optimiser afresh
                dist.barrier()  # rank 0 wrote them, at an earlier epoch
                load_weights(self.run.best, self.model, self.vocab.fingerprint)
                self.optimizer.state.clear()
                self.log(f"epoch {st.epoch + 1}: learning rate {lr:g} -> {self.lr_schedule.lr:g} (decay "
                         f"{st.decays}), going on from the best weights (validation {st.best:.2f})")
        self.logbook.write({"kind": "valid", "step": st.step, "epoch": st.epoch + 1,
                            **{k: v for k, v in metrics.items() if isinstance(v, (int, float)) or k == "mu_hist"},
                            "lr": self.lr_schedule.lr, "best": improved})
        self.log(f"epoch {st.epoch + 1}: valid " + "  ".join(
            f"{k} {metrics[k]}" if isinstance(metrics[k], int) else f"{k} {metrics[k]:.2f}"
            for k in ("rec", "kl", "neg_elbo", "nll", "ppl", "ppl_elbo", "mi", "au") if k in metrics)
            + ("  (nats per sentence; au of " + str(self.model.z_dim) + ")" if "au" in metrics else ""))
        note = collapse_note({**metrics, "z_dim": self.model.z_dim}, f"epoch {st.epoch + 1} validation")
        if note:
            self.log(f"warning: {note}")
        aggressive.after_epoch(st, metrics.get("mi"), st.epoch + 1, self.log)
        st.epoch += 1
        st.position = 0
        st.valid_step = st.step
        st.finished = self._done()
        self.save()

    def _done(self) -> bool:
        """Whether the run has reached its epoch cap, its step cap (and validated there) or early stopping, under
        the current config."""
        t, st = self.recipe.train, self.state
        capped = bool(t.max_steps and st.step >= t.max_steps and st.valid_step == st.step)
        return (st.epoch >= t.epochs or capped or bool(t.early_stop and st.bad_epochs >= t.early_stop)
                or bool(t.max_decays and st.decays >= t.max_decays))
