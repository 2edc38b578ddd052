"""The precision a run trains in: ``train.bf16`` true or false as it is; ``auto`` decided once, at the run's start,
by timing one training pass both ways (rank 0's choice for every rank), and kept in the checkpoint."""

from __future__ import annotations

import contextlib

import torch

from textvae import distributed as dist
from textvae.config import Recipe
from textvae.data.batching import make_batch
from textvae.data.corpus import Split
from textvae.models.vae import TextVAE
from textvae.objectives.objective import Objective
from textvae.precision import choose_bf16


def training_bf16(recipe: Recipe, model: TextVAE, objective: Objective, optimizer: torch.optim.Optimizer,
                  train: Split, device: str, step: int) -> tuple[bool, str]:
    """Whether to train under bf16 autocast, and why (one line). The probe runs forward and backward on the
    first ``batch_size`` training sentences, drops the gradients and restores every RNG: a run that probes
    trains exactly as one that does not."""
    idx = list(range(min(recipe.data.batch_size, len(train.ids))))
    batch = make_batch([train.ids[i] for i in idx], idx).to(device)
    kind = torch.device(device).type

    def one_pass(bf16: bool) -> None:
        model.train()
        with torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
            loss, _ = objective(model, batch, step)
        loss.backward()
        optimizer.zero_grad(set_to_none=True)

    use, why = choose_bf16(recipe.train.bf16, one_pass, device)
    return dist.broadcast(use), why


def autocast(device: str, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device``'s kind, or a context that changes nothing."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16)
