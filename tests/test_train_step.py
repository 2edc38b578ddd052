"""train_step's gradient clipping gives what torch.nn.utils.clip_grad_norm_ gives, bit for bit."""

import copy

import pytest
import torch

from textvae.data.batching import make_batch
from textvae.training.trainer import clip_gradients


@pytest.mark.parametrize("max_norm", [1e-3, 1e6])  # clipped, and left alone
def test_clip_gradients_equals_clip_grad_norm(make_model, make_sentences, max_norm):
    model = make_model("vae", vocab_size=12).train()
    batch = make_batch(make_sentences(6, 12), list(range(6)))
    ref = copy.deepcopy(model)
    for m in (model, ref):
        m(batch, generator=torch.Generator().manual_seed(0)).rec.sum().backward()
    torch.nn.utils.clip_grad_norm_(ref.parameters(), max_norm)
    before = [p.grad.clone() for p in model.parameters()]
    clip_gradients(model, max_norm)
    changed = False
    for p, q, g in zip(model.parameters(), ref.parameters(), before, strict=True):
        assert torch.equal(p.grad, q.grad)
        changed |= not torch.equal(p.grad, g)
    assert changed == (max_norm < 1)
