"""The run's metrics log (``metrics.jsonl``, and TensorBoard where asked): the window of training steps being
averaged into the next line, the lines themselves, and the cut back to a checkpoint on resume."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import torch

from textvae import distributed as dist
from textvae.atomic import to_json, write_text_atomic
from textvae.run import Run


@dataclass
class LogWindow:
    """The training log line being averaged: sums of the logged values (tensors or floats), optimiser steps,
    target tokens and seconds since the last line. Checkpointed, so a resumed run writes the same line."""

    sums: dict = field(default_factory=dict)
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def add(self, logs: dict, tokens: int, seconds: float) -> None:
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps, self.tokens, self.seconds = self.steps + 1, self.tokens + tokens, self.seconds + seconds

    def to_checkpoint(self) -> dict:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, saved: dict | None) -> LogWindow:
        return cls(**saved) if saved else cls()

    def record(self, step: int, epoch: int, lr: float, flops_per_token: float | None,
               peak_flops: float | None) -> dict:
        """The training log line of this window (collective under DDP: every rank calls it): the mean over
        steps and ranks of each logged value, tokens summed over ranks, tokens/s against the slowest rank's
        time; with FLOPs per token and the measured peak, achieved GFLOP/s and utilisation per process."""
        keys = sorted(self.sums)
        total = dist.all_sum(torch.tensor([float(self.sums[k]) / dist.ctx.world for k in keys] + [self.tokens],
                                          dtype=torch.float64))
        seconds = max(dist.gather(self.seconds))
        record = {"kind": "train", "step": step, "epoch": epoch,
                  **{k: float(v) / self.steps for k, v in zip(keys, total[:-1].tolist(), strict=True)},
                  "lr": lr, "tokens": int(total[-1]),
                  "tokens_per_s": float(total[-1]) / max(seconds, 1e-9), "time": time.time()}
        if flops_per_token and peak_flops:
            achieved = record["tokens_per_s"] / dist.ctx.world * flops_per_token
            record.update(flops_per_token=flops_per_token, gflops=achieved / 1e9, peak_gflops=peak_flops / 1e9,
                          utilisation=achieved / peak_flops)
        return record


class Logbook:
    """Appends records to ``run.metrics`` (the main rank only) and, where given, to a TensorBoard writer."""

    def __init__(self, run: Run, tensorboard: bool = False) -> None:
        self.run, self.tensorboard, self.writer = run, tensorboard, None

    def open(self) -> None:
        if self.tensorboard and dist.ctx.main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run.path / "tensorboard"))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def write(self, record: dict) -> None:
        if not dist.ctx.main:
            return
        with open(self.run.metrics, "a", encoding="utf-8") as fh:
            fh.write(to_json(record) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self.writer.add_scalar(f"{record['kind']}/{k}", v, record["step"])

    def truncate(self, step: int, epoch: int) -> None:
        """Drop lines written after the checkpoint a run resumes from (they will be written again): training
        lines of later steps, the validation line of the epoch the checkpoint had not validated yet, and a line
        cut short by a kill."""
        if dist.ctx.main and self.run.metrics.is_file():
            keep = [ln for ln in self.run.metrics.read_text(encoding="utf-8").splitlines()
                    if _logged_before(ln, step, epoch)]
            write_text_atomic(self.run.metrics, "".join(ln + "\n" for ln in keep))


def _logged_before(line: str, step: int, epoch: int) -> bool:
    """Whether a log line was written before a checkpoint at ``step`` with ``epoch`` epochs validated."""
    try:
        rec = json.loads(line)
        return rec["step"] <= step and not (rec.get("kind") == "valid" and rec["epoch"] > epoch)
    except (ValueError, KeyError, TypeError):
        return False
