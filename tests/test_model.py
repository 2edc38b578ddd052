"""Model-level properties: padding invariance, word dropout and the inputless decoder, greedy decoding."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from textvae.data.batching import make_batch
from textvae.data.vocab import BOS, EOS, PAD, UNK
from textvae.decoding import greedy_decode
from textvae.evaluation import nll_iw
from textvae.objectives import word_dropout

# --- padding never changes a per-sentence figure ----------------------------------------------------------------

SENTENCE = [5, 6, 7]
LONGER = [[4, 5, 6, 7, 8, 9, 8], [9, 8, 7, 6, 5]]
ATOL = 1e-5


def _alone_and_padded():
    """The sentence alone, and as row 1 of a batch where it is padded to the longest sentence."""
    alone = make_batch([SENTENCE], [0])
    padded = make_batch([LONGER[0], SENTENCE, LONGER[1]], [0, 1, 2])
    assert padded.tgt.shape[1] > alone.tgt.shape[1] and (padded.tgt[1] == PAD).any()
    return alone, padded


VARIANTS = [{}, {"z_concat": True}, {"z_concat": True, "z_to_init": False}, {"inputless": True}]


@pytest.mark.parametrize("kw", VARIANTS, ids=["init", "init+concat", "concat", "inputless"])
@torch.no_grad()
def test_padding_does_not_change_vae_figures(make_model, gen, kw):
    model = make_model("vae", latent_dim=3, decoder=kw)
    alone, padded = _alone_and_padded()

    mu_a, logvar_a = model.posterior(alone)
    mu_p, logvar_p = model.posterior(padded)
    torch.testing.assert_close(mu_p[1:2], mu_a, atol=ATOL, rtol=0)
    torch.testing.assert_close(logvar_p[1:2], logvar_a, atol=ATOL, rtol=0)

    z = torch.randn(3, 3, generator=gen(1))
    torch.testing.assert_close(model.rec(padded, z)[1:2], model.rec(alone, z[1:2]), atol=ATOL, rtol=0)

    # nll_iw of the padded batch, row 1, against the same estimate recomputed on the sentence alone with the
    # very samples nll_iw drew for that row (one chunk: eps is a single (B, K, Z) draw).
    k = 16
    got = nll_iw(model, padded, n_samples=k, generator=gen(2), token_budget=10**9)
    eps = torch.randn((padded.size, k, 3), generator=gen(2))[1]
    std = (0.5 * logvar_a).exp()
    zk = mu_a + std * eps  # (k, 3)
    log_w = (-model.rec(alone.repeat(k), zk) + Normal(0.0, 1.0).log_prob(zk).sum(-1)
             - Normal(mu_a, std).log_prob(zk).sum(-1))
    want = -(torch.logsumexp(log_w, 0) - math.log(k))
    torch.testing.assert_close(got[1], want, atol=ATOL, rtol=0)


@torch.no_grad()
def test_padding_does_not_change_lm_and_ae_figures(make_model):
    alone, padded = _alone_and_padded()
    lm = make_model("lm")
    torch.testing.assert_close(lm.rec(padded, None)[1:2], lm.rec(alone, None), atol=ATOL, rtol=0)

    ae = make_model("ae", latent_dim=3)
    code_a, none_a = ae.posterior(alone)
    code_p, none_p = ae.posterior(padded)
    assert none_a is None and none_p is None
    torch.testing.assert_close(code_p[1:2], code_a, atol=ATOL, rtol=0)
    torch.testing.assert_close(ae.rec(padded, code_p)[1:2], ae.rec(alone, code_a), atol=ATOL, rtol=0)
    torch.testing.assert_close(ae(padded).rec[1:2], ae(alone).rec, atol=ATOL, rtol=0)


@torch.no_grad()
def test_rec_is_sum_of_token_nll_including_eos(make_model):
    """rec from the padded batch equals -sum log softmax at x_1..x_n </s>, computed by hand per row."""
    model = make_model("vae", latent_dim=3)
    sentences = [SENTENCE, *LONGER]
    batch = make_batch(sentences, [0, 1, 2])
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(4))
    rec = model.rec(batch, z)
    for i, s in enumerate(sentences):
        inp = torch.tensor([[BOS, *s]])
        logp = torch.log_softmax(model.decoder.logits(model.decoder(inp, z[i : i + 1]).h), -1)[0]
        want = -sum(float(logp[t, tok]) for t, tok in enumerate([*s, EOS]))
        assert float(rec[i]) == pytest.approx(want, abs=1e-4)


# --- word dropout and the inputless decoder ------------------------------------------------------------------------


def _random_inputs(rows: int = 400, length: int = 50, vocab_size: int = 30, seed: int = 0) -> torch.Tensor:
    """Decoder inputs: <bos> then words (ids >= 4, so never <unk>), then <pad> to random lengths."""
    g = torch.Generator().manual_seed(seed)
    inp = torch.randint(4, vocab_size, (rows, length), generator=g)
    inp[:, 0] = BOS
    lengths = torch.randint(2, length + 1, (rows,), generator=g)
    inp[torch.arange(length).unsqueeze(0) >= lengths.unsqueeze(1)] = PAD
    return inp


@pytest.mark.parametrize("keep", [0.0, 0.62, 1.0])
def test_word_dropout_replaces_words_at_rate_one_minus_keep(keep):
    inp = _random_inputs()
    before = inp.clone()
    out = word_dropout(inp, keep, torch.Generator().manual_seed(1))
    assert torch.equal(inp, before), "word_dropout must not modify its input in place"
    words = (inp != BOS) & (inp != PAD)
    n = int(words.sum())
    assert n > 5000
    # Specials stay where they are; a word is either kept or becomes <unk>.
    assert torch.equal(out[~words], inp[~words])
    changed = out != inp
    assert (out[changed] == UNK).all()
    frac = float(changed.sum()) / n
    se = math.sqrt(max(keep * (1 - keep), 1e-12) / n)
    assert abs(frac - (1 - keep)) <= 4 * se + 1e-12, f"keep={keep}: replaced {frac:.4f} of the words"


def test_word_dropout_is_reproducible_with_a_generator():
    inp = _random_inputs(rows=20)
    a = word_dropout(inp, 0.5, torch.Generator().manual_seed(3))
    b = word_dropout(inp, 0.5, torch.Generator().manual_seed(3))
    c = word_dropout(inp, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@torch.no_grad()
def test_inputless_decoder_ignores_input_words(make_model):
    vocab_size = 12
    inp_a = _random_inputs(rows=4, length=6, vocab_size=vocab_size, seed=1)
    inp_b = _random_inputs(rows=4, length=6, vocab_size=vocab_size, seed=1)
    words = (inp_a != BOS) & (inp_a != PAD)
    inp_b[words] = 4 + (inp_a[words] - 4 + 1 + torch.arange(int(words.sum())) % 5) % (vocab_size - 4)
    assert not torch.equal(inp_a, inp_b) and torch.equal(inp_a == PAD, inp_b == PAD)
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))

    for kw in ({}, {"z_concat": True}):
        dec = make_model("vae", vocab_size=vocab_size, latent_dim=3, decoder={"inputless": True, **kw}).decoder
        torch.testing.assert_close(dec(inp_a, z).h, dec(inp_b, z).h, atol=0, rtol=0)
        # The decoding path (step) agrees: whatever previous word is fed, the next distribution is the same.
        state = dec.init_state(z, 4)
        la, _ = dec.step(inp_a[:, 1], state, z)
        lb, _ = dec.step(inp_b[:, 1], state, z)
        torch.testing.assert_close(la, lb, atol=0, rtol=0)
        # Exactly: the same weights fed <bos> then <unk> for every word (padding kept) as an ordinary decoder.
        h = dec(inp_a, z).h
        dec.inputless = False
        unk_inp = torch.where(words, torch.full_like(inp_a, UNK), inp_a)
        torch.testing.assert_close(h, dec(unk_inp, z).h, atol=0, rtol=0)

    # Control: an ordinary decoder does see its inputs, so the comparison above can fail.
    dec = make_model("vae", vocab_size=vocab_size, latent_dim=3).decoder
    assert not torch.allclose(dec(inp_a, z).h, dec(inp_b, z).h)


# --- greedy decoding ------------------------------------------------------------------------------------------------


@torch.no_grad()
def _greedy_reference(dec, z_row: torch.Tensor | None, max_len: int) -> list[int]:
    """One row, step by step: argmax over every token except <pad> and <bos>, stop at </s> (not emitted)."""
    state = dec.init_state(z_row, 1)
    tok, out = BOS, []
    for _ in range(max_len):
        logits, state = dec.step(torch.tensor([tok]), state, z_row)
        allowed = [i for i in range(logits.shape[-1]) if i not in (PAD, BOS)]
        tok = allowed[int(logits[0, allowed].argmax())]
        if tok == EOS:
            break
        out.append(tok)
    return out


def _tempting_model(make_model, model_type: str, z: torch.Tensor | None, max_len: int, setup_ok, **kw):
    """A model with peaked outputs whose output layer favours <pad> and <bos> (an unmasked argmax would emit
    them), with the </s> bias chosen so that the reference decodes of ``z`` pass ``setup_ok`` (rows of varied
    lengths). Returns the model and the reference decodes."""
    rows = 1 if z is None else z.shape[0]
    for eos_bias in [0.25 * i for i in range(-8, 17)]:
        model = make_model(model_type, vocab_size=9, latent_dim=3, decoder=kw)
        with torch.no_grad():
            model.decoder.out.weight.mul_(5.0)
            if model.decoder.init is not None:
                model.decoder.init.weight.mul_(3.0)
            model.decoder.out.bias[PAD] += 20.0
            model.decoder.out.bias[BOS] += 20.0
            model.decoder.out.bias[EOS] += eos_bias
        refs = [_greedy_reference(model.decoder, None if z is None else z[i : i + 1], max_len) for i in range(rows)]
        if setup_ok([len(r) for r in refs]):
            return model, refs
    raise AssertionError("setup: no </s> bias gives decodes of varied lengths")


@pytest.mark.parametrize("kw", [{}, {"z_concat": True}, {"inputless": True}], ids=["init", "concat", "inputless"])
def test_greedy_decode_is_stepwise_argmax_without_specials(make_model, kw):
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)) * 2.0
    max_len = 12
    model, refs = _tempting_model(make_model, "vae", z, max_len, lambda lens: len(set(lens)) >= 2, **kw)
    out = greedy_decode(model.decoder, z, max_len=max_len)
    assert out == refs
    for row in out:
        assert PAD not in row and BOS not in row and EOS not in row
        assert len(row) <= max_len
    # The test bites: without masking, the first argmax would have been <pad> or <bos>.
    logits, _ = model.decoder.step(torch.full((6,), BOS), model.decoder.init_state(z, 6), z)
    assert set(logits.argmax(-1).tolist()) <= {PAD, BOS}


def test_greedy_decode_stops_per_row_and_truncates(make_model):
    z = torch.randn(16, 3, generator=torch.Generator().manual_seed(1)) * 2.0
    # Some rows end early and some run to max_len, so both paths are exercised.
    model, refs = _tempting_model(make_model, "vae", z, 8, lambda lens: min(lens) < 3 and max(lens) == 8)
    assert greedy_decode(model.decoder, z, max_len=8) == refs
    # A shorter budget truncates each row to a prefix.
    assert greedy_decode(model.decoder, z, max_len=3) == [r[:3] for r in refs]


def test_greedy_decode_lm_rows_are_identical(make_model):
    model, (ref,) = _tempting_model(make_model, "lm", None, 10, lambda lens: lens[0] > 0)
    assert greedy_decode(model.decoder, None, max_len=10, batch_size=3) == [ref, ref, ref]


def test_greedy_decode_can_ban_unk(make_model):
    model = make_model("vae", vocab_size=8)
    with torch.no_grad():
        model.decoder.out.bias[UNK] = 50.0  # <unk> would win every step
        model.decoder.out.bias[EOS] = -50.0  # and banning it cannot be dodged by ending at once
    z = torch.randn(6, model.z_dim, generator=torch.Generator().manual_seed(0))
    assert any(UNK in row for row in greedy_decode(model.decoder, z, max_len=5))
    banned = greedy_decode(model.decoder, z, max_len=5, ban_unk=True)
    assert all(UNK not in row for row in banned) and all(len(row) > 0 for row in banned)


def test_output_layer_padding_is_in_the_product_only(make_model, gen):
    """The LSTM decoder's output layer runs on H padded to 32 (16 -> 32) but its parameters are (V, H): the same
    function as nn.Linear(H, V), counted and optimised at its own size."""
    model = make_model("vae", vocab_size=12)
    d = model.decoder
    assert d.hidden_dim == 16 and d.out.weight.shape == (12, 16) and d.out.pad_cols == 16
    assert model.n_params == sum(p.numel() for p in model.parameters())
    h = torch.randn(5, 16, generator=gen(1))
    plain = torch.nn.functional.linear(h, d.out.weight, d.out.bias)
    torch.testing.assert_close(d.logits(h), plain, rtol=0, atol=1e-6)
    h.requires_grad_(True)
    d.logits(h).sum().backward()
    assert d.out.weight.grad.shape == (12, 16) and h.grad.shape == (5, 16)


def test_weights_saved_with_output_padding_load(make_model, gen):
    model = make_model("lm", vocab_size=12, seed=3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    w = state["decoder.out.weight"]
    state["decoder.out.weight"] = torch.nn.functional.pad(w, (0, 16))  # as versions with a padded parameter saved
    other = make_model("lm", vocab_size=12, seed=4)
    other.load_state_dict(state)
    h = torch.randn(4, 16, generator=gen(2))
    torch.testing.assert_close(other.decoder.logits(h), model.decoder.logits(h), rtol=0, atol=0)


def test_parameter_count_is_the_models_own(make_model):
    model = make_model("vae", vocab_size=12)
    assert model.n_params == sum(p.numel() for p in model.parameters())
    assert model.decoder.out.weight.shape == (12, 16)  # 12 words x 16 units: no padding column to count
