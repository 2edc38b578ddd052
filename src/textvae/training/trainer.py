"""The trainer: optimiser, clipping, LR decay on plateau, validation, best checkpoint, early stopping,
resumable checkpoints (bitwise-identical resume on CPU), JSON-lines log and optional TensorBoard."""

from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from textvae import distributed as dist
from textvae.atomic import to_json, write_text_atomic
from textvae.config import Recipe, TrainConfig
from textvae.data.batching import Batch, bucket_order, iterate_steps, make_batch
from textvae.data.corpus import Split
from textvae.data.vocab import Vocab
from textvae.errors import TextVAEError
from textvae.evaluation.collapse import collapse_note
from textvae.evaluation.evaluate import evaluate
from textvae.models.vae import TextVAE
from textvae.models.weights import load_weights, save_weights
from textvae.objectives.objective import Objective
from textvae.precision import choose_bf16
from textvae.progress import progress_bar
from textvae.run import Run
from textvae.training.aggressive import encoder_steps, inner_generator, part_params
from textvae.training.checkpoint import (
    load_checkpoint,
    pad_optimizer_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from textvae.training.flops import count_flops, matmul_peak


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


def build_optimizer(t: TrainConfig, params) -> torch.optim.Optimizer:
    if t.optimizer == "adam":
        # fused: one kernel for the whole update (14% faster steps for the PTB VAE on CPU)
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay, fused=True)
    return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)


def clip_gradients(params, max_norm: float) -> None:
    """``clip_grad_norm_`` with the same result, minus its pass over every gradient when nothing is clipped.

    ``clip_grad_norm_`` always multiplies by min(1, max_norm / (norm + 1e-6)), also when that is exactly 1;
    on CPU that pass over the 9.8M gradients of the PTB VAE is ~5% of a training step. Testing the norm needs
    a host sync, so on accelerators the multiplication stays unconditional.
    """
    params = [p for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    if norm.device.type != "cpu" or max_norm / (norm + 1e-6) < 1.0:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)


@contextlib.contextmanager
def grads_only_for(params: list[torch.Tensor], only: list[torch.Tensor] | None):
    """Inside, autograd tracks only the parameters ``only`` (all of ``params`` for None): the others'
    ``requires_grad`` is off until exit. Backward then skips their weight gradients and every part of the graph
    that leads to none of ``only``: aggressive training's encoder steps compute no decoder weight gradients (the
    output layer's is a third of its matmuls), its decoder steps no backward pass through the encoder at all.
    The gradients of ``only`` are the same as with everything tracked."""
    keep = None if only is None else {id(p) for p in only}
    off = [] if keep is None else [p for p in params if p.requires_grad and id(p) not in keep]
    for p in off:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in off:
            p.requires_grad_(True)


def train_step(model: TextVAE, objective: Objective, optimizer: torch.optim.Optimizer, batch: Batch | list[Batch],
               step: int, clip_grad: float, autocast, clip_value: float = 0.0, forward=None,
               only: list[torch.Tensor] | None = None) -> dict:
    """One optimiser step on ``batch`` (or on the parts of one, their gradients accumulated, each weighted by its
    share of the sentences); returns the objective's logged values (tensors, not synced).

    ``clip_value`` > 0 clamps every gradient element to [-clip_value, clip_value]; then ``clip_grad`` > 0
    rescales the gradients to a global norm of at most ``clip_grad``. ``forward(batch, step)``, where given,
    computes (loss, logs) instead of ``objective(model, ...)``: the DDP-wrapped pair, whose backward averages the
    gradients over ranks (once per step: the parts before the last skip the synchronisation). ``only``: the
    parameters this step updates (aggressive training's encoder or decoder steps); the others' gradients are
    dropped, so the optimiser leaves them and their state as they are."""
    optimizer.zero_grad(set_to_none=True)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    with grads_only_for(params, only):
        if isinstance(batch, Batch):
            with autocast:
                loss, logs = forward(batch, step) if forward is not None else objective(model, batch, step)
            loss.backward()
        else:
            total, logs = sum(b.size for b in batch), {}
            for i, part in enumerate(batch):
                last = i == len(batch) - 1
                sync = contextlib.nullcontext() if forward is None or last else forward.no_sync()
                with sync:
                    with autocast:
                        loss, part_logs = (forward(part, step) if forward is not None
                                           else objective(model, part, step))
                    share = part.size / total
                    (loss * share).backward()
                for k, v in part_logs.items():
                    logs[k] = logs.get(k, 0.0) + v.detach() * share
    if only is not None:  # the others got no gradient (grads_only_for): the optimiser leaves them as they are
        keep = {id(p) for p in only}
        params = [p for p in params if id(p) in keep]
    if clip_value > 0:
        torch.nn.utils.clip_grad_value_(params, clip_value)
    if clip_grad > 0:
        clip_gradients(params, clip_grad)
    optimizer.step()
    return logs


class LossModule(torch.nn.Module):
    """The model and the objective (which may own parameters: the bag-of-words head) as one module whose forward
    is the training loss: what DDP wraps, so that every trained parameter is averaged over ranks."""

    def __init__(self, model: TextVAE, objective: Objective) -> None:
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, batch: Batch, step: int):
        return self.objective(self.model, batch, step)


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM during training: a checkpoint was written at ``step``; the run resumes from it."""

    def __init__(self, signum: int, step: int, run: Run):
        super().__init__(f"{signal.Signals(signum).name} at step {step}")
        self.signum, self.step, self.run = signum, step, run
        self.again: str = ""  # the command that continues, where it is not `textvae train --resume RUN`


class TrainingDiverged(TextVAEError):
    """The loss became non-finite; the run folder keeps its last good checkpoint."""


class Trainer:
    """Trains ``model`` on ``splits['train']``, validating on ``splits['valid']`` each epoch, in ``run``.

    Killed at any moment, the run resumes exactly (``docs/design.md``, "Resuming"): a checkpoint holds the
    training state, the partly averaged log window and every RNG; SIGINT and SIGTERM write one and raise
    :class:`TrainingInterrupted`. A non-finite loss raises :class:`TrainingDiverged` before anything of it is
    saved or logged. ``on_step(step)`` is called after every optimiser step (tests use it to simulate a crash)."""

    def __init__(self, recipe: Recipe, model: TextVAE, vocab: Vocab, splits: dict[str, Split], run: Run,
                 device: str = "cpu", on_step: Callable[[int], None] | None = None, log=print):
        self.recipe, self.model, self.vocab, self.splits, self.run = recipe, model.to(device), vocab, splits, run
        self.device, self.on_step, self.log = device, on_step, log
        t = recipe.train
        # the objective may own parameters (the bag-of-words head): trained and checkpointed with the model
        self.objective = Objective.from_config(recipe.objective, model).to(device)
        self.optimizer = build_optimizer(t, [*model.parameters(), *self.objective.parameters()])
        self.forward = None
        if t.aggressive and dist.ctx.distributed:
            raise TextVAEError("train.aggressive under torchrun is not supported yet (the ranks would have to agree "
                               "on when each encoder phase ends): train it in one process")
        if dist.ctx.distributed:  # gradients averaged over ranks in backward; rank 0's parameters broadcast now
            from torch.nn.parallel import DistributedDataParallel

            ids = [torch.device(device).index] if torch.device(device).type == "cuda" else None
            self.forward = DistributedDataParallel(LossModule(self.model, self.objective), device_ids=ids,
                                                   find_unused_parameters=True)
        self.scheduler = None if t.lr_decay >= 1.0 else torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=t.lr_decay, patience=t.lr_patience, min_lr=t.min_lr)
        # train_seconds / train_tokens: wall time and target tokens of optimiser steps, summed over resumes;
        # valid_step: the step of the last end-of-epoch validation (the step cap counts once it has run)
        self.state = {"step": 0, "epoch": 0, "position": 0, "best": math.inf, "bad_epochs": 0, "finished": False,
                      "train_seconds": 0.0, "train_tokens": 0, "valid_step": -1, "world": dist.ctx.world,
                      "bf16": None,  # bf16: the precision train.bf16 auto chose (kept on resume)
                      # aggressive training (He et al. 2019): still on, and the validation MI of the last epoch
                      "aggressive": bool(t.aggressive), "aggressive_mi": -math.inf,
                      "decays": 0}  # decays of the learning rate so far (train.max_decays)
        self.window = _new_window()  # the log line being averaged: sums of logged values, steps, tokens, seconds
        self.flops_per_token: float | None = None  # counted on this process's first step
        self.peak_flops: float | None = None  # measured when training starts
        self._bf16: bool | None = None  # the precision this process trains in, decided when training starts
        self.saved_step = 0
        self._unchecked: list[tuple[int, torch.Tensor]] = []  # (step, loss) not yet checked for finiteness
        self._signal: int | None = None
        self.writer = None

    def describe(self) -> str:
        """One line: the run folder, model type and size, vocabulary, training sentences and device."""
        ranks = f" x {dist.ctx.world} ranks ({dist.ctx.backend})" if dist.ctx.distributed else ""
        return (f"{self.run.path}: {self.recipe.model.type} with {self.model.n_params:,} parameters, vocabulary "
                f"{len(self.vocab)}, {len(self.splits['train'])} training sentences, device {self.device}{ranks}")

    def summary(self) -> dict:
        """Parameters, optimiser steps, epochs, training wall time (s) and target tokens so far, tokens per second."""
        st = self.state
        return {"params": self.model.n_params, "steps": st["step"], "epochs": st["epoch"],
                "train_seconds": st["train_seconds"],
                "train_tokens": st["train_tokens"], "bf16": self._bf16,
                "tokens_per_s": st["train_tokens"] / max(st["train_seconds"], 1e-9)}

    # -- checkpoints ---------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the full training state atomically (after checking that nothing non-finite goes into it). Under
        DDP every rank calls it (its RNG state is gathered) and the main rank writes."""
        self._check_finite()
        rngs = dist.gather(rng_state())
        if dist.ctx.main:
            save_checkpoint(self.run.checkpoint, {
                **self.state, "model": self.model.state_dict(), "objective": self.objective.state_dict(),
                "optimizer": self.optimizer.state_dict(), "window": self.window,
                "scheduler": self.scheduler and self.scheduler.state_dict(), "rng": rngs[0],
                **({"rng_ranks": rngs} if dist.ctx.distributed else {}), "vocab": self.vocab.fingerprint})
        self.saved_step = self.state["step"]

    def resume(self) -> None:
        ckpt = load_checkpoint(self.run.checkpoint, self.vocab.fingerprint)
        self.model.load_state_dict(ckpt["model"])
        self.objective.load_state_dict(ckpt.get("objective", {}))
        self.optimizer.load_state_dict(ckpt["optimizer"])
        pad_optimizer_state(self.optimizer)
        if self.scheduler is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        world = ckpt.get("world", 1)
        if world != dist.ctx.world:
            raise TextVAEError(f"{self.run.path}: its checkpoint was written by {world} process(es); resume it with "
                               f"the same number (torchrun --nproc_per_node={world})" if world > 1 else
                               f"{self.run.path}: its checkpoint was written by one process; resume it without "
                               f"torchrun, or with --nproc_per_node=1")
        set_rng_state(ckpt["rng_ranks"][dist.ctx.rank] if dist.ctx.distributed else ckpt["rng"])
        # checkpoints of textvae 0.1 have no window and no valid_step (they validated at every epoch boundary)
        defaults = {"valid_step": ckpt["step"] if ckpt["position"] == 0 else -1, "world": 1, "bf16": None,
                    "aggressive": False, "aggressive_mi": -math.inf, "decays": 0}
        self.state = {k: ckpt[k] if k in ckpt else defaults[k] for k in self.state}
        self.window = ckpt.get("window") or _new_window()
        self.saved_step = self.state["step"]
        # re-decided under the run's config.yaml: raising train.epochs there lets a finished run train on
        self.state["finished"] = self._done()
        self._truncate_log(self.state["step"], self.state["epoch"])
        t = self.recipe.train
        if self.state["finished"]:
            self.log(f"{self.run.path}: finished at epoch {self.state['epoch']}, step {self.state['step']}; to train "
                     f"on, raise train.epochs (and train.max_steps or train.early_stop) in its config.yaml")
        else:
            self.log(f"resumed {self.run.path} at epoch {self.state['epoch'] + 1}/{t.epochs}, "
                     f"step {self.state['step']}")

    def _truncate_log(self, step: int, epoch: int) -> None:
        """Drop log lines written after the checkpoint we resume from (they will be written again): training
        lines of later steps, and the validation line of the epoch the checkpoint had not validated yet."""
        if dist.ctx.main and self.run.metrics.is_file():
            keep = [ln for ln in self.run.metrics.read_text(encoding="utf-8").splitlines()
                    if _logged_before(ln, step, epoch)]
            write_text_atomic(self.run.metrics, "".join(ln + "\n" for ln in keep))

    def _write_log(self, record: dict) -> None:
        if not dist.ctx.main:
            return
        with open(self.run.metrics, "a", encoding="utf-8") as fh:
            fh.write(to_json(record) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self.writer.add_scalar(f"{record['kind']}/{k}", v, record["step"])

    # -- signals and divergence ----------------------------------------------------------------------
    def _on_signal(self, signum: int, frame) -> None:
        if self._signal is not None:  # a second Ctrl-C: stop now (the last checkpoint still resumes)
            raise KeyboardInterrupt
        self._signal = signum

    def _stop_if_signalled(self) -> None:
        stop = self._signal is not None
        if dist.ctx.distributed:  # every rank stops at the same step, or none does
            stop = dist.any_rank(stop, self.device)
        if stop:
            self.save()
            raise TrainingInterrupted(self._signal or signal.SIGTERM, self.state["step"], self.run)

    def _check_finite(self) -> None:
        """Raise TrainingDiverged if a loss since the last check was not finite (one host sync per check, none
        per step)."""
        if not self._unchecked:
            return
        steps = [s for s, _ in self._unchecked]
        bad = (~torch.isfinite(torch.stack([loss.float() for _, loss in self._unchecked]))).nonzero()
        self._unchecked.clear()
        if dist.ctx.distributed and dist.any_rank(bool(len(bad)), self.device) and not len(bad):
            raise TrainingDiverged(f"training diverged on another rank before step {steps[-1]}; {self.run.path} "
                                   f"keeps the checkpoint of step {self.saved_step}")
        if len(bad):
            raise TrainingDiverged(
                f"training diverged: the loss is not finite at step {steps[int(bad[0])]}; {self.run.path} keeps "
                f"the checkpoint of step {self.saved_step} (lower train.lr, or clip harder with train.clip_grad)")

    # -- training ------------------------------------------------------------------------------------
    def fit(self) -> None:
        t = self.recipe.train
        if t.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run.path / "tensorboard"))
        train = self.splits["train"]
        bf16 = self.decide_precision()
        autocast = torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=bf16)
        self.peak_flops = matmul_peak(self.device, torch.bfloat16 if bf16 else torch.float32)
        if not self.run.checkpoint.exists():
            self.save()  # a run killed before its first periodic checkpoint still resumes
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with progress_bar(None if dist.ctx.main else False) as bar:
                while not self.state["finished"]:
                    epoch = self.state["epoch"]
                    if train.refresh is not None:  # character samples: this epoch's draw
                        train.ids = train.refresh(epoch)
                    # global batches of batch_size x ranks sentences; each rank takes its share
                    batches = dist.rank_batches(bucket_order(train.lengths(), self.recipe.data.batch_size *
                                                             dist.ctx.world * t.accumulate, True, t.seed, epoch))
                    task = bar.add_task(f"epoch {epoch + 1}/{t.epochs}", total=len(batches),
                                        completed=self.state["position"], rate="")
                    if not (t.max_steps and self.state["step"] >= t.max_steps):  # else only its validation is due
                        self._epoch(batches, autocast, bar, task)
                    self._end_epoch()
                    self._stop_if_signalled()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            if self.writer is not None:
                self.writer.close()

    def decide_precision(self) -> bool:
        """The precision this process trains in (``_precision``), decided once."""
        if self._bf16 is None:
            self._bf16 = self._precision()
        return self._bf16

    def _precision(self) -> bool:
        """Whether to train under bf16 autocast: train.bf16 when it is true or false; with auto, the choice made
        at the run's start (kept in the checkpoint), or a probe of one training pass both ways (rank 0's choice
        for every rank)."""
        setting = self.recipe.train.bf16
        if setting == "auto" and self.state["bf16"] is not None:
            return self.state["bf16"]
        train = self.splits["train"]
        idx = list(range(min(self.recipe.data.batch_size, len(train.ids))))
        batch = make_batch([train.ids[i] for i in idx], idx).to(self.device)
        kind = torch.device(self.device).type

        def one_pass(bf16: bool) -> None:  # forward and backward, no optimiser step, gradients dropped
            self.model.train()
            with torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
                loss, _ = self.objective(self.model, batch, self.state["step"])
            loss.backward()
            self.optimizer.zero_grad(set_to_none=True)

        use, why = choose_bf16(setting, one_pass, self.device)
        use = dist.broadcast(use)
        if setting == "auto":
            self.state["bf16"] = use
            if dist.ctx.main:
                self.log(why)
        return use

    def _epoch(self, batches, autocast, bar, task) -> None:
        """Train from ``state['position']`` to the end of the epoch, or to the step cap."""
        t, st = self.recipe.train, self.state
        self.model.train()
        for pos, parts in iterate_steps(self.splits["train"].ids, batches, t.accumulate, st["position"]):
            step_tic = time.perf_counter()
            n_tok = sum(b.n_tokens for b in parts)  # counted on the CPU copy: no device sync per step
            parts = [b.to(self.device) for b in parts]
            batch = parts[0] if len(parts) == 1 else parts

            only = None
            if st["aggressive"]:  # the encoder first, until its loss stops falling; then this batch for the decoder
                enc, only = part_params(self.model, self.objective)
                _, inner_tokens = encoder_steps(
                    lambda b, enc=enc: train_step(self.model, self.objective, self.optimizer, b, st["step"],
                                                  t.clip_grad, autocast, t.clip_value, self.forward, only=enc),
                    self.splits["train"].ids, batches, t.aggressive_steps, inner_generator(t.seed, st["step"]),
                    self.device)
                n_tok += inner_tokens

            def step(batch=batch, only=only):
                return train_step(self.model, self.objective, self.optimizer, batch, st["step"], t.clip_grad,
                                  autocast, t.clip_value, self.forward, only=only)

            if self.flops_per_token is None:  # the first step of this process, counted (the same numbers)
                logs, flops = count_flops(step)
                self.flops_per_token = flops / max(n_tok, 1)
            else:
                logs = step()
            st["step"] += 1
            st["position"] = pos + 1
            seconds = time.perf_counter() - step_tic
            st["train_seconds"] += seconds
            st["train_tokens"] += n_tok
            self._unchecked.append((st["step"], logs["loss"]))
            w = self.window
            for k, v in logs.items():
                w["sums"][k] = w["sums"].get(k, 0.0) + v
            w["steps"], w["tokens"], w["seconds"] = w["steps"] + 1, w["tokens"] + n_tok, w["seconds"] + seconds
            if st["step"] % t.log_every == 0 or st["position"] == len(batches):
                self._log_train(len(batches), bar, task)
            bar.update(task, completed=st["position"])
            if st["step"] % t.checkpoint_every == 0:
                self.save()
            if self.on_step is not None:
                self.on_step(st["step"])
            self._stop_if_signalled()
            if t.max_steps and st["step"] >= t.max_steps:
                return

    def _log_train(self, n_batches: int, bar, task) -> None:
        """Write the averages of the log window to the log and start a new window; show them on the bar, or as a
        plain line with the run's ETA when there is no terminal."""
        self._check_finite()
        t, st, w = self.recipe.train, self.state, self.window
        keys = sorted(w["sums"])
        # under DDP: the mean over ranks of each logged value, tokens summed, time the slowest rank's
        total = dist.all_sum(torch.tensor([float(w["sums"][k]) / dist.ctx.world for k in keys] + [w["tokens"]],
                                          dtype=torch.float64))
        seconds = max(dist.gather(w["seconds"]))
        record = {"kind": "train", "step": st["step"], "epoch": st["epoch"] + 1,
                  **{k: float(v) / w["steps"] for k, v in zip(keys, total[:-1].tolist(), strict=True)},
                  "lr": self.optimizer.param_groups[0]["lr"], "tokens": int(total[-1]),
                  "tokens_per_s": float(total[-1]) / max(seconds, 1e-9), "time": time.time()}
        if self.flops_per_token and self.peak_flops:
            # model FLOPs per token (counted on the first step, padding included) and utilisation of the peak
            # measured at start, per process
            achieved = record["tokens_per_s"] / dist.ctx.world * self.flops_per_token
            record.update(flops_per_token=self.flops_per_token, gflops=achieved / 1e9,
                          peak_gflops=self.peak_flops / 1e9, utilisation=achieved / self.peak_flops)
        self._write_log(record)
        shown = f"objective {record['loss']:.2f}" + (f"  neg_elbo {record['neg_elbo']:.2f}"
                                                     if "kl" in record else "")
        bar.update(task, rate=f"{record['tokens_per_s']:.0f} tok/s  {shown}")
        if bar.disable:
            left = n_batches - st["position"] + max(0, t.epochs - st["epoch"] - 1) * n_batches
            if t.max_steps:
                left = min(left, t.max_steps - st["step"])
            self.log(f"epoch {st['epoch'] + 1}/{t.epochs} batch {st['position']}/{n_batches} step {st['step']}: "
                     f"{shown} (nats/sentence)  {record['tokens_per_s']:.0f} tok/s  "
                     f"ETA {left * w['seconds'] / w['steps'] / 60:.1f} min (training steps left in the run)")
        self.window = _new_window()

    def _end_epoch(self) -> None:
        self._check_finite()
        st = self.state
        # under DDP every rank validates its share of the batches and takes the whole split's figures
        metrics = evaluate(self.model, self.splits["valid"], self.recipe.eval, self.recipe.data.eval_batch_size,
                           self.device, iw_samples=0, show_progress=False, bpc=self.recipe.data.tokenizer == "char")
        val = validation_loss(metrics, selection_key(self.recipe))
        if not math.isfinite(val):
            raise TrainingDiverged(f"training diverged: the validation loss after step {st['step']} is not finite; "
                                   f"{self.run.path} keeps the checkpoint of step {self.saved_step}")
        t, lr = self.recipe.train, self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:  # an infinite patience counts bad epochs without decaying (decay_from)
            self.scheduler.patience = t.lr_patience if st["epoch"] >= t.decay_from else math.inf
            self.scheduler.step(val)
        decayed = self.optimizer.param_groups[0]["lr"] < lr
        improved = val < st["best"]
        if improved:
            st["best"], st["bad_epochs"] = val, 0
            if dist.ctx.main:
                save_weights(self.run.best, self.model, self.vocab.fingerprint)
        else:
            st["bad_epochs"] += 1
        if decayed:
            st["decays"] += 1
            if t.decay_reload and not improved:  # on from the best weights, the optimiser afresh
                dist.barrier()  # rank 0 wrote them, at an earlier epoch
                load_weights(self.run.best, self.model, self.vocab.fingerprint)
                self.optimizer.state.clear()
                self.log(f"epoch {st['epoch'] + 1}: learning rate {lr:g} -> "
                         f"{self.optimizer.param_groups[0]['lr']:g} (decay {st['decays']}), going on from the best "
                         f"weights (validation {st['best']:.2f})")
        self._write_log({"kind": "valid", "step": st["step"], "epoch": st["epoch"] + 1,
                         **{k: v for k, v in metrics.items() if isinstance(v, (int, float)) or k == "mu_hist"},
                         "lr": self.optimizer.param_groups[0]["lr"], "best": improved})
        self.log(f"epoch {st['epoch'] + 1}: valid " + "  ".join(
            f"{k} {metrics[k]}" if isinstance(metrics[k], int) else f"{k} {metrics[k]:.2f}"
            for k in ("rec", "kl", "neg_elbo", "nll", "ppl", "ppl_elbo", "mi", "au") if k in metrics)
            + ("  (nats per sentence; au of " + str(self.model.z_dim) + ")" if "au" in metrics else ""))
        note = collapse_note({**metrics, "z_dim": self.model.z_dim}, f"epoch {st['epoch'] + 1} validation")
        if note:
            self.log(f"warning: {note}")
        if st["aggressive"] and "mi" in metrics:  # aggressive until the validation MI stops rising
            if metrics["mi"] <= st["aggressive_mi"]:
                st["aggressive"] = False
                self.log(f"epoch {st['epoch'] + 1}: validation mi {metrics['mi']:.2f} did not rise above "
                         f"{st['aggressive_mi']:.2f}: aggressive encoder training ends")
            st["aggressive_mi"] = metrics["mi"]
        st["epoch"] += 1
        st["position"] = 0
        st["valid_step"] = st["step"]
        st["finished"] = self._done()
        self.save()

    def _done(self) -> bool:
        """Whether the run has reached its epoch cap, its step cap (and validated there) or early stopping, under
        the current config."""
        t, st = self.recipe.train, self.state
        capped = bool(t.max_steps and st["step"] >= t.max_steps and st["valid_step"] == st["step"])
        return (st["epoch"] >= t.epochs or capped or bool(t.early_stop and st["bad_epochs"] >= t.early_stop)
                or bool(t.max_decays and st["decays"] >= t.max_decays))


def _new_window() -> dict:
    return {"sums": {}, "steps": 0, "tokens": 0, "seconds": 0.0}


def _logged_before(line: str, step: int, epoch: int) -> bool:
    """Whether a log line was written before a checkpoint at ``step`` with ``epoch`` epochs validated; a line
    cut short by a kill was not."""
    try:
        rec = json.loads(line)
        return rec["step"] <= step and not (rec.get("kind") == "valid" and rec["epoch"] > epoch)
    except (ValueError, KeyError, TypeError):
        return False
