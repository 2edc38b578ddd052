"""Plain-text forms of what the session functions return: metrics and the end-of-training showcase."""

from __future__ import annotations

METRIC_ORDER = ("rec", "kl", "neg_elbo", "nll_iw", "nll", "ppl_elbo", "ppl_iw", "ppl", "ppl_rec", "mi", "au")


def format_metrics(metrics: dict) -> str:
    """The metrics of ``textvae.session.evaluate_split``, one per line, with the split's size on top."""
    head = f"{metrics['split']}: {metrics['sentences']} sentences, {metrics['tokens']} tokens (</s> counted)"
    rows = [f"  {k:<9} {metrics[k]:.3f}" if isinstance(metrics[k], float) else f"  {k:<9} {metrics[k]}"
            for k in METRIC_ORDER if k in metrics]
    if "mi" in metrics:
        rows.append(f"  (mi: {metrics['mi_variant']} estimate; nats per sentence unless ppl)")
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
    return "\n".join(lines)
