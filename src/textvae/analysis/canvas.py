"""AUTR's canvas as it is written (the paper's Fig. 2 and 3): the sentence that beam search reads off the canvas
after chosen steps, and the cumulative attention of every slot after every step. Computed only when asked."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textvae.decoding.beam import beam_search
from textvae.models.vae import TextVAE


@dataclass
class _CanvasAt:
    """AUTR's decoder reading the canvas after ``steps`` of its T writing steps; decoding calls only these."""

    decoder: object
    steps: int

    def init_state(self, z: torch.Tensor, batch_size: int, device=None):
        canvas, _ = self.decoder.canvas(z, steps=self.steps)
        return canvas, 0, canvas.new_zeros(z.shape[0], 0, self.decoder.embed_dim)

    def step(self, tokens, state, z):
        return self.decoder.step(tokens, state, z)

    def reorder_state(self, state, index):
        return self.decoder.reorder_state(state, index)


@dataclass
class _ModelView:
    """What beam search needs of a model: its decoder, and eval mode (``training`` False)."""

    decoder: _CanvasAt
    training: bool = False


def is_canvas_model(model: TextVAE) -> bool:
    return hasattr(model.decoder, "canvas") and hasattr(model.decoder, "steps")


@torch.no_grad()
def canvas_pictures(model: TextVAE, z: torch.Tensor, at: list[int], width: int = 15) -> dict:
    """z (1, Z) -> {"attention": cumulative attention (T + 1, L) from step 0, "reads": {step: token ids that a
    beam of ``width`` reads off the canvas after that step}} for each step in ``at`` (0 < step <= T)."""
    dec = model.decoder
    _, trace = dec.canvas(z, trace=True)
    reads = {}
    for t in at:
        view = _ModelView(_CanvasAt(dec, t))
        reads[t] = beam_search(view, z, width, dec.max_len, 1, ban_unk=True).best[0]
    return {"attention": trace.attention[:, 0].cpu(), "reads": reads}
