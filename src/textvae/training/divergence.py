"""A non-finite loss stops training before anything of it is saved or logged: losses are collected per step and
checked in one host sync before every log line and checkpoint."""

from __future__ import annotations

import torch

from textvae import distributed as dist
from textvae.errors import TextVAEError


class TrainingDiverged(TextVAEError):
    """The loss became non-finite; the run folder keeps its last good checkpoint."""


class LossWatch:
    """The losses (0-d tensors, not synced) of the steps since the last :meth:`check`."""

    def __init__(self) -> None:
        self.unchecked: list[tuple[int, torch.Tensor]] = []

    def add(self, step: int, loss: torch.Tensor) -> None:
        self.unchecked.append((step, loss))

    def check(self, device: str, where: str, saved_step: int) -> None:
        """Raise TrainingDiverged if a loss since the last check was not finite (on any rank under DDP).
        ``where``: the run folder, which keeps the checkpoint of ``saved_step``."""
        if not self.unchecked:
            return
        steps = [s for s, _ in self.unchecked]
        bad = (~torch.isfinite(torch.stack([loss.float() for _, loss in self.unchecked]))).nonzero()
        self.unchecked.clear()
        if dist.ctx.distributed and dist.any_rank(bool(len(bad)), device) and not len(bad):
            raise TrainingDiverged(f"training diverged on another rank before step {steps[-1]}; {where} "
                                   f"keeps the checkpoint of step {saved_step}")
        if len(bad):
            raise TrainingDiverged(
                f"training diverged: the loss is not finite at step {steps[int(bad[0])]}; {where} keeps "
                f"the checkpoint of step {saved_step} (lower train.lr, or clip harder with train.clip_grad)")
