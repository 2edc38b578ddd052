"""train_step's gradient clipping gives what torch.nn.utils.clip_grad_norm_ gives, bit for bit."""

import copy

import pytest
import torch

from textvae.data.batching import make_batch
from textvae.training.step import clip_gradients


@pytest.mark.parametrize("max_norm", [1e-3, 1e6])  # clipped, and left alone
def test_clip_gradients_equals_clip_grad_norm(make_model, make_sentences, max_norm):
    model = make_model("vae", vocab_size=12).train()
    batch = make_batch(make_sentences(6, 12), list(range(6)))
    ref = copy.deepcopy(model)
    for m in (model, ref):
        m(batch, generator=torch.Generator().manual_seed(0)).rec.sum().backward()
    torch.nn.utils.clip_grad_norm_(ref.parameters(), max_norm)
    before = [p.grad.clone() for p in model.parameters()]
    clip_gradients(model.parameters(), max_norm)
    changed = False
    for p, q, g in zip(model.parameters(), ref.parameters(), before, strict=True):
        assert torch.equal(p.grad, q.grad)
        changed |= not torch.equal(p.grad, g)
    assert changed == (max_norm < 1)


@pytest.mark.parametrize("saved_width", [16, 32], ids=["before the padding", "padded parameter"])
def test_optimizer_state_of_another_output_width_is_fitted(make_model, make_sentences, saved_width):
    """Checkpoints hold the output layer's Adam moments at H (before textvae padded it) or at H padded to 32
    (while the padding was in the parameter): both continue with the moments of (V, H)."""
    from textvae.training.checkpoint import fit_optimizer_state

    model = make_model("lm", vocab_size=12).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(make_batch(make_sentences(4, 12), list(range(4)))).rec.sum().backward()
    opt.step()
    w = model.decoder.out.weight
    saved = opt.state_dict()
    saved["state"] = {i: dict(st) for i, st in saved["state"].items()}
    i = [id(p) for p in model.parameters()].index(id(w))
    for k in ("exp_avg", "exp_avg_sq"):
        saved["state"][i][k] = torch.nn.functional.pad(saved["state"][i][k], (0, saved_width - 16))
    fresh = torch.optim.Adam(model.parameters(), lr=0.1)
    fresh.load_state_dict(saved)
    fit_optimizer_state(fresh)
    for k in ("exp_avg", "exp_avg_sq"):
        assert fresh.state[w][k].shape == w.shape == (12, 16)
        assert torch.equal(fresh.state[w][k], opt.state[w][k])
