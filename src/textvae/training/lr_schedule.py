"""The learning-rate schedule: decay by ``train.lr_decay`` when validation stops improving for
``train.lr_patience`` epochs (from epoch ``train.decay_from``), down to ``train.min_lr``."""

from __future__ import annotations

import math

import torch

from textvae.config import TrainConfig


class PlateauDecay:
    """ReduceLROnPlateau with the recipe's settings; no schedule at all when ``train.lr_decay`` >= 1."""

    def __init__(self, t: TrainConfig, optimizer: torch.optim.Optimizer) -> None:
        self.t, self.optimizer = t, optimizer
        self.scheduler = None if t.lr_decay >= 1.0 else torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=t.lr_decay, patience=t.lr_patience, min_lr=t.min_lr)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step(self, val: float, epoch: int) -> bool:
        """Count the validation loss ``val`` of epoch ``epoch`` (0-based); returns whether the rate decayed.
        Before ``decay_from`` an infinite patience counts bad epochs without decaying."""
        if self.scheduler is None:
            return False
        lr = self.lr
        self.scheduler.patience = self.t.lr_patience if epoch >= self.t.decay_from else math.inf
        self.scheduler.step(val)
        return self.lr < lr

    def state_dict(self) -> dict | None:
        return self.scheduler and self.scheduler.state_dict()

    def load_state_dict(self, state: dict | None) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)
