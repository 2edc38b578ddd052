"""Semeniuta et al. 2017's model family: convolutional encoder, deconvolutional, hybrid and ByteNet decoders, the
auxiliary term, character samples, bits per character and fixed lengths."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from helpers import merge, tiny_recipe, write_corpus, write_recipe

from textvae.config import DataConfig, Recipe, from_dict, load_recipe
from textvae.data.batching import make_batch
from textvae.data.fragments import Fragments, fragment_seed
from textvae.data.tweets import clean_tweet
from textvae.errors import TextVAEError
from textvae.evaluation.evaluate import bits_per_char, evaluate
from textvae.models.build import build_model
from textvae.models.decoders.bytenet import ByteNetDecoder
from textvae.models.decoders.deconv import DeconvStack
from textvae.models.decoders.hybrid import HybridDecoder
from textvae.models.encoders.conv import ConvEncoder
from textvae.objectives import Objective
from textvae.pipeline import load_splits
from textvae.run import Run
from textvae.training.trainer import Trainer, seed_everything

V, Z = 11, 3


def _changed_positions(decoder, length: int, t: int) -> set[int]:
    """Output positions that change when input token t changes (eval mode: batch norm on running statistics)."""
    torch.manual_seed(0)
    decoder.eval()
    z = torch.randn(1, Z)
    inp = torch.randint(3, V, (1, length))
    other = inp.clone()
    other[0, t] = 3 + (int(inp[0, t]) - 2) % (V - 3)  # a different real token
    with torch.no_grad():
        a, b = decoder(inp, z).h, decoder(other, z).h
    return {j for j in range(length) if not torch.allclose(a[0, j], b[0, j])}


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_bytenet_top_sees_exactly_its_receptive_field(layers):
    """Changing input t (the token before position t) changes outputs t .. t + layers only: no output before t
    sees it (the mask), none after t + layers either (receptive field layers + 1)."""
    dec = ByteNetDecoder(V, z_dim=Z, length=16, channels=[8, 6], embed_dim=5, hidden_dim=7, layers=layers)
    assert dec.receptive_field == layers + 1
    for t in (0, 5, 12):
        assert _changed_positions(dec, 16, t) == set(range(t, min(16, t + layers + 1)))


def test_hybrid_lstm_top_never_sees_the_future():
    dec = HybridDecoder(V, z_dim=Z, length=16, channels=[8, 6], embed_dim=5, hidden_dim=7)
    assert _changed_positions(dec, 16, 6) == set(range(6, 16))


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_deconvolution_and_convolution_lengths_for_every_depth(depth):
    length = 2**depth * 3
    stack = DeconvStack(Z, length, [4] * (depth + 1))
    assert stack(torch.randn(2, Z)).shape == (2, length, 4)
    enc = ConvEncoder(V, length=length, embed_dim=5, channels=[4] * depth)
    tokens = torch.randint(3, V, (2, length - 2))
    assert enc(tokens, torch.tensor([length - 2] * 2)).shape == (2, enc.out_dim) == (2, 4 * 3)


def test_conv_summary_does_not_depend_on_batch_padding():
    enc = ConvEncoder(V, length=16, embed_dim=5, channels=[4, 4]).eval()
    short = torch.randint(3, V, (1, 5))
    padded = F.pad(short, (0, 6))
    with torch.no_grad():
        assert torch.equal(enc(short, torch.tensor([5])), enc(padded, torch.tensor([5])))


def test_auxiliary_term_by_hand():
    """J_aux = -sum_t log softmax(W d_t + b)[x_t] over real tokens, with d the deconvolution features of one z;
    the loss adds alpha J_aux to the other terms."""
    torch.manual_seed(1)
    recipe = from_dict(Recipe, {"model": {"type": "vae", "latent_dim": Z,
                                          "encoder": {"kind": "conv", "length": 8, "embed_dim": 4, "channels": [4]},
                                          "decoder": {"kind": "hybrid", "length": 8, "channels": [4, 5],
                                                      "embed_dim": 4, "hidden_dim": 6}},
                                "objective": {"aux": {"weight": 0.3}}})
    model = build_model(recipe.model, V).eval()
    objective = Objective.from_config(recipe.objective, model)
    batch = make_batch([[3, 4, 5], [6, 7, 8, 9, 10]], [0, 1])
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        out = model(batch, aux=True, generator=gen)
        feats = model.decoder.stack(out.z)
        logp = torch.log_softmax(model.decoder.aux_out(feats), -1)
        by_hand = [-sum(float(logp[i, t, batch.tgt[i, t]]) for t in range(int(batch.lengths[i]))) for i in range(2)]
        assert torch.allclose(out.aux["deconv"], torch.tensor(by_hand), atol=1e-5)
        torch.manual_seed(7)
        loss, logs = objective(model, batch, step=0)
        torch.manual_seed(7)
        without = Objective.from_config(from_dict(Recipe, {}).objective, model)(model, batch, step=0)[0]
    assert float(loss - without) == pytest.approx(0.3 * float(logs["aux"]), rel=1e-5)


def test_aux_on_a_decoder_without_the_head_is_a_clear_error():
    model = build_model(from_dict(Recipe, {}).model, V)
    with pytest.raises(TextVAEError, match="no auxiliary head 'deconv'"):
        Objective.from_config(from_dict(Recipe, {"objective": {"aux": {"weight": 0.2}}}).objective, model)


def test_bits_per_character():
    assert bits_per_char(math.log(2) * 10, 1, 10) == pytest.approx(1.0)
    assert bits_per_char(3.0, 4, 6) == pytest.approx(3.0 * 4 / 6 / math.log(2))


def test_evaluate_reports_bits_per_character(tmp_path):
    corpus = write_corpus(tmp_path / "c")
    recipe = from_dict(Recipe, tiny_recipe(corpus, data={"tokenizer": "char"}))
    vocab, splits = load_splits(recipe.data, splits=("train", "valid"), log=lambda *a: None)
    model = build_model(recipe.model, len(vocab))
    m = evaluate(model, splits["valid"], recipe.eval, iw_samples=3, show_progress=False, bpc=True)
    for k in ("rec", "kl", "neg_elbo", "nll_iw"):
        assert m[f"{k}_bpc"] == pytest.approx(m[k] * m["sentences"] / m["tokens"] / math.log(2))
    assert math.log2(m["ppl_iw"]) == pytest.approx(m["nll_iw_bpc"])
    assert "rec_bpc" not in evaluate(model, splits["valid"], recipe.eval, iw_samples=0, show_progress=False)


def test_fragments_are_whole_words_deterministic_and_new_each_epoch():
    lines = ["the quick brown fox jumps over the lazy dog", "a b c", "supercalifragilistic word"]
    frags = Fragments(lines, 12)
    got = frags.draw(200, fragment_seed(0, "train", 0))
    assert got == frags.draw(200, fragment_seed(0, "train", 0))
    assert got != frags.draw(200, fragment_seed(0, "train", 1))
    assert got != frags.draw(200, fragment_seed(0, "valid", 0))
    words = {w for line in lines for w in line.split()}
    for f in got:
        assert 0 < len(f) <= 11
        assert any(f in line for line in lines)  # never crosses a line end
        inner = f.split()[:-1] if f.startswith("supercal") else f.split()
        assert set(inner) <= words, f  # cut only where a single word is longer than the fragment
    assert "supercalif" + "r" in {f[:11] for f in got}


def test_character_samples_are_redrawn_each_epoch_and_resume_exactly(tmp_path):
    """A hybrid with the auxiliary term on character samples: a run crashed mid-epoch resumes bitwise."""
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "corpus", n_train=20)
    raw = merge(tiny_recipe(corpus), {"data": {"tokenizer": "char", "sample_length": 16, "samples_per_epoch": 40,
                                               "eval_samples": 5},
                                      "objective": {"aux": {"weight": 0.2}}, "train": {"epochs": 3}})
    raw["model"] = {"type": "vae", "latent_dim": 4,
                    "encoder": {"kind": "conv", "length": 16, "embed_dim": 6, "channels": [8, 8]},
                    "decoder": {"kind": "hybrid", "length": 16, "channels": [8, 8], "embed_dim": 6, "hidden_dim": 8}}
    recipe = from_dict(Recipe, raw)

    def trainer(folder, on_step=None, vocab=None):
        vocab, splits = load_splits(recipe.data, vocab, splits=("train", "valid"), log=lambda *a: None)
        folder.mkdir(parents=True, exist_ok=True)
        seed_everything(0)
        return Trainer(recipe, build_model(recipe.model, len(vocab)), vocab, splits, Run(folder), "cpu",
                       on_step=on_step, log=lambda *a: None)

    whole = trainer(tmp_path / "whole")
    first_epoch = list(whole.splits["train"].ids)
    assert len(first_epoch) == 40 and max(map(len, first_epoch)) <= 15
    assert len(whole.splits["valid"]) == 5  # capped by eval_samples (the text has more than 5 x 16 characters)
    whole.fit()
    assert whole.splits["train"].ids != first_epoch  # redrawn

    class Crash(Exception):
        pass

    def crash(step):
        if step == 8:
            raise Crash

    cut = trainer(tmp_path / "cut", on_step=crash)
    with pytest.raises(Crash):
        cut.fit()
    resumed = trainer(tmp_path / "cut", vocab=cut.vocab)
    resumed.resume()
    resumed.fit()
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert resumed.state.step == whole.state.step == 15
    assert all(torch.equal(a[k], b[k]) for k in a)


def _fixed_recipe(corpus, **data) -> dict:
    raw = merge(tiny_recipe(corpus), {"data": data, "train": {"epochs": 1}})
    raw["model"] = {"type": "vae", "latent_dim": 4,
                    "encoder": {"kind": "conv", "length": 8, "embed_dim": 6, "channels": [8]},
                    "decoder": {"kind": "deconv", "length": 8, "channels": [8, 8]}}
    return raw


def test_too_long_line_is_an_error_naming_file_and_line_or_is_cut(tmp_path):
    corpus = write_corpus(tmp_path / "c")
    lines = (corpus / "valid.txt").read_text().splitlines()
    lines[3] = "the cat sees the big red dog and the small blue cat"  # 12 words: too long for length 8
    (corpus / "valid.txt").write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")  # a blank line before it
    recipe = write_recipe(tmp_path / "r.yaml", _fixed_recipe(corpus))
    proc = subprocess.run([sys.executable, "-m", "textvae", "train", str(recipe), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert f"{corpus / 'valid.txt'}:5: 12 tokens and </s> do not fit the model's fixed length of 8" in message
    assert not (tmp_path / "run").exists()

    cfg = load_recipe(write_recipe(tmp_path / "cut.yaml", _fixed_recipe(corpus, cut=True)))
    _, splits = load_splits(cfg.data, splits=("train", "valid"), log=lambda *a: None, length=8)
    assert max(len(s) for s in splits["valid"].ids) == 7
    with pytest.raises(TextVAEError, match="does not fit|do not fit"):
        load_splits(load_recipe(recipe).data, splits=("valid",), log=lambda *a: None, length=8)


@pytest.mark.parametrize("change,message", [
    ({"data": {"sample_length": 16}}, "needs data.tokenizer char"),
    ({"data": {"tokenizer": "char", "sample_length": 16}}, "longer than the model's fixed length 8"),
    ({"model": {"encoder": {"length": 9}}}, "model.encoder.length' must be a multiple of 2"),
    ({"model": {"decoder": {"length": 7}}}, "model.decoder.length' must be a multiple of 2"),
])
def test_fixed_length_settings_are_checked(tmp_path, change, message):
    raw = merge(_fixed_recipe(write_corpus(tmp_path / "c")), change)
    with pytest.raises(TextVAEError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_recipe(write_recipe(tmp_path / "r.yaml", raw))


def test_tweet_preprocessing():
    assert clean_tweet("@united thanks &amp; see http://t.co/x1 ok\n@Delta_2 no") == (
        "@userid thanks & see url ok @userid no")


def test_typed_tweets_are_read_as_the_corpus_was_made():
    from textvae.data.corpus import STYLES
    from textvae.data.normalize import Normalizer, Style
    from textvae.data.vocab import Vocab

    vocab = Vocab.build([list("@userid thanks url")])
    got = Normalizer(Style(**STYLES["tweets"]), vocab)("@united   thanks https://t.co/abc")
    assert "".join(got.tokens) == "@userid thanks url" and not got.unknown


def test_the_semeniuta_recipes_build_and_say_what_the_paper_says():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "recipes"
    hybrid = load_recipe(root / "semeniuta2017" / "tweets_hybrid.yaml")
    assert hybrid.model.encoder.channels == [128, 256, 512, 512, 512] and hybrid.model.decoder.hidden_dim == 1000
    assert hybrid.objective.aux.weight == 0.2 and hybrid.data.corpus == "tweets"
    keeps = {p: load_recipe(root / "semeniuta2017" / f"tweets_lstm_vae_p0{p}.yaml").objective.word_dropout.keep
             for p in (2, 5, 8)}
    assert keeps == {2: 0.8, 5: 0.5, 8: 0.2}
    rows = {r: load_recipe(root / "liu2019" / f"yelp_char_{r}.yaml").objective for r in
            ("hybrid", "hybrid_aux", "hybrid_mu_forcing")}
    assert [(o.aux.weight, o.mu_forcing.beta) for o in rows.values()] == [(0, 0), (0.2, 0), (0, 3.0)]
    lines = DataConfig(corpus="yelp")
    assert lines.tokenizer == "word"  # the char recipes ask for characters themselves
    assert json.loads(json.dumps(rows["hybrid"].kl_weight.__dict__))["steps"] == 10000


@pytest.mark.parametrize("decoder", [
    {"kind": "hybrid", "length": 64, "channels": [8, 8], "embed_dim": 6, "hidden_dim": 8},
    {"kind": "bytenet", "length": 64, "channels": [8, 8], "embed_dim": 6, "hidden_dim": 8, "layers": 2},
    {"kind": "deconv", "length": 64, "channels": [8, 8]},
])
def test_every_command_works_on_a_character_hybrid(tmp_path, decoder):
    """Trained, evaluated (nll_iw, bits per character), decoded by every method, reconstructed, interpolated and
    encoded through the same commands as the LSTM models."""
    from typer.testing import CliRunner

    from textvae.cli import app

    runner = CliRunner()
    corpus = write_corpus(tmp_path / "c", n_train=30)
    raw = merge(tiny_recipe(corpus), {"data": {"tokenizer": "char"}, "objective": {
        "aux": {"weight": 0.2 if decoder["kind"] != "deconv" else 0.0}}, "train": {"epochs": 1},
        "eval": {"iw_samples": 3}})
    raw["model"] = {"type": "vae", "latent_dim": 4, "decoder": decoder,
                    "encoder": {"kind": "conv", "length": 64, "embed_dim": 6, "channels": [8, 8]}}
    recipe = write_recipe(tmp_path / "r.yaml", raw)
    run = str(tmp_path / "run")
    result = runner.invoke(app, ["train", str(recipe), "--out", run])
    assert result.exit_code == 0, result.output
    assert "nll_iw_bpc" in result.output and "bits per character" in result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["nll_iw_bpc"] == pytest.approx(math.log2(report["ppl_iw"]))
    for method in ("greedy", "beam", "sample"):
        out = runner.invoke(app, ["sample", run, "--n", "3", "--method", method, "--width", "2", "--json"])
        assert out.exit_code == 0, out.output
        samples = json.loads(out.stdout)["sentences"]
        assert len(samples) == 3 and all(len(s) <= 63 for s in samples)  # the fixed length bounds every decode
    (tmp_path / "in.txt").write_text("the cat sees\na dog runs\n")
    for args in (["reconstruct", run, "--file", str(tmp_path / "in.txt")],
                 ["interpolate", run, "the cat", "a dog"],
                 ["encode", run, str(tmp_path / "in.txt"), "--out", str(tmp_path / "codes.npy")]):
        out = runner.invoke(app, [*args, "--json"] if args[0] != "encode" else args)
        assert out.exit_code == 0, (args, out.output)
    assert (tmp_path / "codes.npy").is_file()
    (tmp_path / "long.txt").write_text("the cat sees the big red dog and the small blue cat " * 2 + "\n")
    out = runner.invoke(app, ["reconstruct", run, "--file", str(tmp_path / "long.txt")])
    assert out.exit_code == 2 and "fixed length of 64" in out.stderr and "Traceback" not in out.output


@pytest.mark.parametrize("kl_weight,select,key", [
    ({"schedule": "constant", "value": 0.0}, "auto", "rec"),
    ({"schedule": "constant", "value": 1.0}, "auto", "neg_elbo"),
    ({"schedule": "constant", "value": 0.0}, "neg_elbo", "neg_elbo"),
])
def test_model_selection_follows_the_objective(tmp_path, kl_weight, select, key):
    """With the KL weight a constant 0 (pure reconstruction), the best weights are those of the lowest validation
    rec: the bound would keep the first epoch while the unchecked KL grows."""
    torch.set_num_threads(1)
    corpus = write_corpus(tmp_path / "c")
    recipe = from_dict(Recipe, tiny_recipe(corpus, objective={"kl_weight": kl_weight},
                                           train={"epochs": 4, "select": select, "early_stop": 0}))
    vocab, splits = load_splits(recipe.data, splits=("train", "valid"), log=lambda *a: None)
    seed_everything(0)
    trainer = Trainer(recipe, build_model(recipe.model, len(vocab)), vocab, splits, Run(tmp_path / "run"), "cpu",
                      log=lambda *a: None)
    (tmp_path / "run").mkdir()
    trainer.fit()
    valid = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines() if '"valid"' in x]
    assert trainer.state.best == min(r[key] for r in valid)
