"""Progress of long work, on stderr (so that ``--json`` output on stdout stays clean).

Library loops that can take more than a second (encoding, decoding, scoring candidates, evaluation) report
through :func:`task`; nothing is shown for work that ends within ``TEXTVAE_PROGRESS_AFTER`` seconds (1 by
default). On a terminal it is a rich bar with the rate and the ETA; elsewhere (a log file, CI) a plain line
every ``TEXTVAE_PROGRESS_EVERY`` seconds (10 by default) with the same figures. ``set_enabled(False)`` (or
``TEXTVAE_PROGRESS=0``) silences it, e.g. in a server.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_state = threading.local()
_enabled = os.environ.get("TEXTVAE_PROGRESS", "1") != "0"


def set_enabled(on: bool) -> None:
    """Show progress (the default) or not, for every task from now on."""
    global _enabled
    _enabled = on


def progress_bar(enabled: bool | None = None) -> Progress:
    """A rich Progress with a rate field, on stderr: ``task = bar.add_task(desc, total=n, rate="")``."""
    if enabled is None:
        enabled = sys.stderr.isatty() and _enabled
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled, transient=False,
        console=Console(stderr=True),
    )


def clock(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Task:
    """The progress of one piece of work: ``advance(n)`` after each unit of it is done."""

    def __init__(self, desc: str, total: int, unit: str):
        self.desc, self.total, self.unit = desc, max(total, 1), unit
        self.done = self.skipped = 0
        self.start = self.last = time.perf_counter()
        self.after = float(os.environ.get("TEXTVAE_PROGRESS_AFTER", "1"))
        self.every = float(os.environ.get("TEXTVAE_PROGRESS_EVERY", "10"))
        self.bar: Progress | None = None
        self.bar_task = None
        self.shown = False

    def rate(self) -> float:
        """Units per second of the work done since the task started (units skipped not counted)."""
        return (self.done - self.skipped) / max(time.perf_counter() - self.start, 1e-9)

    def skip(self, n: int) -> None:
        """Count ``n`` units done before this task started (a resumed job): in the total done, not in the rate."""
        self.done += n
        self.skipped += n

    def line(self) -> str:
        rate = self.rate()
        eta = (self.total - self.done) / max(rate, 1e-9)
        return (f"{self.desc}: {self.done:,}/{self.total:,} {self.unit}, {rate:,.1f} {self.unit}/s, "
                f"ETA {clock(eta)}")

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not _enabled:
            return
        now = time.perf_counter()
        if now - self.start < self.after:  # work that ends this soon shows nothing
            return
        if sys.stderr.isatty():
            if self.bar is None:
                self.bar = progress_bar(True)
                self.bar.start()
                self.bar_task = self.bar.add_task(self.desc, total=self.total, rate="")
            self.bar.update(self.bar_task, completed=self.done, rate=f"{self.rate():,.1f} {self.unit}/s")
        elif not self.shown or now - self.last >= self.every:
            print(self.line(), file=sys.stderr, flush=True)
            self.last, self.shown = now, True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.shown and self.done >= self.total and time.perf_counter() - self.last > 0.5:
            print(f"{self.line()} (done)", file=sys.stderr, flush=True)


@contextmanager
def task(desc: str, total: int, unit: str = "sentences", show: bool = True) -> Iterator[Task]:
    """Report the progress of ``total`` units of work named ``desc`` (see the module); ``show=False`` counts
    without showing. Nested tasks report only the outermost one, so a command shows one line of progress, not
    one per helper it calls."""
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    t = Task(desc, total, unit)
    if depth or not show:
        t.after = float("inf")  # an inner task of one already shown, or a silent one
    try:
        yield t
    finally:
        _state.depth = depth
        t.close()
