"""Posterior collapse, told to the user: a VAE whose codes carry (almost) nothing about its sentences. Its prior
samples and reconstructions then do not depend on the input, and every figure of the latent space is void."""

from __future__ import annotations

KL_COLLAPSED = 0.1
"""Nats per sentence: a KL below this is collapse (issue 32's line for a baseline that cannot be judged against)."""

ADVICE = ("try objective.free_bits.per_dim: 1.0 with objective.bow.weight: 1.0 (what a VAE recipe that names no "
          "objective gets), objective.word_dropout.keep: 0.5, KL annealing (objective.kl_weight.schedule: linear), "
          "or longer training")


def is_collapsed(metrics: dict) -> bool:
    """Whether figures of ``textvae.evaluation.evaluate`` (of a VAE: with kl and au) show posterior collapse: a KL
    under :data:`KL_COLLAPSED` nats per sentence, or no active unit. False for models without a KL."""
    if "kl" not in metrics or "au" not in metrics:
        return False
    return metrics["kl"] < KL_COLLAPSED or metrics["au"] == 0


def collapse_note(metrics: dict, where: str = "") -> str | None:
    """One line saying that the figures show posterior collapse, why it matters and what to try; None if they do
    not. ``where`` names the figures (e.g. "validation")."""
    if not is_collapsed(metrics):
        return None
    units = f"{metrics['au']} of {metrics['z_dim']}" if "z_dim" in metrics else str(metrics["au"])
    return (f"posterior collapse: {where + ' ' if where else ''}KL {metrics['kl']:.2f} nats per sentence, {units} "
            f"active units, so samples and reconstructions ignore the input; {ADVICE}")
