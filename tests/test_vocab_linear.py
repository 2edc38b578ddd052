"""VocabLinear: the output layer whose product runs on a padded row count is the same function as nn.Linear."""

from __future__ import annotations

import copy
import json
import random

import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_recipe, write_recipe
from torch import nn
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config.model import LSTMDecoderConfig, LSTMEncoderConfig, ModelConfig
from textvae.data.batching import make_batch
from textvae.models.build import build_model
from textvae.models.vocab_linear import MIN_PADDED_VOCAB, VocabLinear

V = MIN_PADDED_VOCAB + 6  # padded to the next multiple of 64


def layer(seed: int = 0, bias: bool = True) -> VocabLinear:
    torch.manual_seed(seed)
    return VocabLinear(24, V, bias=bias)


def test_pads_large_vocabularies_only():
    assert layer().pad_rows == -V % 64 > 0
    assert VocabLinear(24, 100).pad_rows == 0
    off = layer()
    off.align = 1
    assert off.pad_rows == 0


@pytest.mark.parametrize("bias", [True, False])
def test_same_logits_and_gradients_as_linear(bias):
    m = layer(bias=bias)
    x = torch.randn(2, 5, 24, requires_grad=True)
    out = m(x)
    assert out.shape == (2, 5, V)
    ref = F.linear(x, m.weight, m.bias)
    torch.testing.assert_close(out, ref)
    t = torch.randint(0, V, (10,))
    grads = torch.autograd.grad(F.cross_entropy(out.reshape(10, V), t), [x, *m.parameters()])
    ref_grads = torch.autograd.grad(F.cross_entropy(ref.reshape(10, V), t), [x, *m.parameters()])
    for g, r in zip(grads, ref_grads, strict=True):
        assert g.shape == r.shape
        torch.testing.assert_close(g, r)
    with torch.no_grad():
        torch.testing.assert_close(m(x), ref.detach())


def test_cached_padding_follows_in_place_updates():
    m = layer()
    x = torch.randn(7, 24)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    with torch.no_grad():
        first = m(x)
    F.cross_entropy(m(x), torch.randint(0, V, (7,))).backward()
    opt.step()  # in place: the kept padded copies are stale now
    with torch.no_grad():
        after = m(x)
        torch.testing.assert_close(after, F.linear(x, m.weight, m.bias))
        assert not torch.allclose(after, first)
        m.bias.fill_(3.0)
        torch.testing.assert_close(m(x), F.linear(x, m.weight, m.bias))
        m.load_state_dict(layer(seed=1).state_dict())
        torch.testing.assert_close(m(x), F.linear(x, m.weight, m.bias))


def test_parameters_made_in_inference_mode():
    with torch.inference_mode():
        m = layer()
        x = torch.randn(3, 24)
        torch.testing.assert_close(m(x), F.linear(x, m.weight, m.bias))
        m.weight.mul_(2.0)
        torch.testing.assert_close(m(x), F.linear(x, m.weight, m.bias))


def test_state_dict_is_linears():
    m = layer()
    plain = nn.Linear(24, V)
    assert {k: v.shape for k, v in m.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    m.load_state_dict(plain.state_dict())
    x = torch.randn(3, 24)
    with torch.no_grad():
        torch.testing.assert_close(m(x), plain(x))
        m(x)
    clone = copy.deepcopy(m)
    assert clone._padded is None and m._padded is not None


def test_padding_does_not_change_a_models_scores():
    """A VAE with a vocabulary over MIN_PADDED_VOCAB: rec and its gradients with the padding and without."""
    cfg = ModelConfig(type="vae", latent_dim=4, encoder=LSTMEncoderConfig(embed_dim=8, hidden_dim=16),
                      decoder=LSTMDecoderConfig(embed_dim=16, hidden_dim=16, tie_embeddings=True))
    torch.manual_seed(0)
    model = build_model(cfg, V)
    assert model.decoder.out.pad_rows > 0 and model.decoder.embed.weight is model.decoder.out.weight
    batch = make_batch([[5, 900, 1029, 7], [1028, 4]], [0, 1])
    z = torch.randn(2, 4)
    off = copy.deepcopy(model)
    off.decoder.out.align = 1
    for m in (model, off):
        m.zero_grad()
        m.rec(batch, z).sum().backward()
    torch.testing.assert_close(model.rec(batch, z), off.rec(batch, z))
    for (name, p), q in zip(model.named_parameters(), off.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    model.eval()
    off.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.rec(batch, z), off.rec(batch, z))


def test_no_stale_copy_after_a_fused_adam_step():
    """The fused Adam step updates parameters in place without moving their version counters: an evaluation
    after training steps must still see the new weights (validation during training used an old output layer
    before this was caught)."""
    torch.manual_seed(0)
    layer = VocabLinear(8, 2000)
    opt = torch.optim.Adam(layer.parameters(), lr=0.1, fused=True)
    x = torch.randn(3, 8)
    layer.eval()
    with torch.no_grad():
        before = layer(x)
    layer.train()
    layer(x).sum().backward()
    opt.step()
    layer.eval()
    with torch.no_grad():
        after = layer(x)
        exact = torch.nn.functional.linear(x, layer.weight, layer.bias)
    assert not torch.equal(before, after)
    torch.testing.assert_close(after, exact, rtol=0, atol=1e-5)


def test_each_validation_during_training_equals_a_fresh_evaluation_of_its_weights(tmp_path):
    """End to end, on a vocabulary the output layer pads (>= MIN_PADDED_VOCAB words) under fused Adam: the last
    validation row a run logs is what `textvae evaluate` measures on the weights it kept (the best, here the last
    of three improving epochs). A copy of any parameter kept across training steps (the stale output layer found
    on 2026-12-04) shows here as a difference."""
    rng, n_words = random.Random(0), MIN_PADDED_VOCAB + 276
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, n in (("train", 1500), ("valid", 40), ("test", 40)):  # runs of consecutive words: learnable
        starts = [(rng.randrange(n_words), rng.randint(3, 8)) for _ in range(n)]
        lines = [" ".join(f"w{(s + i) % n_words}" for i in range(k)) for s, k in starts]
        (corpus / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe = tiny_recipe(corpus, train={"epochs": 3, "optimizer": "adam", "lr": 0.01, "checkpoint_every": 1000},
                         eval={"iw_samples": 0})
    runner, run = CliRunner(), tmp_path / "run"
    trained = runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", recipe)), "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    assert len((run / "vocab.txt").read_text().splitlines()) > MIN_PADDED_VOCAB
    rows = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "valid"]
    assert len(rows) == 3 and all(r["best"] for r in rows), rows  # the kept weights are the last validated
    result = runner.invoke(app, ["evaluate", str(run), "--split", "valid", "--json"])
    assert result.exit_code == 0, result.output
    fresh = json.loads(result.stdout)
    assert (fresh["rec"], fresh["kl"], fresh["neg_elbo"]) == (rows[-1]["rec"], rows[-1]["kl"], rows[-1]["neg_elbo"])
