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


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion k / n (None when n is 0): unlike k/n +- 1.96 SE it stays in
    [0, 1] and is sound for the small counts of a study."""
    if n == 0:
        return None
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * ((p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_p(yes_a: int, n_a: int, yes_b: int, n_b: int) -> float:
    """Two-sided Fisher exact test that two systems' yes-rates differ (1 when either has no answer)."""
    if n_a == 0 or n_b == 0:
        return 1.0
    try:
        from scipy.stats import fisher_exact
    except ImportError:
        raise TextVAEError("the Fisher test needs scipy: pip install 'textvae[web]'") from None
    return float(fisher_exact([[yes_a, n_a - yes_a], [yes_b, n_b - yes_b]]).pvalue)


def _pairs(answers: list[dict]) -> list[dict]:
    counts: dict[tuple[str, str], dict] = {}
    for a in answers:
        pair = tuple(sorted(a["systems"]))
        c = counts.setdefault(pair, {"wins": 0, "losses": 0, "ties": 0})
        c["ties" if a["choice"] == "tie" else "wins" if a["choice"] == pair[0] else "losses"] += 1
    rows = []
    for (a, b), c in sorted(counts.items()):
        n = c["wins"] + c["losses"] + c["ties"]
        decided = c["wins"] + c["losses"]
        rows.append({"system": a, "against": b, **c, "answers": n, "win_rate": c["wins"] / n,
                     "win_share": c["wins"] / decided if decided else None,
                     "win_share_ci": wilson(c["wins"], decided), "p_value": binomial_p(c["wins"], c["losses"])})
    return rows


def _sense(answers: list[dict]) -> list[dict]:
    rows = []
    for system, group in itertools.groupby(sorted(answers, key=lambda a: a["systems"][0]), lambda a: a["systems"][0]):
        group = list(group)
        row = {"system": system, "answers": len(group)}
        for name, keep in (("all", lambda n: True), ("short", lambda n: n <= SHORT), ("long", lambda n: n > SHORT)):
            chosen = [a for a in group if keep(len(a["sentences"][0].split()))]
            yes = sum(a["choice"] == "yes" for a in chosen)
            row[f"yes_{name}"] = yes / len(chosen) if chosen else None
            row[f"ci_{name}"] = wilson(yes, len(chosen))
            row[f"n_{name}"] = len(chosen)
            row[f"k_{name}"] = yes
        rows.append(row)
    return rows


def _sense_tests(systems: list[dict]) -> list[dict]:
    """Every pair of systems: do their yes-rates differ (all sentences)? Two-sided Fisher exact test."""
    return [{"system": a["system"], "against": b["system"], "yes": a["yes_all"], "yes_against": b["yes_all"],
             "p_value": fisher_p(a["k_all"], a["n_all"], b["k_all"], b["n_all"])}
            for a, b in itertools.combinations(systems, 2)]


def results(store: StudyStore, sid: str) -> dict:
    """Keys: study (see :meth:`StudyStore.study`), answers (how many), and ``pairs`` [{system, against, wins
    (answers preferring ``system``), losses, ties ("cannot tell"), answers, win_rate (wins / answers), win_share
    (wins / decided answers), win_share_ci (its 95% Wilson interval), p_value (two-sided binomial test of wins
    against losses)}] for groups and reconstruction studies, or ``systems`` [{system, answers, yes_all, yes_short,
    yes_long (fractions of "yes"; short: <= 10 tokens), ci_all, ci_short, ci_long (95% Wilson intervals), n_*,
    k_* (answers, yes answers)}] and ``tests`` [{system, against, yes, yes_against, p_value (two-sided Fisher exact
    test of the two yes-rates)}] for sense studies."""
    study = store.study(sid)
    answers = store.answers(sid)
    out = {"study": study, "answers": len(answers)}
    if study["kind"] == "sense":
        out["systems"] = _sense(answers)
        out["tests"] = _sense_tests(out["systems"])
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

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if "pairs" in res:  # stacked shares of all answers; the black bar: the 95% interval of the decided share
        labels = [f"{p['system']}\nvs {p['against']}" for p in res["pairs"]]
        left = [0.0] * len(labels)
        for key, colour, label in (("wins", "#4c72b0", "first system preferred"), ("ties", "#bbbbbb", "cannot tell"),
                                   ("losses", "#dd8452", "second system preferred")):
            vals = [p[key] / p["answers"] for p in res["pairs"]]
            ax.barh(labels, vals, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        for i, p in enumerate(res["pairs"]):
            if p["win_share_ci"]:
                lo, hi = p["win_share_ci"]
                ax.errorbar([p["win_share"]], [i], xerr=[[p["win_share"] - lo], [hi - p["win_share"]]], fmt="o",
                            color="black", capsize=4, label="first preferred among decided, 95% CI" if i == 0 else None)
        ax.axvline(0.5, color="black", lw=0.6, ls=":")
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of answers")
    else:
        names = [s["system"] for s in res["systems"]]
        for k, (key, label) in enumerate((("all", "all"), ("short", "<= 10 tokens"), ("long", "> 10 tokens"))):
            xs = [i + 0.27 * (k - 1) for i in range(len(names))]
            ys = [s[f"yes_{key}"] or 0 for s in res["systems"]]
            err = [[y - (s[f"ci_{key}"] or (y, y))[0] for y, s in zip(ys, res["systems"], strict=True)],
                   [(s[f"ci_{key}"] or (y, y))[1] - y for y, s in zip(ys, res["systems"], strict=True)]]
            ax.bar(xs, ys, 0.27, label=label, yerr=err, capsize=3, error_kw={"lw": 0.8})
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("fraction judged to make sense (95% CI)")
        ax.set_ylim(0, 1)
    ax.set_title(f"{res['study']['name']} ({res['answers']} answers)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)  # below, off the bars
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    if path is not None:
        write_atomic(path, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))
    return buf.getvalue()
