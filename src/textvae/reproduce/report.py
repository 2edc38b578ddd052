"""A paper's reproduction report (REPORTS/PAPER.md, .json, .png) and the summary of every claim
(REPORTS/summary.json). Everything is computed from committed artifacts and written atomically; nothing in it
depends on the day it is written, so regenerating it from the same artifacts gives the same files."""

from __future__ import annotations

import json
import math
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from textvae.atomic import write_atomic, write_json_atomic, write_text_atomic
from textvae.reproduce.artifacts import Artifacts
from textvae.reproduce.papers import PAPER_MODULES, Paper
from textvae.reproduce.verdicts import IMPLIED, MEASURED, VERDICTS


def fmt(x, nd: int = 3) -> str:
    """A figure for a table: floats to ``nd`` significant digits, None as a dash."""
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}g}" if abs(x) < 10 ** nd else f"{x:,.0f}"
    return str(x)


def table(header: list[str], rows: list[list]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _runs_table(a: Artifacts, names: list[str]) -> str:
    rows = []
    for n in names:
        m = a.meta(n)
        rows.append([n, m["recipe"], " ".join(m["sets"]) or "(as the recipe)", m.get("device"),
                     m.get("train_seconds")])
    return table(["run", "recipe", "overrides", "device", "train s"], rows)


def write_paper_report(p: Paper, a: Artifacts, reports: Path, specs: dict | None = None) -> dict:
    """Judge ``p``'s claims from ``a`` and write REPORTS/PAPER.{md,json} (and .png when the paper plots).
    ``specs``: the runs as reproduced (with any extra overrides), default the paper's at ``a.scale``. Returns
    the JSON written."""
    found = p.judge(a)
    for c in found.claims:
        c.scale = a.scale
    names = sorted(specs or [s.name for s in p.runs(a.scale)])
    counts = Counter(c.verdict for c in found.claims)
    plotted = False
    if p.plot is not None:
        png = reports / f"{p.name}.png"
        plotted = bool(p.plot(a, png))
    out = {"paper": p.name, "title": p.title, "scale": a.scale, "note": p.small_note if a.scale == "small" else "",
           "claims": [c.to_dict() for c in found.claims], "counts": {v: counts.get(v, 0) for v in VERDICTS},
           "figures": found.figures, "plot": f"{p.name}.png" if plotted else None,
           "runs": {n: a.meta(n) for n in names},
           "train_seconds": math.fsum(a.meta(n).get("train_seconds") or 0.0 for n in names)}
    md = [f"# {p.title}: reproduced at {a.scale} scale", ""]
    if out["note"]:
        md += [out["note"], ""]
    md += [f"Written by `textvae reproduce {p.name} --scale {a.scale}` from the committed artifacts under "
           f"`reports/runs/{a.scale}/{p.name}/` (no weights are kept; `--fresh` trains them again). "
           f"Training time of its runs, summed: {out['train_seconds'] / 60:.1f} min (device: "
           f"{', '.join(sorted({str(a.meta(n).get('device')) for n in names}))}).", "",
           "## Verdicts", "",
           table(["claim", "verdict", "why / figures"],
                 [[c.claim, f"**{c.verdict}**", c.why or _short(c.figures)] for c in found.claims]), ""]
    if any(c.verdict == IMPLIED for c in found.claims):
        md += ["Claims *implied by construction* follow from the objective itself and are not counted as "
               "reproductions.", ""]
    for section in found.sections:
        md += [section, ""]
    if plotted:
        md += [f"![{p.name}]({p.name}.png)", ""]
    md += ["## Runs", "", _runs_table(a, names), ""]
    write_text_atomic(reports / f"{p.name}.md", "\n".join(md))
    write_json_atomic(reports / f"{p.name}.json", out)
    return out


def rounded(x, digits: int = 4):
    """``x`` with every float rounded to ``digits`` significant digits (for reading, not for the JSON)."""
    if isinstance(x, float):
        return float(f"{x:.{digits}g}")
    if isinstance(x, dict):
        return {k: rounded(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v, digits) for v in x]
    return x


def _short(figures: dict, limit: int = 200) -> str:
    text = json.dumps(rounded(figures), default=str)
    text = text.replace('"', "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_summary(reports: Path, scale: str, fresh_results: dict[str, dict]) -> dict:
    """REPORTS/summary.json: every claim of every paper with a report, {paper, claim, verdict, figures, scale,
    why, baselines}, in the papers' order, and the counts; ``measured`` counts the verdicts reproduced and not
    reproduced."""
    claims = []
    for name in [*PAPER_MODULES, *(n for n in fresh_results if n not in PAPER_MODULES)]:
        path = reports / f"{name}.json"
        data = fresh_results.get(name) or (json.loads(path.read_text()) if path.is_file() else None)
        if data is None:
            continue
        keys = ("paper", "claim", "verdict", "figures", "scale", "why", "baselines")
        claims += [{k: c.get(k) for k in keys} for c in data["claims"]]
    counts = Counter(c["verdict"] for c in claims)
    summary = {"scale": scale, "claims": claims, "counts": {v: counts.get(v, 0) for v in VERDICTS},
               "measured": sum(counts.get(v, 0) for v in MEASURED)}
    write_json_atomic(reports / "summary.json", summary)
    write_text_atomic(reports / "summary.md", summary_markdown(summary))
    return summary


def counts_text(summary: dict) -> str:
    """"7 reproduced, 6 not reproduced, ..." of a summary (verdicts with no claim left out)."""
    return ", ".join(f"{n} {v}" for v, n in summary["counts"].items() if n)


def summary_markdown(summary: dict) -> str:
    """REPORTS/summary.md: one line per claim, its verdict and the paper's report it comes from."""
    counts = counts_text(summary)
    lines = ["# The papers' claims, reproduced", "",
             f"{len(summary['claims'])} claims: {counts}; {summary['measured']} measured (reproduced or not). "
             "Written by `textvae reproduce` from the committed artifacts under `reports/runs/`; each paper's "
             "report has its tables, figures and runs. A claim judged against a collapsed model is not measurable; "
             "one that follows from the objective's construction is not counted.", "",
             table(["paper", "claim", "verdict", "scale", "why / figures"],
                   [[f"[{c['paper']}]({c['paper']}.md)", c["claim"], f"**{c['verdict']}**", c["scale"],
                     c["why"] or _short(c["figures"])] for c in summary["claims"]]), ""]
    return "\n".join(lines)


@contextmanager
def panels(path: Path, n: int = 2):
    """A row of ``n`` matplotlib axes to draw on, saved to ``path`` atomically (PNG, no timestamp) on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, n, figsize=(4.5 * n, 3.4))
    try:
        yield ax
        fig.tight_layout(w_pad=4.0)
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None}))
    finally:
        plt.close(fig)


def label(ax, xlabel: str, ylabel: str, title: str, legend: int | None = 0) -> None:
    """Axis labels and title; a legend unless ``legend`` is None (its font size, 0: the default)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend is not None:
        ax.legend(**({"fontsize": legend} if legend else {}))
