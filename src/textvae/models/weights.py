"""Model weights as safetensors files, tagged with the vocabulary they were trained with."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from textvae.atomic import write_atomic
from textvae.errors import TextVAEError


def save_weights(path: str | Path, model: torch.nn.Module, vocab_fingerprint: str) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata={"vocab": vocab_fingerprint}))


def load_weights(path: str | Path, model: torch.nn.Module, vocab_fingerprint: str) -> None:
    """Load safetensors weights into ``model``; a different vocabulary or architecture is a TextVAEError."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise TextVAEError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:
        raise TextVAEError(f"{path}: not a safetensors file ({exc})") from None
    if meta.get("vocab") != vocab_fingerprint:
        raise TextVAEError(f"{path}: weights were trained with another vocabulary "
                           f"({meta.get('vocab')} != {vocab_fingerprint} of vocab.txt)")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise TextVAEError(f"{path}: weights do not fit the recipe's model ({first})") from None
