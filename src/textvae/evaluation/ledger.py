"""The finished batches of a long evaluation, kept on disk so that one cut short resumes where it stopped.

A K = 500 nll_iw of a test split takes most of an hour on a CPU. :func:`textvae.evaluation.evaluate.evaluate`
given a ledger file records each batch's figures (its sums and its posterior means and log-variances) there,
atomically, after the batch; run again with the same model, split and settings it takes those batches from the
file and computes only the rest. Every batch draws from its own random streams
(:func:`~textvae.evaluation.evaluate.batch_generator`) and the sums are added in batch order either way, so the
resumed figures equal an uninterrupted run's exactly. A file written under other settings or weights is ignored
(and replaced); the file is removed once the evaluation ends.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from textvae.atomic import write_atomic


def weights_digest(model: torch.nn.Module) -> str:
    """A digest of the model's parameters and buffers (names, shapes, values): which weights were evaluated."""
    h = hashlib.blake2b(digest_size=16)
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class Ledger:
    """Batches done so far of the evaluation described by ``settings`` (a dict of plain values), in ``path``;
    ``path`` None: kept in memory only. ``done``: batch number -> its entry (a dict of floats and CPU tensors);
    ``extra``: values decided once for the whole evaluation (the precision eval.bf16 auto chose)."""

    def __init__(self, path: str | Path | None, settings: dict):
        self.path, self.settings = (Path(path) if path is not None else None), settings
        self.done: dict[int, dict] = {}
        self.extra: dict = {}
        if self.path is not None and self.path.is_file():
            try:
                saved = torch.load(self.path, map_location="cpu", weights_only=True)
            except Exception:  # unreadable: written by another version, or damaged outside textvae
                saved = None
            if isinstance(saved, dict) and saved.get("settings") == settings:  # else another evaluation's: ignored
                self.done, self.extra = saved["done"], saved["extra"]

    def record(self, batch: int, entry: dict) -> None:
        """Keep batch number ``batch``'s entry, and write the ledger (atomically)."""
        self.done[batch] = entry
        self._write()

    def decide(self, **values) -> None:
        """Keep values that hold for the whole evaluation."""
        self.extra.update(values)
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        buf = io.BytesIO()
        torch.save({"settings": self.settings, "done": self.done, "extra": self.extra}, buf)
        write_atomic(self.path, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))

    def close(self) -> None:
        """The evaluation ended: remove the file."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
