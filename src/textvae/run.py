"""A run folder and the names of the files in it (no other textvae module is imported here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    """A run folder: config.yaml (the recipe as run), vocab.txt, checkpoint.pt (full training state),
    best.safetensors (best weights), metrics.jsonl (training and validation log), report.json (final test
    metrics)."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def vocab(self) -> Path:
        return self.path / "vocab.txt"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def best(self) -> Path:
        return self.path / "best.safetensors"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def report(self) -> Path:
        return self.path / "report.json"
