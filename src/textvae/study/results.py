"""A study's results: win/tie/loss per pair of systems with a two-sided binomial (sign) test on the decided
answers, and for ``sense`` studies the fraction of "yes" per system, split by sentence length as AutoGen's Table 4
(<= 10 and > 10 tokens); a CSV of every answer and a plot."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from textvae.atomic import write_atomic
from textvae.errors import TextVAEError
from textvae.study.store import StudyStore

SHORT = 10
"""AutoGen Table 4's split: sentences of at most this many tokens are short."""


def binomial_p(wins: int, losses: int) -> float:
    """Two-sided exact binomial test of ``wins`` against ``losses`` under p = 1/2 (ties left out); 1 when none."""
    if wins + losses == 0:
        return 1.0
    try:
        from scipy.stats import binomtest
    except ImportError:
        raise TextVAEError("the binomial test needs scipy: pip install 'textvae[web]'") from None

    return float(binomtest(wins, wins + losses, 0.5).pvalue)


def _pairs(answers: list[dict]) -> list[dict]:
    counts: dict[tuple[str, str], dict] = {}
    for a in answers:
        pair = tuple(sorted(a["systems"]))
        c = counts.setdefault(pair, {"wins": 0, "losses": 0, "ties": 0})
        c["ties" if a["choice"] == "tie" else "wins" if a["choice"] == pair[0] else "losses"] += 1
    rows = []
    for (a, b), c in sorted(counts.items()):
        n = c["wins"] + c["losses"] + c["ties"]
        rows.append({"system": a, "against": b, **c, "answers": n, "win_rate": c["wins"] / n,
                     "p_value": binomial_p(c["wins"], c["losses"])})
    return rows


def _sense(answers: list[dict]) -> list[dict]:
    rows = []
    for system, group in itertools.groupby(sorted(answers, key=lambda a: a["systems"][0]), lambda a: a["systems"][0]):
        group = list(group)
        row = {"system": system, "answers": len(group)}
        for name, keep in (("all", lambda n: True), ("short", lambda n: n <= SHORT), ("long", lambda n: n > SHORT)):
            chosen = [a for a in group if keep(len(a["sentences"][0].split()))]
            row[f"yes_{name}"] = sum(a["choice"] == "yes" for a in chosen) / len(chosen) if chosen else None
            row[f"n_{name}"] = len(chosen)
        rows.append(row)
    return rows


def results(store: StudyStore, sid: str) -> dict:
    """Keys: study (see :meth:`StudyStore.study`), answers (how many), and ``pairs`` [{system, against, wins
    (answers preferring ``system``), losses, ties ("cannot tell"), answers, win_rate, p_value}] for groups and
    reconstruction studies, or ``systems`` [{system, answers, yes_all, yes_short, yes_long, n_all, n_short,
    n_long}] (fractions of "yes"; short: <= 10 tokens) for sense studies."""
    study = store.study(sid)
    answers = store.answers(sid)
    out = {"study": study, "answers": len(answers)}
    if study["kind"] == "sense":
        out["systems"] = _sense(answers)
    else:
        out["pairs"] = _pairs(answers)
    return out


def results_csv(store: StudyStore, sid: str) -> str:
    """Every answer of a study as CSV text: rater, question, item, systems, choice, answered (Unix time)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["rater", "question", "item", "systems", "choice", "answered"])
    for a in store.answers(sid):
        w.writerow([a["rater"], a["pos"] + 1, a["item"], "|".join(a["systems"]), a["choice"], f"{a['answered']:.3f}"])
    return buf.getvalue()


def results_plot(res: dict, path: str | Path | None = None) -> bytes:
    """A bar chart of :func:`results` (wins/ties/losses per pair, or yes-fractions per system and length) as PNG
    bytes, also written atomically to ``path`` when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    if "pairs" in res:
        labels = [f"{p['system']}\nvs {p['against']}" for p in res["pairs"]]
        left = [0.0] * len(labels)
        for key, colour, label in (("wins", "#4c72b0", "first system preferred"), ("ties", "#bbbbbb", "cannot tell"),
                                   ("losses", "#dd8452", "second system preferred")):
            vals = [p[key] / p["answers"] for p in res["pairs"]]
            ax.barh(labels, vals, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_xlabel("fraction of answers")
    else:
        names = [s["system"] for s in res["systems"]]
        for k, (key, label) in enumerate((("yes_all", "all"), ("yes_short", "<= 10 tokens"),
                                          ("yes_long", "> 10 tokens"))):
            ax.bar([i + 0.27 * (k - 1) for i in range(len(names))], [s[key] or 0 for s in res["systems"]], 0.27,
                   label=label)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("fraction judged to make sense")
        ax.set_ylim(0, 1)
    ax.set_title(f"{res['study']['name']} ({res['answers']} answers)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    if path is not None:
        write_atomic(path, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))
    return buf.getvalue()
