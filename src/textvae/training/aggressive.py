"""Aggressive inference-network training (He et al. 2019, "Lagging inference networks and posterior collapse").

While aggressive, every training step first updates only the encoder (and the latent heads) on freshly drawn
batches until its loss stops improving (checked every ``CHECK_EVERY`` inner steps, at most
``train.aggressive_steps``), then takes the step's batch for the decoder alone. After each epoch the mutual
information I(x; z) on the validation split is compared with the epoch before: once it stops rising, training
becomes the usual joint updates for good.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from textvae.data.batching import make_batch

CHECK_EVERY = 15
"""Inner steps between checks of the encoder's loss per target token (He et al.'s code: 15)."""


def part_params(model, objective) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(encoder side, decoder side): the encoder and the latent heads; the decoder and the objective's own
    parameters (the bag-of-words head)."""
    enc = [*model.encoder.parameters(), *(model.latent.parameters() if model.latent is not None else [])]
    mine = {id(p) for p in enc}
    dec = [p for p in [*model.parameters(), *objective.parameters()] if id(p) not in mine]
    return enc, dec


def inner_generator(seed: int, step: int) -> torch.Generator:
    """The stream that picks the inner steps' batches of optimiser step ``step``: a resumed run draws the same."""
    state = np.random.SeedSequence([seed & 0xFFFFFFFF, step, 7]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFFFFFFFFFFFFFF)


def encoder_steps(run_step, seqs, batches, max_steps: int, generator: torch.Generator, device: str) -> tuple[int, int]:
    """Encoder-only updates on batches drawn at random from ``batches`` until the mean loss per target token of
    the last CHECK_EVERY steps is no better than that of the CHECK_EVERY before (or ``max_steps``): at least
    2 x CHECK_EVERY steps, as in He et al.'s code.
    ``run_step(batch)`` takes one encoder-only optimiser step and returns its logs. Returns (steps, tokens)."""
    before, loss, tokens, total_tokens = math.inf, 0.0, 0, 0
    for sub in range(max_steps):
        k = int(torch.randint(len(batches), (1,), generator=generator))
        idx = batches[k]
        batch = make_batch([seqs[i] for i in idx], idx)
        tokens += batch.n_tokens
        total_tokens += batch.n_tokens
        loss += float(run_step(batch.to(device))["loss"]) * batch.size
        if (sub + 1) % CHECK_EVERY == 0:  # after every CHECK_EVERY steps (the first window against infinity)
            now = loss / tokens
            if now >= before:
                return sub + 1, total_tokens
            before, loss, tokens = now, 0.0, 0
    return max_steps, total_tokens


def after_epoch(state, mi: float | None, epoch: int, log) -> None:
    """Aggressive training stays on while the validation MI (nats) rises; the first epoch where it does not
    (``epoch``, 1-based, for the message) ends it for good. ``state``: the run's TrainState."""
    if not state.aggressive or mi is None:
        return
    if mi <= state.aggressive_mi:
        state.aggressive = False
        log(f"epoch {epoch}: validation mi {mi:.2f} did not rise above {state.aggressive_mi:.2f}: aggressive "
            f"encoder training ends")
    state.aggressive_mi = mi
