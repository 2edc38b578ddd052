"""Progress bars for long work (rich): items/s and ETA; silent when not attached to a terminal."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_bar(enabled: bool | None = None) -> Progress:
    """A rich Progress with a rate field: use ``task = bar.add_task(desc, total=n, rate="")``."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled, transient=False,
    )
