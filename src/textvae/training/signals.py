"""SIGINT and SIGTERM during training: noted when they arrive, acted on between optimiser steps (a checkpoint,
then :class:`TrainingInterrupted`), agreed by every rank under DDP."""

from __future__ import annotations

import signal
import threading

from textvae import distributed as dist
from textvae.run import Run


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM during training: a checkpoint was written at ``step``; the run resumes from it."""

    def __init__(self, signum: int, step: int, run: Run):
        super().__init__(f"{signal.Signals(signum).name} at step {step}")
        self.signum, self.step, self.run = signum, step, run
        self.again: str = ""  # the command that continues, where it is not `textvae train --resume RUN`


class StopSignals:
    """Inside ``with``, SIGINT and SIGTERM are noted instead of killing the process (in the main thread; other
    threads cannot install handlers and keep the defaults). A second signal stops at once (KeyboardInterrupt):
    the last checkpoint still resumes."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._handlers: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._handlers = {sig: signal.signal(sig, self._note) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        self._handlers = {}

    def _note(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def requested(self, device: str) -> bool:
        """Whether to stop now: a signal arrived here, or (under DDP) on any rank, so all stop at one step."""
        stop = self.signum is not None
        if dist.ctx.distributed:
            stop = dist.any_rank(stop, device)
        return stop
