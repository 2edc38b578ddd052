"""Checkpoints: the full training state (model, optimiser, scheduler, RNG, position), written atomically."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from textvae.atomic import write_atomic
from textvae.errors import TextVAEError


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict) -> None:
    """torch.save ``state`` atomically (temp file, fsync, rename)."""
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, vocab_fingerprint: str) -> dict:
    """Load a training checkpoint; refuse one written with another vocabulary."""
    path = Path(path)
    if not path.is_file():
        raise TextVAEError(f"{path}: no checkpoint to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a corrupt or foreign file
        raise TextVAEError(f"{path}: not a textvae checkpoint ({type(exc).__name__})") from None
    if state.get("vocab") != vocab_fingerprint:
        raise TextVAEError(f"{path}: checkpoint was trained with another vocabulary "
                           f"({state.get('vocab')} != {vocab_fingerprint} of vocab.txt)")
    return state


def pad_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Zero-pad optimizer state saved for a narrower parameter (the decoder's output layer before its input
    was padded to a multiple of 32) to the parameter's shape; zero moments keep the padding at zero."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for k, v in state.items():
                if (torch.is_tensor(v) and v.dim() == p.dim() > 0 and v.shape[:-1] == p.shape[:-1]
                        and v.shape[-1] < p.shape[-1]):
                    state[k] = torch.nn.functional.pad(v, (0, p.shape[-1] - v.shape[-1]))
