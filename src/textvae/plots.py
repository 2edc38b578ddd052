"""`textvae plot RUN`: the curves of a run's metrics.jsonl (matplotlib, imported only here)."""

from __future__ import annotations

import json
from pathlib import Path

from textvae.atomic import write_atomic
from textvae.errors import BadValue, TextVAEError
from textvae.evaluation.units import UNITS


def save_figure(fig, out: str | Path) -> Path:
    """Write a matplotlib figure to ``out`` (PNG, 110 dpi) atomically and close it."""
    import matplotlib.pyplot as plt

    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return Path(out)


def read_log(path: Path) -> tuple[list[dict], list[dict]]:
    """Training and validation records of a metrics.jsonl (a line cut short by a kill is skipped)."""
    if not path.is_file():
        raise TextVAEError(f"{path}: no metrics log")
    train, valid = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        (train if rec.get("kind") == "train" else valid if rec.get("kind") == "valid" else []).append(rec)
    if not train and not valid:
        raise TextVAEError(f"{path}: no training or validation records yet")
    return train, valid


def plot_run(run: Path) -> Path:
    """Write RUN/plots/training.png: training rec, KL and neg_elbo by step, with the validation loss; the KL
    share of the objective by step (AutoGen Fig. 2); validation mi (nats,
    left axis) and active units (right axis) by epoch; the distribution of posterior means at the first and last
    validation (mu-Forcing Fig. 2). Every point is marked, so a run with one log line still shows it. Panels
    without data are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    train, valid = read_log(run / "metrics.jsonl")
    panels = []
    if train:
        panels.append("losses")
        if any("kl_share" in r for r in train):
            panels.append("kl_share")
    if any("mi" in r or "au" in r for r in valid):
        panels.append("mi_au")
    hists = [r for r in valid if "mu_hist" in r]
    if hists:
        panels.append("mu")
    lm = any("nll" in r for r in valid)  # an RNNLM: its training rec is its NLL, and it has no KL nor bound
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), squeeze=False, layout="constrained")
    for ax, panel in zip(axes[0], panels, strict=True):
        ax.ticklabel_format(axis="y", useOffset=False)  # values as they are, not "+1.018e1" and offsets from it
        if panel == "losses":
            for key in ("rec",) if lm else ("rec", "kl", "neg_elbo", "bow"):
                pts = [(r["step"], r[key]) for r in train if key in r]
                if pts:
                    ax.plot(*zip(*pts, strict=True), ".-", label="nll" if lm else key)
            for key in ("neg_elbo", "nll", "rec"):  # the validation loss model selection uses
                pts = [(r["step"], r[key]) for r in valid if r.get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), "o--", color="black", label=f"valid {key}")
                    break
            ax.set(xlabel="step", ylabel="nats per sentence", title="training and validation loss")
            ax.legend()
        elif panel == "kl_share":
            pts = [(r["step"], r["kl_share"]) for r in train if "kl_share" in r]
            ax.plot(*zip(*pts, strict=True), ".-", color="tab:red")
            ax.set(xlabel="step", ylabel="% of the objective", title="KL term's share of the objective")
        elif panel == "mi_au":
            right = ax.twinx()  # mi in nats on the left, active units (a count) on the right
            for axis, key, style, color, label in ((ax, "mi", "o-", "tab:blue", "mi (nats)"),
                                                   (right, "au", "s--", "tab:orange", "active units")):
                pts = [(r["epoch"], r[key]) for r in valid if r.get(key) is not None]
                if pts:
                    axis.plot(*zip(*pts, strict=True), style, color=color, label=label)
                axis.set_ylabel(label, color=color)
            right.set_ylim(bottom=0)
            right.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of units
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # validation happens at whole epochs
            ax.set(xlabel="epoch", title="validation: mutual information, active units")
        else:
            first_last = [(hists[0], ":"), (hists[-1], "-")] if len(hists) > 1 else [(hists[0], "-")]
            for rec, style in first_last:
                h = rec["mu_hist"]
                n = len(h["counts"])
                width = (h["hi"] - h["lo"]) / n
                centres = [h["lo"] + width * (i + 0.5) for i in range(n)]
                total = max(sum(h["counts"]), 1)
                ax.plot(centres, [c / total / width for c in h["counts"]], style, label=f"epoch {rec['epoch']}")
            ax.set(xlabel="posterior mean (all dimensions)", ylabel="density", title="distribution of mu")
            ax.legend()
    fig.suptitle(run.name)
    out = run / "plots" / "training.png"
    return save_figure(fig, out)


def plot_compare(result: dict, figures: list[str], out: Path) -> Path:
    """Bar charts of chosen report figures across runs (``textvae.session.compare``'s result), one panel per
    figure, written to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unknown = [f for f in figures if f not in result["figures"]]
    if unknown:
        raise BadValue("figures", f"no run has {', '.join(unknown)} (figures: {', '.join(result['figures'])})")
    rows = result["rows"]
    names = [Path(r["run"]).name for r in rows]
    fig, axes = plt.subplots(1, len(figures), figsize=(max(4.0, 0.6 * len(rows) + 2) * len(figures), 3.8),
                             squeeze=False, layout="constrained")
    for ax, key in zip(axes[0], figures, strict=True):
        values = [r[key] if r[key] is not None else float("nan") for r in rows]
        bars = ax.bar(range(len(rows)), values, color="tab:blue")
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
        k = {r["iw_samples"] for r in rows if r["iw_samples"]}
        title = key + (f" (K={', '.join(map(str, sorted(k)))})" if key in ("nll_iw", "ppl_iw") and k else "")
        ax.set(title=title, xticks=range(len(rows)), ylabel=UNITS.get(key, ""))
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    return save_figure(fig, out)


def plot_canvas(data: dict, out: Path) -> Path:
    """AUTR's canvas (``textvae.session.canvas``'s result) as a picture: the sentence read off the canvas after
    each chosen step (Fig. 2) over a heat map of every slot's cumulative attention by step (Fig. 3), to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    import matplotlib.pyplot as plt

    att = data["attention"]
    lines = [textwrap.fill(f"t = {r['step']:>3}:  {r['sentence']}", 100, subsequent_indent=" " * 9)
             for r in data["reads"]]
    n_text = sum(line.count("\n") + 1 for line in lines)
    fig = plt.figure(figsize=(9.0, 0.18 * n_text + 1.0 + 2.5 + 0.08 * len(att)))
    top, ax = fig.subplots(2, 1, height_ratios=[0.18 * n_text + 0.3, 2.5 + 0.08 * len(att)])
    top.axis("off")
    top.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8, transform=top.transAxes)
    image = ax.imshow(att, aspect="auto", cmap="Greys", vmin=0, vmax=1, origin="upper")
    ax.set(xlabel="canvas slot", ylabel="step t", title="cumulative attention per slot")
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    return save_figure(fig, out)
