"""Several runs side by side: the figures of their reports with the settings that tell them apart."""

from __future__ import annotations

import glob
import json
from pathlib import Path

from textvae.config import load_recipe
from textvae.errors import TextVAEError
from textvae.run import Run

FIGURES = ("rec", "kl", "neg_elbo", "nll_iw", "ppl_iw", "nll", "ppl", "mi", "au")
"""The report figures a comparison shows (nats per sentence; ppl per token; au a count)."""


def find_runs(paths: list[str]) -> list[Path]:
    """Run folders named by ``paths``: a run folder (it holds config.yaml), a folder of runs (its subfolders that
    are runs), or a glob pattern of either. Order kept, duplicates dropped."""
    found: list[Path] = []
    for text in paths:
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
        if not matches:
            raise TextVAEError(f"{text}: matches no run folder")
        for m in map(Path, matches):
            if Run(m).config.is_file():
                found.append(m)
            elif m.is_dir() and (inner := sorted(p for p in m.iterdir() if Run(p).config.is_file())):
                found += inner
            elif len(matches) == 1:
                raise TextVAEError(f"{m}: not a run folder (no config.yaml) nor a folder of runs")
    return list(dict.fromkeys(found))


def run_settings(run: Path) -> dict:
    """What tells a run apart: name, type, model (encoder, decoder, z), corpus, vocab_size_limit."""
    r = load_recipe(Run(run).config)
    m = r.model
    parts = [f"{m.decoder.kind} decoder {m.decoder.hidden_dim}"] if hasattr(m.decoder, "hidden_dim") else []
    if m.type != "lm":
        parts.insert(0, f"{m.encoder.kind} encoder {getattr(m.encoder, 'hidden_dim', '')}".strip())
        parts.append(f"z {m.latent_dim}")
    return {"name": r.name, "type": m.type, "model": ", ".join(parts), "corpus": r.data.corpus,
            "vocab_size_limit": r.data.vocab_size}


def compare(paths: list[str]) -> dict:
    """One row per run (see :func:`find_runs`): run, name, type, model, corpus, vocab, params, the figures of its
    final test report (report.json, else the last eval_test.json; None where it has none), iw_samples (the K of
    nll_iw and ppl_iw), epochs and train_minutes. Keys: figures (the figure columns), rows."""
    rows = []
    for run in find_runs(paths):
        report = next((p for p in (Run(run).report, run / "eval_test.json") if p.is_file()), None)
        data = json.loads(report.read_text()) if report else {}
        row = {"run": str(run), **run_settings(run), "vocab": data.get("vocab"), "params": data.get("params"),
               **{k: data.get(k) for k in FIGURES}, "iw_samples": data.get("iw_samples"),
               "epochs": data.get("epochs"),
               "train_minutes": data["train_seconds"] / 60 if "train_seconds" in data else None,
               "report": report.name if report else None}
        rows.append(row)
    figures = [k for k in FIGURES if any(r[k] is not None for r in rows)]
    return {"figures": figures, "rows": rows}
