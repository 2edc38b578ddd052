"""`textvae plot RUN`: the curves of a run's metrics.jsonl (matplotlib, imported only here)."""

from __future__ import annotations

import json
from pathlib import Path

from textvae.atomic import write_atomic
from textvae.errors import TextVAEError


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
    """Write RUN/plots/training.png: training rec, KL and neg_elbo by step; the KL share of the objective by
    step (AutoGen Fig. 2); validation mi and au by epoch; the distribution of posterior means at the first and
    last validation (mu-Forcing Fig. 2). Panels without data are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "losses":
            for key in ("rec", "kl", "neg_elbo", "bow"):
                pts = [(r["step"], r[key]) for r in train if key in r]
                if pts:
                    ax.plot(*zip(*pts, strict=True), label=key)
            ax.set(xlabel="step", ylabel="nats per sentence", title="training")
            ax.legend()
        elif panel == "kl_share":
            pts = [(r["step"], r["kl_share"]) for r in train if "kl_share" in r]
            ax.plot(*zip(*pts, strict=True), color="tab:red")
            ax.set(xlabel="step", ylabel="% of the objective", title="KL term's share of the objective")
        elif panel == "mi_au":
            for key, style in (("mi", "o-"), ("au", "s--")):
                pts = [(r["epoch"], r[key]) for r in valid if key in r]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, label=key + (" (nats)" if key == "mi" else ""))
            ax.set(xlabel="epoch", title="validation: mutual information, active units")
            ax.legend()
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
    fig.tight_layout()
    out = run / "plots" / "training.png"
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return out
