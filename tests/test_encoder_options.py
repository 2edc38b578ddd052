"""mu-Forcing's set-up: the bidirectional encoder, layer normalisation, element-wise gradient clipping."""

import pytest
import torch
from torch import nn

from textvae.config import Recipe
from textvae.data.batching import make_batch
from textvae.objectives import Objective
from textvae.training.step import train_step


def test_bidirectional_summary_is_last_forward_and_first_backward_state(make_model, make_sentences):
    model = make_model("vae", vocab_size=12, encoder={"bidirectional": True})
    enc = model.encoder
    assert enc.out_dim == 32 and model.latent.proj.in_features == 32
    fwd, bwd = nn.LSTM(8, 16, batch_first=True), nn.LSTM(8, 16, batch_first=True)
    for name, _ in fwd.named_parameters():  # the two directions as separate unidirectional LSTMs
        getattr(fwd, name).data.copy_(getattr(enc.lstm, name))
        getattr(bwd, name).data.copy_(getattr(enc.lstm, name + "_reverse"))
    sents = make_sentences(7, 12, 1, 9, seed=3)
    batch = make_batch(sents, list(range(7)))
    with torch.no_grad():
        got = enc(batch.tgt, batch.lengths)
        for i in range(7):
            x = enc.embed(batch.tgt[i : i + 1, : batch.lengths[i]])  # the sentence alone, no padding
            h_fwd = fwd(x)[0][0, -1]
            h_bwd = bwd(x.flip(1))[0][0, -1]
            torch.testing.assert_close(got[i], torch.cat([h_fwd, h_bwd]), rtol=1e-5, atol=1e-6)


def test_layer_norm_normalises_summary_and_decoder_outputs(make_model, make_sentences):
    model = make_model("vae", vocab_size=12, encoder={"layer_norm": True, "bidirectional": True},
                       decoder={"layer_norm": True})
    batch = make_batch(make_sentences(5, 12), list(range(5)))
    with torch.no_grad():
        for h in (model.encoder(batch.tgt, batch.lengths), model.decoder(batch.inp, torch.randn(5, 3)).h):
            torch.testing.assert_close(h.mean(-1), torch.zeros(h.shape[:-1]), atol=1e-5, rtol=0)
            torch.testing.assert_close(h.var(-1, unbiased=False), torch.ones(h.shape[:-1]), atol=1e-2, rtol=0)  # eps


def test_layer_norm_decoder_steps_equal_teacher_forcing(make_model, make_sentences):
    model = make_model("vae", vocab_size=12, encoder={"layer_norm": True}, decoder={"layer_norm": True})
    with torch.no_grad():
        model.decoder.norm.weight.uniform_(0.5, 2.0)  # not the identity affine
        model.decoder.norm.bias.uniform_(-1.0, 1.0)
    batch = make_batch(make_sentences(4, 12, 3, 3), list(range(4)))
    z = torch.randn(4, 3)
    dec = model.decoder
    with torch.no_grad():
        full = dec.logits(dec(batch.inp, z).h)
        state = dec.init_state(z, 4)
        for t in range(batch.inp.shape[1]):
            step, state = dec.step(batch.inp[:, t], state, z)
            torch.testing.assert_close(step, full[:, t], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clip_value", [1e-4, 0.0])
def test_clip_value_bounds_every_gradient_element(make_model, make_sentences, clip_value):
    model = make_model("vae", vocab_size=12).train()
    objective = Objective.from_config(Recipe().objective, model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = make_batch(make_sentences(6, 12), list(range(6)))
    train_step(model, objective, opt, batch, 0, 0.0, torch.autocast("cpu", enabled=False), clip_value)
    largest = max(p.grad.abs().max().item() for p in model.parameters())  # the gradients the step used
    if clip_value:
        assert largest == pytest.approx(clip_value)
    else:
        assert largest > 1e-2  # unclipped gradients are far larger: the bound above is not vacuous
