"""AUTR's canvas decoder against Algorithm 1 and eq. 2-5 of the paper, computed by hand on tiny cases."""

from __future__ import annotations

import pytest
import torch

from textvae.models.decoders.autr import AUTRDecoder, modified_softmax

V, Z, L, E, H = 9, 3, 6, 4, 5


def _decoder(steps: int, seed: int = 0) -> AUTRDecoder:
    torch.manual_seed(seed)
    return AUTRDecoder(V, z_dim=Z, length=L, embed_dim=E, hidden_dim=H, steps=steps).eval()


@pytest.mark.parametrize("steps", [1, 3, 6, 12])
@torch.no_grad()
def test_attention_never_writes_a_slot_more_than_once(steps):
    dec = _decoder(steps)
    with torch.no_grad():
        dec.gate.weight.mul_(20)  # sharp attention: slots fill up
    _, trace = dec.canvas(torch.randn(7, Z) * 3, trace=True)
    cum = trace.attention  # (T + 1, B, L)
    assert torch.equal(cum[0], torch.zeros_like(cum[0])) and torch.equal(trace.canvases[0], torch.zeros(7, L, E))
    gates = cum[1:] - cum[:-1]
    assert gates.min() >= 0
    assert gates.sum(-1).max() <= 1 + 1e-6  # each step's gate sums to at most 1
    assert cum.max() <= 1 + 1e-6  # no slot's cumulative attention above 1
    if steps >= 6:
        assert cum[-1].mean() > 0.5  # sharp attention really fills most of the canvas (the bound is not idle)


def test_modified_softmax_is_eq_2():
    a, s = torch.tensor([[0.3, -1.0, 2.0]]), torch.tensor([[1.0, 0.25, 0.0]])
    e = torch.exp(a) * s
    assert torch.allclose(modified_softmax(a, s), e / e.sum() * s)
    assert torch.equal(modified_softmax(a, torch.zeros_like(s)), torch.zeros_like(s))  # full canvas: no NaN


@torch.no_grad()
def test_final_canvas_and_word_probabilities_follow_algorithm_1_by_hand():
    dec = _decoder(steps=3, seed=2)
    z = torch.randn(1, Z)
    # Algorithm 1, one scalar at a time where the paper writes sums
    h, c, canvas, r = torch.zeros(1, H), torch.zeros(1, H), torch.zeros(L, E), torch.zeros(1, E)
    written = [0.0] * L
    for _ in range(3):
        x = torch.cat([z, r], dim=-1)
        reads = torch.sigmoid(dec.read(torch.cat([x, h], dim=-1)))[0]
        h, c = dec.cell(x, (h, c))
        a = dec.gate(h)[0]
        s = [1 - written[slot] for slot in range(L)]
        denom = sum(float(torch.exp(a[k])) * s[k] for k in range(L))
        g = [float(torch.exp(a[slot])) * s[slot] / denom * s[slot] for slot in range(L)]
        u = dec.write(h)[0]  # one vector of E, written to every slot in proportion to its gate
        canvas = torch.stack([(1 - g[slot]) * canvas[slot] + g[slot] * u for slot in range(L)])
        written = [written[slot] + g[slot] for slot in range(L)]
        r = sum(reads[slot] * canvas[slot] for slot in range(L)).unsqueeze(0)
    got, _ = dec.canvas(z)
    torch.testing.assert_close(got[0], canvas, atol=1e-5, rtol=1e-5)

    # eq. 3-5 for the word at slot 3 of "x1 x2 x3 x4": context of x1..x3 weighted by softmax over (W_l z)_{1..3}
    words = torch.tensor([[1, 5, 6, 7, 8]])  # <bos> x1 x2 x3 x4
    probs = dec.logits(dec(words, z).h).softmax(-1)[0, 3]
    w = torch.softmax(dec.order(z)[0, :3], 0)
    context = sum(w[j] * dec.embed.weight[words[0, 1 + j]] for j in range(3))
    b = canvas[3] + dec.from_context(context) + dec.from_z(z)[0]
    by_hand = torch.stack([torch.exp(dec.embed.weight[v] @ b) for v in range(V)])
    torch.testing.assert_close(probs, by_hand / by_hand.sum(), atol=1e-6, rtol=1e-5)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)
    first = dec.logits(dec(words, z).h).softmax(-1)[0, 0]  # slot 0: no context
    b0 = canvas[0] + dec.from_z(z)[0]
    torch.testing.assert_close(first, torch.softmax(dec.embed.weight @ b0, 0), atol=1e-6, rtol=1e-5)


def test_a_sentence_longer_than_the_canvas_is_refused():
    dec = _decoder(steps=2)
    with pytest.raises(ValueError, match="longer than the decoder's length 6"):
        dec(torch.ones(1, 7, dtype=torch.long), torch.zeros(1, Z))


def _autr_vae(seed: int = 0, vocab: int = 12):
    from textvae.config import Recipe, from_dict
    from textvae.models.build import build_model

    torch.manual_seed(seed)
    recipe = from_dict(Recipe, {"model": {"type": "vae", "latent_dim": Z,
                                          "encoder": {"kind": "lstm", "embed_dim": E, "hidden_dim": H},
                                          "decoder": {"kind": "autr", "length": 10, "embed_dim": E,
                                                      "hidden_dim": H, "steps": 4}}})
    return build_model(recipe.model, vocab).eval()


def test_em_imputation_keeps_visible_words_and_is_reproducible():
    import random

    from textvae.imputation import EMImputer, default_imputer

    model = _autr_vae()
    rng = random.Random(0)
    sentences = [[None if rng.random() < 0.3 else rng.randrange(4, 12) for _ in range(rng.randint(1, 8))]
                 for _ in range(25)] + [[5, 6, 7]]
    imputer = EMImputer(iterations=3, width=3, restarts=4, batch_size=30)
    out = imputer(model, sentences)
    for s, r in zip(sentences, out, strict=True):
        assert len(r.ids) == len(s)
        assert all(w is None or r.ids[i] == w for i, w in enumerate(s))
        assert all(r.ids[i] >= 4 for i, w in enumerate(s) if w is None)
        assert 1 <= r.iteration <= 4  # the restart that won
    assert out[-1].ids == [5, 6, 7]
    again = EMImputer(iterations=3, width=3, restarts=4, batch_size=30)(model, sentences)
    assert [r.ids for r in again] == [r.ids for r in out]  # seeded
    assert isinstance(default_imputer(model), EMImputer)


def test_em_keeps_the_restart_with_the_best_bound():
    """More restarts never give a worse bound: the winner of 6 restarts is at least the winner of its first 2
    (the first 2 restarts are the same draws)."""
    from textvae.imputation import EMImputer

    model = _autr_vae(seed=3)
    sentences = [[None, 5, None, 7, None], [4, None, None], [None, None, 9, None, None, 11]]
    two = EMImputer(iterations=2, width=2, restarts=2, elbo_samples=3)(model, sentences)
    six = EMImputer(iterations=2, width=2, restarts=6, elbo_samples=3)(model, sentences)
    assert all(b.score >= a.score - 1e-4 for a, b in zip(two, six, strict=True))


def test_every_command_works_on_an_autr_run(tmp_path):
    """Trained (nll_iw), sampled by beam, reconstructed, interpolated, matched (too-long candidates left out),
    encoded, imputed (EM by default) and pictured through the common commands."""
    import json

    from helpers import merge, tiny_recipe, write_corpus, write_recipe
    from typer.testing import CliRunner

    from textvae.cli import app

    runner = CliRunner()
    corpus = write_corpus(tmp_path / "c", n_train=30)
    raw = merge(tiny_recipe(corpus), {"train": {"epochs": 1}, "eval": {"iw_samples": 3}})
    raw["model"]["decoder"] = {"kind": "autr", "length": 8, "embed_dim": 8, "hidden_dim": 8, "steps": 5}
    run = str(tmp_path / "run")
    result = runner.invoke(app, ["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--out", run])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "report.json").read_text())["iw_samples"] == 3
    out = runner.invoke(app, ["sample", run, "--n", "2", "--method", "beam", "--width", "3", "--json"])
    assert out.exit_code == 0 and all(len(x.split()) <= 7 for x in json.loads(out.stdout)["sentences"])
    (tmp_path / "cands.txt").write_text("the cat sees\n" + "the dog " * 6 + "\na red cat runs\n")
    (tmp_path / "short.txt").write_text("the cat sees\na red cat runs\n")
    for args in (["reconstruct", run, "--file", str(tmp_path / "short.txt"), "--json"],
                 ["interpolate", run, "the cat", "a dog", "--json"],
                 ["impute", run, "the ___ sees a ___", "--restarts", "2", "--iterations", "2", "--json"],
                 ["encode", run, str(tmp_path / "short.txt"), "--out", str(tmp_path / "codes.npy")]):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, (args, out.output)
    assert (tmp_path / "codes.npy").is_file()
    out = runner.invoke(app, ["encode", run, str(tmp_path / "cands.txt"), "--out", str(tmp_path / "long.npy")])
    assert out.exit_code == 2 and "fixed length of 8" in out.stderr
    out = runner.invoke(app, ["nearest", run, "the cat", "--corpus", str(tmp_path / "cands.txt"), "--json"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert r["too_long"] == 1 and r["candidates"] == 2
    out = runner.invoke(app, ["canvas", run, "the cat sees", "--out", str(tmp_path / "c.png"), "--at", "2", "--at",
                              "5", "--width", "2", "--json"])
    assert out.exit_code == 0, out.output
    r = json.loads(out.stdout)
    assert [x["step"] for x in r["reads"]] == [2, 5] and len(r["attention"]) == 6
    assert (tmp_path / "c.png").stat().st_size > 0
    out = runner.invoke(app, ["canvas", run, "--at", "9", "--out", str(tmp_path / "d.png")])
    assert out.exit_code == 2 and "--at: steps must be in 1..5" in out.stderr
