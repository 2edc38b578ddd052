"""The training state a checkpoint holds besides weights, optimiser, RNGs and the log window: where the run is,
what it has measured, and the decisions it keeps across resumes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass
class TrainState:
    """Where a run is (``step`` optimiser steps; ``epoch`` epochs validated; ``position`` batches into the current
    epoch), its best validation loss and epochs without improvement, and what it keeps across resumes."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    best: float = math.inf
    bad_epochs: int = 0
    finished: bool = False
    train_seconds: float = 0.0
    """Wall time of optimiser steps, seconds, summed over resumes."""
    train_tokens: int = 0
    """Target tokens of optimiser steps, summed over resumes."""
    valid_step: int = -1
    """The step of the last end-of-epoch validation (the step cap counts once it has run)."""
    world: int = 1
    """Processes that trained it (a checkpoint resumes only with as many)."""
    bf16: bool | None = None
    """The precision ``train.bf16: auto`` chose at the run's start (None before the choice, or when not auto)."""
    aggressive: bool = False
    """Aggressive encoder training (He et al. 2019) still on."""
    aggressive_mi: float = -math.inf
    """The validation mutual information (nats) of the last epoch, while aggressive."""
    decays: int = 0
    """Decays of the learning rate so far (train.max_decays)."""

    def to_checkpoint(self) -> dict:
        """The fields as the top-level keys of a checkpoint (the format of every textvae version)."""
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> TrainState:
        """The state a checkpoint holds; keys older versions did not write take their defaults (textvae 0.1
        validated at every epoch boundary, so its ``valid_step`` is the step when it stopped at one)."""
        defaults = {"valid_step": ckpt["step"] if ckpt["position"] == 0 else -1}
        return cls(**{f.name: ckpt[f.name] if f.name in ckpt else defaults.get(f.name, f.default)
                      for f in fields(cls)})
