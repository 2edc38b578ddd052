"""Training under DDP: the model and objective wrapped as one module whose backward averages gradients over
ranks, and each rank's share of an epoch's global batches."""

from __future__ import annotations

import torch

from textvae import distributed as dist
from textvae.config import Recipe
from textvae.data.batching import Batch, bucket_order
from textvae.data.corpus import Split
from textvae.errors import TextVAEError
from textvae.models.vae import TextVAE
from textvae.objectives.objective import Objective


class LossModule(torch.nn.Module):
    """The model and the objective (which may own parameters: the bag-of-words head) as one module whose forward
    is the training loss: what DDP wraps, so that every trained parameter is averaged over ranks."""

    def __init__(self, model: TextVAE, objective: Objective) -> None:
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, batch: Batch, step: int):
        return self.objective(self.model, batch, step)


def ddp_forward(recipe: Recipe, model: TextVAE, objective: Objective, device: str):
    """The DDP-wrapped training loss under torchrun (rank 0's parameters broadcast now), or None in one process."""
    if not dist.ctx.distributed:
        return None
    if recipe.train.aggressive:
        raise TextVAEError("train.aggressive under torchrun is not supported yet (the ranks would have to agree "
                           "on when each encoder phase ends): train it in one process")
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if torch.device(device).type == "cuda" else None
    return DistributedDataParallel(LossModule(model, objective), device_ids=ids, find_unused_parameters=True)


def epoch_batches(train: Split, recipe: Recipe, epoch: int) -> list[list[int]]:
    """This rank's batches of epoch ``epoch``: global batches of batch_size x ranks x accumulate sentences of
    similar length, in an order fixed by the seed and the epoch; each rank takes its share."""
    t = recipe.train
    return dist.rank_batches(bucket_order(train.lengths(), recipe.data.batch_size * dist.ctx.world * t.accumulate,
                                          True, t.seed, epoch))
