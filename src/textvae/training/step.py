"""One optimiser step: the optimiser a recipe asks for, gradient accumulation over a step's parts, clipping, and
updates of only part of the model (aggressive training)."""

from __future__ import annotations

import contextlib

import torch

from textvae.config import TrainConfig
from textvae.data.batching import Batch
from textvae.models.vae import TextVAE
from textvae.objectives.objective import Objective


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
                for k, v in part_logs.items():  # tensors, or plain numbers (the KL weight)
                    logs[k] = logs.get(k, 0.0) + (v.detach() if torch.is_tensor(v) else v) * share
    if only is not None:  # the others got no gradient (grads_only_for): the optimiser leaves them as they are
        keep = {id(p) for p in only}
        params = [p for p in params if id(p) in keep]
    if clip_value > 0:
        torch.nn.utils.clip_grad_value_(params, clip_value)
    if clip_grad > 0:
        clip_gradients(params, clip_grad)
    optimizer.step()
    return logs

