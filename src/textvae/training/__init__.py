"""Training loop and checkpoints."""

from textvae.training.trainer import Trainer, seed_everything

__all__ = ["Trainer", "seed_everything"]
