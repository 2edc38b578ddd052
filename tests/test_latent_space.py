"""Latent-space analyses and their commands: sample, reconstruct, interpolate, arithmetic, nearest, encode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe
from safetensors.torch import load_file
from typer.testing import CliRunner

from textvae.analysis import analogy, attribute_vector, best_matching, homotopy, posterior_codes, prior_codes
from textvae.analysis.reconstruct import reconstruction_scores
from textvae.data.batching import make_batch
from textvae.decoding import greedy_decode
from textvae.pipeline import load_run

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("latent")
    corpus = write_corpus(tmp / "corpus")
    recipe = write_recipe(tmp / "r.yaml", tiny_recipe(corpus, train={"epochs": 1}, eval={"iw_samples": 0}))
    result = runner.invoke(_app(), ["train", str(recipe), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run"


def _app():
    from textvae.cli import app

    return app


def _json(args):
    result = runner.invoke(_app(), [*args, "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _fails_cleanly(args, *needles):
    result = runner.invoke(_app(), args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- library ---------------------------------------------------------------------------------------------------


def test_homotopy_endpoints_and_even_spacing():
    z1, z2 = torch.randn(5), torch.randn(5)
    path = homotopy(z1, z2, 7)
    assert path.shape == (7, 5)
    assert torch.equal(path[0], z1) and torch.equal(path[-1], z2)
    torch.testing.assert_close(path[1:] - path[:-1], ((z2 - z1) / 6).expand(6, -1))
    with pytest.raises(ValueError):
        homotopy(z1, z2, 1)


def test_analogy_and_attribute_vector_by_hand():
    a, p, q = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.0]), torch.tensor([2.0, -1.0])
    assert analogy(a, p, q).tolist() == [2.5, 1.0]
    neg, pos = torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.tensor([[3.0, 1.0], [5.0, 1.0]])
    assert attribute_vector(neg, pos).tolist() == [3.0, 0.0]


def test_stretched_prior_codes_spread_wider():
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    plain, stretched = prior_codes(20000, 32, g()), prior_codes(20000, 32, g(), stretch=0.1)
    assert abs(float(plain.var()) - 1.0) < 0.03
    assert float(stretched.var()) > 1.1  # I + A with A ~ U[-0.1, 0.1]: E|row|^2 = 1 + 32 * 0.01 / 3


def test_posterior_codes_keep_input_order(make_model, make_sentences):
    model = make_model("vae", vocab_size=12)
    seqs = make_sentences(9, 12, seed=3)
    mu, logvar = posterior_codes(model, seqs, batch_size=4)
    for i, s in enumerate(seqs):
        m, lv = model.posterior(make_batch([s], [0]))
        torch.testing.assert_close(mu[i], m[0].detach(), atol=1e-6, rtol=0)
        torch.testing.assert_close(logvar[i], lv[0].detach(), atol=1e-6, rtol=0)


def test_best_matching_is_the_brute_force_argmax(make_model, make_sentences):
    model = make_model("vae", vocab_size=12, seed=1)
    corpus = make_sentences(15, 12, seed=4)
    z = torch.randn(3, model.z_dim, generator=torch.Generator().manual_seed(2))
    scores, idx = best_matching(model, z, corpus, k=4, batch_size=8)
    with torch.no_grad():
        full = torch.stack([-model.rec(make_batch(corpus, list(range(15))), zq.expand(15, -1)) for zq in z])
    top = full.topk(4, dim=1)
    assert idx.tolist() == top.indices.tolist()
    torch.testing.assert_close(scores, top.values, atol=1e-5, rtol=0)
    _, idx_tok = best_matching(model, z, corpus, k=4, per_token=True)
    lengths = torch.tensor([len(s) + 1 for s in corpus])
    assert idx_tok.tolist() == (full / lengths).topk(4, dim=1).indices.tolist()


def test_reconstruction_scores():
    refs = ["the cat sees a dog", "a big red dog runs"]
    assert reconstruction_scores(refs, refs) == {"bleu": pytest.approx(100.0), "exact": 1.0}
    partial = reconstruction_scores(refs, ["the cat sees a dog", "a small blue cat sleeps"])
    assert partial["exact"] == 0.5 and 0 < partial["bleu"] < 100


# --- commands --------------------------------------------------------------------------------------------------


def test_sample_is_seeded_and_methods_run(run):
    out = _json(["sample", str(run), "--n", "6", "--seed", "3"])
    assert len(out["sentences"]) == 6 and out == _json(["sample", str(run), "--n", "6", "--seed", "3"])
    for extra in (["--method", "beam", "--width", "3", "--length-penalty", "1.0"],
                  ["--method", "sample", "--top-p", "0.9"], ["--stretch", "0.1"]):
        assert len(_json(["sample", str(run), "--n", "4", *extra])["sentences"]) == 4


def test_interpolation_endpoints_decode_like_the_endpoint_codes(run):
    a, b = "the cat sees a dog", "a big red dog runs"
    out = _json(["interpolate", str(run), a, b, "--steps", "5"])
    assert [s["t"] for s in out["steps"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    recipe, vocab, model = load_run(run, "cpu")
    mu, _ = posterior_codes(model, [vocab.encode(a.split()), vocab.encode(b.split())])
    ends = [" ".join(vocab.decode(s)) for s in greedy_decode(model.decoder, mu, ban_unk=True)]
    assert [out["steps"][0]["sentence"], out["steps"][-1]["sentence"]] == ends
    assert len(_json(["interpolate", str(run), "--prior", "--steps", "3"])["steps"]) == 3


def test_reconstruct_scores_and_examples(run):
    out = _json(["reconstruct", str(run), "--split", "valid", "--limit", "5", "--samples", "2"])
    assert out["sentences"] == 5 and len(out["examples"]) == 5
    assert all(len(ex["samples"]) == 2 for ex in out["examples"])
    for key in ("mean", "samples"):
        assert 0 <= out[key]["bleu"] <= 100 and 0 <= out[key]["exact"] <= 1


def test_arithmetic_analogy_and_attribute_sets(run, tmp_path):
    out = _json(["arithmetic", str(run), "--analogy", "the cat runs", "--analogy", "the cat", "--analogy", "a dog"])
    assert {"a", "p", "q", "b", "read_as", "reading"} <= set(out) and isinstance(out["b"], str)
    (tmp_path / "neg.txt").write_text("the small cat sleeps\na small dog sleeps\n")
    (tmp_path / "pos.txt").write_text("the big dog runs\na big cat runs\n")
    out = _json(["arithmetic", str(run), "--from", str(tmp_path / "neg.txt"), "--to", str(tmp_path / "pos.txt")])
    assert [r["input"] for r in out["rows"]] == ["the small cat sleeps", "a small dog sleeps"]
    assert out["vector_norm"] > 0


def test_nearest_lists_k_matches_best_first(run):
    out = _json(["nearest", str(run), "the cat sees a dog", "--k", "3"])
    scores = [m["log_p"] for m in out["matches"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_encode_writes_codes_in_line_order(run, tmp_path):
    lines = ["the cat sees a dog", "a dog", "the big red cat runs and sleeps"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    _json(["encode", str(run), str(tmp_path / "in.txt"), "--out", str(tmp_path / "z.safetensors")])
    _json(["encode", str(run), str(tmp_path / "in.txt"), "--out", str(tmp_path / "z.npy")])
    st = load_file(tmp_path / "z.safetensors")
    _, vocab, model = load_run(run, "cpu")
    mu, logvar = posterior_codes(model, [vocab.encode(s.split()) for s in lines])
    torch.testing.assert_close(st["mu"], mu)
    torch.testing.assert_close(st["logvar"], logvar)
    assert np.allclose(np.load(tmp_path / "z.npy"), mu.numpy())
    assert np.allclose(np.load(tmp_path / "z.logvar.npy"), logvar.numpy())


def test_bad_arguments_fail_cleanly(run, tmp_path):
    _fails_cleanly(["interpolate", str(run), "only one sentence"], "two sentences")
    _fails_cleanly(["sample", str(run), "--method", "viterbi"], "--method")
    _fails_cleanly(["encode", str(run), str(tmp_path / "nope.txt"), "--out", str(tmp_path / "z.npy")], "nope.txt")
    (tmp_path / "in.txt").write_text("a dog\n")
    _fails_cleanly(["encode", str(run), str(tmp_path / "in.txt"), "--out", str(tmp_path / "z.csv")], "--out")
    _fails_cleanly(["arithmetic", str(run), "--analogy", "a dog"], "--analogy")
    assert not list(tmp_path.glob("z*"))


def _tiny_run(tmp_path, model_type: str):
    """A one-epoch run of a tiny model of ``model_type`` on a 20-sentence corpus, in tmp_path/model_type."""
    corpus = write_corpus(tmp_path / "corpus", n_train=20, n_eval=4)
    recipe = tiny_recipe(corpus, model={"type": model_type}, train={"epochs": 1}, eval={"iw_samples": 0})
    result = runner.invoke(_app(), ["train", str(write_recipe(tmp_path / "r.yaml", recipe)), "--out",
                                    str(tmp_path / model_type)])
    assert result.exit_code == 0, result.output


def test_rnnlm_run_samples_but_has_no_codes(tmp_path):
    _tiny_run(tmp_path, "lm")
    assert len(_json(["sample", str(tmp_path / "lm"), "--n", "3", "--method", "sample"])["sentences"]) == 3
    (tmp_path / "in.txt").write_text("a dog\n")
    _fails_cleanly(["encode", str(tmp_path / "lm"), str(tmp_path / "in.txt"), "--out", str(tmp_path / "z.npy")],
                   "no latent code")
    _fails_cleanly(["interpolate", str(tmp_path / "lm"), "a dog", "the cat"], "no latent code")
    _fails_cleanly(["interpolate", str(tmp_path / "lm"), "--prior"], "no latent code")


def test_sequence_autoencoder_run_interpolates_and_reconstructs(tmp_path):
    _tiny_run(tmp_path, "ae")
    path = _json(["interpolate", str(tmp_path / "ae"), "the cat runs", "a big dog", "--steps", "4"])["steps"]
    assert len(path) == 4
    out = _json(["reconstruct", str(tmp_path / "ae"), "--split", "test", "--samples", "2"])
    assert "samples" not in out and out["sentences"] == 4  # a deterministic code: nothing to sample
    assert "no prior" in runner.invoke(_app(), ["sample", str(tmp_path / "ae"), "--n", "2"]).stdout
