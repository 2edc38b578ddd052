"""AUTR's best-matching sentence: the corpus sentence x maximising log p(x | z = mu(x~)) for a query x~."""

from __future__ import annotations

import torch

from textvae.data.batching import bucket_order, iterate_batches
from textvae.models.vae import TextVAE, eval_mode
from textvae.progress import task


def best_matching(model: TextVAE, z: torch.Tensor, corpus: list[list[int]], k: int = 1, batch_size: int = 128,
                  per_token: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """For each code z (Q, Z), the k corpus sentences of highest log p(x | z) (nats per sentence, or per token
    with </s> with ``per_token``): scores (Q, k) and corpus indices (Q, k), best first. One decoder pass
    per batch scores every query (rows = batch x Q)."""
    q, n = z.shape[0], len(corpus)
    scores = torch.empty(q, n)
    batches = bucket_order([len(s) for s in corpus], max(1, batch_size // q), False)
    with eval_mode(model), task("score candidates", n) as progress:
        for _, batch in iterate_batches(corpus, batches):
            batch = batch.to(z.device)
            rows = batch.repeat(q)  # sentence-major: sentence i's q rows together
            logp = -model.rec(rows, z.repeat(batch.size, 1)).view(batch.size, q)
            if per_token:
                logp = logp / batch.lengths.unsqueeze(1)
            scores[:, batch.index.cpu()] = logp.T.float().cpu()
            progress.advance(batch.size)
    top = scores.topk(min(k, n), dim=1)
    return top.values, top.indices
