"""The unit of every reported figure, in one place: the CLI prints them beside the figures, plots label their axes
with them (``docs/metrics.md`` defines the figures)."""

from __future__ import annotations

UNITS = {"rec": "nats/sentence", "kl": "nats/sentence", "neg_elbo": "nats/sentence, the bound",
         "nll_iw": "nats/sentence", "nll": "nats/sentence, exact", "ppl_elbo": "per token", "ppl_iw": "per token",
         "ppl": "per token, exact", "ppl_rec": "per token", "mi": "nats", "au": "active units",
         **{f"{k}_bpc": "bits per character, </s> counted" for k in ("rec", "kl", "neg_elbo", "nll_iw", "nll")}}
"""Figure -> its unit, as printed after the value."""
