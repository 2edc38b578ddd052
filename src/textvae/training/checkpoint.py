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


def fit_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Optimiser state saved for a parameter of another width in its last dimension, fitted to the parameter:
    the LSTM decoder's output layer was (V, H) before textvae padded it to (V, 32k) in the parameter, and is
    (V, H) again since the padding moved into the product. The extra columns' moments were zero (their
    gradients were), so dropping them, or zero-padding narrower ones, continues the run exactly."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for k, v in state.items():
                if (torch.is_tensor(v) and v.dim() == p.dim() > 0 and v.shape[:-1] == p.shape[:-1]
                        and v.shape[-1] != p.shape[-1]):
                    width = p.shape[-1]
                    state[k] = (v[..., :width].contiguous() if v.shape[-1] > width
                                else torch.nn.functional.pad(v, (0, width - v.shape[-1])))
