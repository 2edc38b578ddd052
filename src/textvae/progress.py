"""Progress bars for long work (rich): items/s and ETA; silent when not attached to a terminal."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_bar(enabled: bool | None = None) -> Progress:
    """A rich Progress with a rate field: use ``task = bar.add_task(desc, total=n, rate="")``."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled, transient=False,
    )


class PlainProgress:
    """Without a terminal: one line to stderr at most every ``every`` seconds, with rate and ETA."""

    def __init__(self, desc: str, total: int, unit: str, every: float = 30.0):
        self.desc, self.total, self.unit, self.every = desc, total, unit, every
        self.start = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every or done >= self.total:
            return
        self.last = now
        rate = done / (now - self.start)
        eta = (self.total - done) / max(rate, 1e-9)
        print(f"{self.desc}: {done}/{self.total} {self.unit}, {rate:.1f} {self.unit}/s, ETA {eta / 60:.1f} min",
              file=sys.stderr, flush=True)
