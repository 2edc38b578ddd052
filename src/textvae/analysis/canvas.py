"""AUTR's canvas as it is written (the paper's Fig. 2 and 3): the sentence that beam search reads off the canvas
after chosen steps, and the cumulative attention of every slot after every step. Computed only when asked."""

from __future__ import annotations

import torch

from textvae.decoding.beam import beam_search
from textvae.models.decoders import capabilities
from textvae.models.vae import TextVAE


def is_canvas_model(model: TextVAE) -> bool:
    """Whether the model's decoder writes a canvas (its registry entry declares ``canvas``)."""
    kind = capabilities(model.decoder)
    return bool(kind and kind.canvas)


@torch.no_grad()
def canvas_pictures(model: TextVAE, z: torch.Tensor, at: list[int], width: int = 15) -> dict:
    """z (1, Z) -> {"attention": cumulative attention (T + 1, L) from step 0, "reads": {step: token ids that a
    beam of ``width`` reads off the canvas after that step}} for each step in ``at`` (0 < step <= T)."""
    dec = model.decoder
    _, trace = dec.canvas(z, trace=True)
    reads = {t: beam_search(dec.after(t), z, width, dec.max_len, 1, ban_unk=True).best[0] for t in at}
    return {"attention": trace.attention[:, 0].cpu(), "reads": reads}
