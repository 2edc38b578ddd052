"""What a reproduction reads its verdicts from: the committed artifacts of its runs and analyses
(``REPORTS/runs/SCALE/PAPER``), never the weights, so a report regenerates without retraining."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textvae.errors import TextVAEError


@dataclass(frozen=True)
class Analysis:
    """A measurement that needs trained weights (homotopies, imputation, samples): ``fn`` gets the work folders
    of ``runs`` (name -> path) and the device, and returns JSON-able figures, kept as
    ``analyses/NAME.json`` beside the runs' artifacts and computed again only when a run it read changed."""

    name: str
    runs: tuple[str, ...]
    fn: Callable[[dict[str, Path], str], dict]
    version: int = 1


@dataclass
class Artifacts:
    """The artifacts of one paper at one scale: ``root`` = REPORTS/runs/SCALE/PAPER."""

    root: Path
    scale: str
    _cache: dict = field(default_factory=dict)

    def _load(self, rel: str, parse: Callable[[str], object]) -> object:
        if rel not in self._cache:
            path = self.root / rel
            if not path.is_file():
                raise TextVAEError(f"{path}: missing; run `textvae reproduce` without --regenerate to make it")
            self._cache[rel] = parse(path.read_text())
        return self._cache[rel]

    def report(self, run: str) -> dict:
        """The run's final test report (report.json)."""
        return self._load(f"{run}/report.json", json.loads)

    def meta(self, run: str) -> dict:
        return self._load(f"{run}/run.json", json.loads)

    def metrics(self, run: str, kind: str) -> list[dict]:
        """The run's ``kind`` (train or valid) records of its metrics log (``textvae.plots.read_log``)."""
        from textvae.plots import read_log

        if run not in self._cache:
            self._cache[run] = dict(zip(("train", "valid"), read_log(self.root / run / "metrics.jsonl"),
                                        strict=True))
        return self._cache[run][kind]

    def analysis(self, name: str) -> dict:
        return self._load(f"analyses/{name}.json", json.loads)["result"]
