"""Plain-text forms of what the session functions return: metrics and the end-of-training showcase."""

from __future__ import annotations

import csv
import io

from textvae.evaluation.collapse import collapse_note
from textvae.evaluation.units import UNITS

METRIC_ORDER = ("rec", "kl", "neg_elbo", "nll_iw", "nll", "rec_bpc", "kl_bpc", "neg_elbo_bpc", "nll_iw_bpc", "nll_bpc",
                "ppl_elbo", "ppl_iw", "ppl", "ppl_rec", "mi", "au")


def format_metrics(metrics: dict) -> str:
    """The metrics of ``textvae.session.evaluate_split``, one per line with its unit (and K beside the importance
    sampled ones), the split's size on top and a warning when the vocabulary was cut."""
    head = f"{metrics['split']}: {metrics['sentences']} sentences, {metrics['tokens']} tokens (</s> counted)"
    rows = []
    for k in METRIC_ORDER:
        if k not in metrics:
            continue
        value = f"{metrics[k]:.3f}" if isinstance(metrics[k], float) else str(metrics[k])
        unit = UNITS[k]
        if k in ("nll_iw", "ppl_iw", "nll_iw_bpc"):
            unit += f", K={metrics['iw_samples']} importance samples"
            if (metrics.get("iw_precision") or {}).get("bf16"):
                unit += ", bf16"
        if k == "mi":
            unit += f", {metrics['mi_variant']} estimate"
        if k == "au" and "z_dim" in metrics:
            unit += f" of {metrics['z_dim']}"
        rows.append(f"  {k:<12} {value:>9}  ({unit})")
    p = metrics.get("iw_precision") or {}
    if p.get("setting") == "auto" and "bf16_error" in p:
        rows.append(f"  note: eval.bf16 auto chose fp32 for nll_iw (bf16 autocast does not run on this machine: "
                    f"{p['bf16_error']})")
    elif p.get("setting") == "auto":
        rows.append(f"  note: eval.bf16 auto chose {'bf16' if p['bf16'] else 'fp32'} for nll_iw (probe: "
                    f"{p['fp32_s'] * 1e3:.0f} ms fp32, {p['bf16_s'] * 1e3:.0f} ms bf16, bf16 - fp32 = "
                    f"{p['bias']:+.3f} nats per sentence)")
    note = collapse_note(metrics, metrics["split"])
    if note:
        rows.append(f"  warning: {note}")
    if metrics.get("vocab_size_limit"):
        rows.append(f"  note: vocabulary cut to the {metrics['vocab']:,} most frequent words (data.vocab_size): these "
                    f"figures are not comparable with runs on the full vocabulary")
    return "\n".join([head, *rows])


def format_showcase(data: dict) -> str:
    """The prior samples and reconstructions of ``textvae.session.showcase``."""
    if data["model"] == "lm":
        return "\n".join(["the RNNLM's greedy sentence (deterministic, <unk> banned):",
                          *[f"  {x}" for x in data["samples"]]])
    lines = ["samples from the prior (z ~ N(0, I), greedy decoding, <unk> banned):" if data["model"] == "vae" else
             "decodes of z ~ N(0, I) (an autoencoder has no prior: for contrast only; greedy, <unk> banned):"]
    lines += [f"  {x}" for x in data["samples"]]
    lines.append("reconstructions (posterior mean, greedy decoding, <unk> banned):")
    for r in data["reconstructions"]:
        lines += [f"  in:  {r['input']}", f"  out: {r['output']}"]
    outs = [r["output"] for r in data["reconstructions"]]
    if len(outs) > 1 and len(set(outs)) == 1:
        lines.append(f"note: all {len(outs)} reconstructions are the same sentence: the decoder does not use the code "
                     f"(yet); train longer, or see the warning above")
    b = data["bleu"]
    lines.append(f"reconstruction BLEU {b['bleu']:.1f} (exact {100 * b['exact']:.1f}%) on the {b['sentences']:,} "
                 f"{data.get('split', 'test')} sentences: 0-100, how much of each sentence its posterior mean gives "
                 f"back; kl above is how much the code says about a sentence (nats; 0: the model ignores it)")
    return "\n".join(lines)


def _cell(row: dict, key: str) -> str:
    v = row[key]
    if v is None:
        return "-"
    if key in ("nll_iw", "ppl_iw"):
        return f"{v:.2f} (K={row['iw_samples']})"
    if key == "train_minutes":
        return f"{v:.1f}"
    if key == "params":
        return f"{v / 1e6:.2f}M"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def format_compare(result: dict) -> str:
    """A text table of ``textvae.session.compare``'s result: one row per run."""
    columns = ["run", "type", "model", "corpus", "vocab", "params", *result["figures"], "epochs", "train_minutes"]
    table = [columns] + [[_cell(r, c) for c in columns] for r in result["rows"]]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    notes = ["(rec, kl, neg_elbo, nll_iw, nll: nats per sentence on the test split; ppl per token; mi in nats; "
             "au active units)"]
    cut = [r["run"] for r in result["rows"] if r["vocab_size_limit"]]
    if cut:
        notes.append(f"(vocabulary cut by data.vocab_size in {', '.join(cut)}: not comparable with full-vocabulary "
                     f"runs)")
    missing = [r["run"] for r in result["rows"] if r["report"] is None]
    if missing:
        notes.append(f"(no report yet: {', '.join(missing)})")
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:], *notes])


def format_csv(result: dict) -> str:
    """``textvae.session.compare``'s rows as CSV (every column, raw values)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(result["rows"][0]) if result["rows"] else ["run"])
    writer.writeheader()
    writer.writerows(result["rows"])
    return buf.getvalue()
