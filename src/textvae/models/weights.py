"""Model weights as safetensors files, tagged with the vocabulary they were trained with and a checksum of the
tensors, so that a corrupted file is an error on load instead of NaN metrics."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from textvae.atomic import write_atomic
from textvae.errors import TextVAEError


def checksum(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")  # 0-d: BN counters
    return h.hexdigest()


def save_weights(path: str | Path, model: torch.nn.Module, vocab_fingerprint: str) -> None:
    """Write the model's state dict to ``path`` atomically, with the vocabulary fingerprint and a checksum."""
    tensors, seen = {}, set()
    for k, v in model.state_dict().items():  # a tied tensor (shared embedding) is stored once per name
        v = v.detach().cpu().contiguous()
        tensors[k] = v.clone() if v.numel() and v.data_ptr() in seen else v
        seen.add(v.data_ptr())
    meta = {"vocab": vocab_fingerprint, "sha256": checksum(tensors)}
    write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def load_weights(path: str | Path, model: torch.nn.Module, vocab_fingerprint: str) -> None:
    """Load safetensors weights into ``model``; a different vocabulary or architecture, or tensors that do not
    match the file's checksum (files written before checksums have none), is a TextVAEError."""
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
    if "sha256" in meta and checksum(tensors) != meta["sha256"]:
        raise TextVAEError(f"{path}: weights file is corrupted (its tensors do not match its checksum)")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise TextVAEError(f"{path}: weights do not fit the recipe's model ({first})") from None
