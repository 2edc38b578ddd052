"""What `textvae train` and `textvae evaluate` print: metrics, prior samples, test reconstructions."""

from __future__ import annotations

import torch

from textvae.data.batching import make_batch
from textvae.data.corpus import Split
from textvae.data.tokenize import detokenize
from textvae.data.vocab import Vocab
from textvae.decoding.greedy import greedy_decode
from textvae.models.vae import TextVAE

METRIC_ORDER = ("rec", "kl", "neg_elbo", "nll_iw", "nll", "ppl_elbo", "ppl_iw", "ppl", "ppl_rec", "mi", "au")


def format_metrics(metrics: dict) -> str:
    head = f"{metrics['split']}: {metrics['sentences']} sentences, {metrics['tokens']} tokens (</s> counted)"
    rows = [f"  {k:<9} {metrics[k]:.3f}" if isinstance(metrics[k], float) else f"  {k:<9} {metrics[k]}"
            for k in METRIC_ORDER if k in metrics]
    if "mi" in metrics:
        rows.append(f"  (mi: {metrics['mi_variant']} estimate; nats per sentence unless ppl)")
    return "\n".join([head, *rows])


@torch.no_grad()
def samples_text(model: TextVAE, vocab: Vocab, split: Split, n: int, kind: str = "word", seed: int = 0,
                 device: str = "cpu") -> str:
    """n prior samples (greedy) and n test reconstructions from the posterior mean, as text."""
    g = torch.Generator().manual_seed(seed)
    lines = []
    if model.has_latent:
        z = torch.randn(n, model.z_dim, generator=g).to(device)
        lines.append("samples from the prior (z ~ N(0, I), greedy decoding, <unk> banned):" if model.is_stochastic else
                     "decodes of z ~ N(0, I) (an autoencoder has no prior: for contrast only; greedy, <unk> banned):")
        lines += [f"  {detokenize(vocab.decode(s), kind)}" for s in greedy_decode(model, z, ban_unk=True)]
        idx = torch.randperm(len(split), generator=g)[:n].tolist()
        batch = make_batch([split.ids[i] for i in idx], idx).to(device)
        mu, _ = model.posterior(batch)
        lines.append("reconstructions (posterior mean, greedy decoding, <unk> banned):")
        for i, s in zip(idx, greedy_decode(model, mu, ban_unk=True), strict=True):
            lines.append(f"  in:  {detokenize(vocab.decode(split.ids[i]), kind)}")
            lines.append(f"  out: {detokenize(vocab.decode(s), kind)}")
    else:
        lines.append("the RNNLM's greedy sentence (deterministic, <unk> banned):")
        lines += [f"  {detokenize(vocab.decode(s), kind)}" for s in greedy_decode(model, None, ban_unk=True)]
    return "\n".join(lines)
