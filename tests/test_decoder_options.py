"""The LSTM decoder's stacking and weight tying: what they change and what they must not."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner

from textvae.cli import app
from textvae.config import Recipe
from textvae.data.batching import make_batch
from textvae.models.weights import load_weights, save_weights
from textvae.objectives import Objective
from textvae.training.step import train_step

runner = CliRunner()
TIED = {"embed_dim": 16, "hidden_dim": 16, "tie_embeddings": True}


def test_tied_output_layer_is_the_embedding_and_saves_v_times_h_parameters(make_model):
    tied = make_model("vae", vocab_size=30, decoder=TIED)
    untied = make_model("vae", vocab_size=30, decoder={"embed_dim": 16, "hidden_dim": 16})
    assert tied.decoder.embed.weight is tied.decoder.out.weight
    assert untied.n_params - tied.n_params == 30 * 16


def test_tied_matrix_learns_from_both_ends(make_model, make_sentences):
    model = make_model("vae", vocab_size=30, decoder=TIED).train()
    batch = make_batch(make_sentences(6, vocab_size=30, seed=1), list(range(6)))
    loss, _ = Objective.from_config(Recipe().objective, model)(model, batch, 0)
    loss.backward()
    grad = model.decoder.out.weight.grad
    used = batch.inp.unique()
    # rows of words the decoder never reads get gradient from the softmax alone; the sum over both uses differs
    # from the softmax's share wherever a word is read
    model.zero_grad()
    h = model.decoder(batch.inp, model.posterior(batch)[0]).h.detach()
    torch.nn.functional.cross_entropy(model.decoder.logits(h[batch.mask]), batch.tgt[batch.mask],
                                      reduction="sum").backward()
    assert not torch.allclose(grad[used[used > 0]], model.decoder.out.weight.grad[used[used > 0]])


def test_tied_weights_round_trip_through_safetensors(tmp_path, make_model, make_sentences):
    model = make_model("vae", vocab_size=30, seed=1, decoder=TIED)
    save_weights(tmp_path / "w.safetensors", model, "fp")
    other = make_model("vae", vocab_size=30, seed=2, decoder=TIED)
    load_weights(tmp_path / "w.safetensors", other, "fp")
    assert other.decoder.embed.weight is other.decoder.out.weight  # still one matrix after loading
    batch = make_batch(make_sentences(5, vocab_size=30, seed=3), list(range(5)))
    mu = model.posterior(batch)[0]
    assert torch.equal(model.rec(batch, mu), other.rec(batch, mu))


def test_one_layer_initial_state_is_unchanged_by_stacking_support(make_model):
    model = make_model("vae", latent_dim=3)
    z = torch.randn(4, 3)
    h, c = model.decoder.init_state(z, 4)
    hc = model.decoder.init(z)
    assert h.shape == (1, 4, 16)
    assert torch.equal(h[0], torch.tanh(hc[:, :16])) and torch.equal(c[0], hc[:, 16:])


def test_every_layer_gets_its_own_initial_state_from_z(make_model):
    model = make_model("vae", latent_dim=3, decoder={"layers": 3})
    z = torch.randn(4, 3)
    h, c = model.decoder.init_state(z, 4)
    assert h.shape == c.shape == (3, 4, 16)
    assert not torch.allclose(h[0], h[1]) and not torch.allclose(c[1], c[2])
    lm = make_model("lm", decoder={"layers": 2})
    h0, c0 = lm.decoder.init_state(None, 5)
    assert h0.shape == (2, 5, 16) and not h0.any() and not c0.any()


def test_stacked_decoder_trains_and_its_dropout_runs_between_layers(make_model, make_sentences):
    model = make_model("vae", vocab_size=20, decoder={"layers": 2, "dropout": 0.3})
    assert model.decoder.lstm.num_layers == 2 and model.decoder.lstm.dropout == 0.3
    model.train()
    batch = make_batch(make_sentences(8, vocab_size=20, seed=4), list(range(8)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    objective = Objective.from_config(Recipe().objective, model)
    losses = [float(train_step(model, objective, opt, batch, step, 0.0, torch.autocast("cpu", enabled=False))["loss"])
              for step in range(30)]
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize(("override", "message"), [
    ("model.decoder.tie_embeddings=true", "'model.decoder.tie_embeddings' must be false unless "
                                          "model.decoder.embed_dim equals its hidden_dim (8 != 16)"),
    ("model.decoder.layers=0", "'model.decoder.layers' must be >= 1"),
])
def test_bad_stacking_and_tying_settings_are_one_line_errors(tmp_path, override, message):
    corpus = write_corpus(tmp_path / "c", n_train=8)
    raw = tiny_recipe(corpus)
    raw["model"] = {"type": "vae", "latent_dim": 3, "encoder": {"kind": "lstm", "embed_dim": 8, "hidden_dim": 16},
                    "decoder": {"kind": "lstm", "embed_dim": 8, "hidden_dim": 16}}
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--out", str(tmp_path / "run"),
                                 "--set", override])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
