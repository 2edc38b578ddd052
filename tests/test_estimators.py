"""Estimators of the evaluation protocol checked against independent references: quadrature for log p(x),
Monte Carlo for the KL, closed forms for MI and active units, a hand count of tokens for perplexity."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from textvae.config import EvalConfig
from textvae.data.batching import make_batch
from textvae.data.corpus import Split
from textvae.data.vocab import BOS, EOS
from textvae.evaluation import active_units, evaluate, mutual_info, mutual_info_minibatch, nll_iw
from textvae.models.latent import GaussianLatent
from textvae.objectives import word_dropout

LOG_2PI = math.log(2 * math.pi)


# --- nll_iw against the exact log-likelihood (1-d latent, quadrature) ---------------------------------------


def _skewed_1d_vae(make_model):
    """A 1-d VAE over 4 specials + 2 words whose decoder depends strongly on z and whose q(z|x) is centred away
    from the true posterior (mu ~ 0.5, var ~ 1.5): IW must still converge, since it is consistent for any q."""
    model = make_model("vae", vocab_size=6, latent_dim=1)
    with torch.no_grad():
        model.decoder.init.weight.mul_(6.0)
        model.decoder.out.weight.mul_(3.0)
        model.latent.proj.bias.copy_(torch.tensor([0.5, math.log(1.5)]))
    return model


@torch.no_grad()
def _exact_nll(model, sentence: list[int], lo: float = -10.0, hi: float = 10.0, n: int = 4001) -> float:
    """-log int p(x|z) N(z; 0, 1) dz by the trapezoid rule on a grid, in float64."""
    grid = torch.linspace(lo, hi, n, dtype=torch.float64)
    batch = make_batch([sentence], [0]).repeat(n)
    log_px_z = -model.rec(batch, grid.float().unsqueeze(1)).double()
    log_joint = log_px_z - 0.5 * (LOG_2PI + grid.pow(2))
    shift = log_joint.max()
    return -float(shift + torch.trapezoid((log_joint - shift).exp(), grid).log())


def test_nll_iw_converges_to_exact_log_likelihood(make_model, gen):
    model = _skewed_1d_vae(make_model)
    sentences = [[4, 5, 4], [5]]
    batch = make_batch(sentences, [0, 1])
    mu, logvar = model.posterior(batch)
    assert (mu.abs() > 0.3).all(), "setup: q(z|x) should be away from the prior mean"

    exact = torch.tensor([_exact_nll(model, s) for s in sentences], dtype=torch.float64)
    # The quadrature itself has converged: a coarser grid agrees.
    coarse = torch.tensor([_exact_nll(model, s, n=1001) for s in sentences], dtype=torch.float64)
    assert torch.allclose(exact, coarse, atol=1e-6)

    big = nll_iw(model, batch, n_samples=20000, generator=gen(0)).double()
    err_big = (big - exact).abs()
    assert (err_big < 0.02).all(), f"nll_iw(K=20000)={big.tolist()} vs exact {exact.tolist()}"

    small = torch.stack([nll_iw(model, batch, n_samples=10, generator=gen(s)).double() for s in range(30)])
    # K=10 is biased upwards (Jensen), on average; K=20000 is at least as close.
    assert (small.mean(0) > exact - 0.05).all()
    assert (err_big <= (small - exact).abs().mean(0) + 1e-3).all()


def test_nll_iw_one_sample_is_the_one_sample_neg_elbo(make_model, gen):
    """K=1: -log w = rec(z) + log q(z|x) - log p(z) for the same z the generator draws."""
    model = make_model("vae", latent_dim=3)
    batch = make_batch([[4, 5, 6], [7, 8], [9, 4, 5, 6, 7]], [0, 1, 2])
    mu, logvar = model.posterior(batch)
    got = nll_iw(model, batch, n_samples=1, generator=gen(3))
    eps = torch.randn((3, 1, 3), generator=gen(3))[:, 0]
    z = mu + (0.5 * logvar).exp() * eps
    q = Normal(mu, (0.5 * logvar).exp())
    want = model.rec(batch, z) + q.log_prob(z).sum(-1) - Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(got, want.detach(), atol=1e-5, rtol=0)


# --- the IW bound is tighter than the ELBO on a trained model ------------------------------------------------


def test_iw_bound_tighter_than_elbo_on_trained_model(make_model, gen):
    vocab_size, z_dim = 10, 2
    model = make_model("vae", vocab_size=vocab_size, latent_dim=z_dim).train()
    g = gen(0)
    # Sentences "w w ... w": the code can usefully carry the word and the length, so the KL stays non-zero.
    sentences = [[4 + i % 6] * (1 + (i * 7) % 6) for i in range(48)]
    batch = make_batch(sentences, list(range(len(sentences))))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(150):
        out = model(batch, inp=word_dropout(batch.inp, 0.5, g), generator=g)
        loss = out.rec.mean() + min(1.0, step / 100) * out.kl.sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()

    with torch.no_grad():
        mu, logvar = model.posterior(batch)
        kl = model.latent.kl(mu, logvar).sum(-1)
        n = 300
        z = model.latent.sample(mu, logvar, n=n, generator=g).reshape(-1, z_dim)
        rec = model.rec(batch.repeat(n), z).view(batch.size, n).mean(1)
        neg_elbo = rec + kl
        iw = nll_iw(model, batch, n_samples=300, generator=g)
    assert kl.mean() > 0.3, "setup: the trained model should use its latent"
    assert iw.mean() < neg_elbo.mean() - 0.05, f"nll_iw {iw.mean():.4f} vs neg_elbo {neg_elbo.mean():.4f}"
    # Per sentence too, up to the Monte-Carlo noise of the rec average.
    assert (iw <= neg_elbo + 0.15).all()


# --- analytic KL and the Gaussian densities --------------------------------------------------------------------


def test_gaussian_densities_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g)
    z = torch.randn(4, 7, 3, generator=g)
    q = Normal(mu.unsqueeze(1), (0.5 * logvar).exp().unsqueeze(1))
    torch.testing.assert_close(GaussianLatent.log_q(z, mu.unsqueeze(1), logvar.unsqueeze(1)), q.log_prob(z).sum(-1))
    torch.testing.assert_close(GaussianLatent.log_prior(z), Normal(0.0, 1.0).log_prob(z).sum(-1))


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.0, 0.0], [1.5, -0.7], [0.3, 2.0], [-1.0, 0.1]])
    logvar = torch.tensor([[0.0, 0.0], [-1.0, 0.5], [1.2, -2.0], [0.3, -0.4]])
    analytic = GaussianLatent.kl(mu, logvar).sum(-1)
    assert analytic.shape == (4,)
    assert analytic[0].abs() < 1e-7  # q = prior

    n = 200_000
    z = GaussianLatent.sample(mu, logvar, n=n, generator=g)  # (4, n, 2)
    log_ratio = GaussianLatent.log_q(z, mu.unsqueeze(1), logvar.unsqueeze(1)) - GaussianLatent.log_prior(z)
    mc, se = log_ratio.mean(1), log_ratio.std(1) / math.sqrt(n)
    assert ((mc - analytic).abs() <= 4 * se + 1e-6).all(), f"analytic {analytic.tolist()} vs MC {mc.tolist()}"

    # And against torch's closed form.
    ref = torch.distributions.kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(analytic, ref)


# --- perplexity counts </s> and not <s> ----------------------------------------------------------------------------


def test_split_n_tokens_counts_words_and_one_eos():
    ids = [[4], [5, 6, 7], [8, 9], [4, 4, 4, 4, 4]]
    split = Split("test", ids)
    assert split.n_tokens == (1 + 3 + 2 + 5) + 4
    batch = make_batch(ids, list(range(4)))
    # The batch predicts the same tokens: x_1..x_n and </s>, never <s>.
    assert batch.n_tokens == split.n_tokens == int(batch.mask.sum())
    assert int((batch.tgt == EOS).sum()) == 4 and not (batch.tgt == BOS).any()


@torch.no_grad()
def _lm_nll_stepwise(model, sentence: list[int]) -> float:
    """-log p(x_1..x_n </s>) by feeding <s> x_1..x_n one token at a time through decoder.step."""
    dec = model.decoder
    state = dec.init_state(None, 1)
    total = 0.0
    for prev, nxt in zip([BOS] + sentence, sentence + [EOS], strict=True):
        logits, state = dec.step(torch.tensor([prev]), state, None)
        total -= float(torch.log_softmax(logits.double(), -1)[0, nxt])
    return total


def test_evaluate_lm_ppl_is_exp_of_nll_per_token(make_model, make_sentences):
    model = make_model("lm", vocab_size=12)
    ids = make_sentences(11, vocab_size=12, min_len=1, max_len=7, seed=5)
    split = Split("test", ids)
    metrics = evaluate(model, split, EvalConfig(iw_samples=2), batch_size=4, show_progress=False)

    total = sum(_lm_nll_stepwise(model, s) for s in ids)
    tokens = sum(len(s) for s in ids) + len(ids)
    assert metrics["tokens"] == tokens and metrics["sentences"] == len(ids)
    assert metrics["nll"] == pytest.approx(total / len(ids), rel=1e-5)
    assert metrics["ppl"] == pytest.approx(math.exp(total / tokens), rel=1e-5)
    # Counting <s> too (or dropping </s>) gives a visibly different figure.
    assert abs(math.exp(total / (tokens + len(ids))) - metrics["ppl"]) > 1e-3 * metrics["ppl"]


def test_evaluate_vae_figures_are_consistent(make_model, make_sentences):
    model = make_model("vae", vocab_size=12)
    ids = make_sentences(9, vocab_size=12, seed=6)
    split = Split("test", ids)
    m = evaluate(model, split, EvalConfig(iw_samples=3), batch_size=4, show_progress=False)
    n, tokens = len(ids), split.n_tokens
    assert m["neg_elbo"] == pytest.approx(m["rec"] + m["kl"], rel=1e-6)
    assert m["ppl_elbo"] == pytest.approx(math.exp(m["neg_elbo"] * n / tokens), rel=1e-6)
    assert m["ppl_iw"] == pytest.approx(math.exp(m["nll_iw"] * n / tokens), rel=1e-6)
    with torch.no_grad():
        mu, logvar = model.posterior(make_batch(ids, list(range(n))))
        kl = float(GaussianLatent.kl(mu, logvar).sum()) / n
    assert m["kl"] == pytest.approx(kl, rel=1e-5)


# --- mutual information and active units ---------------------------------------------------------------------------


def test_mi_is_zero_when_the_posterior_ignores_x():
    n, d = 4000, 2
    mu = torch.tensor([0.7, -1.2]).expand(n, d).clone()
    logvar = torch.tensor([-0.5, 0.3]).expand(n, d).clone()
    mi = mutual_info(mu, logvar, torch.Generator().manual_seed(0), chunk=512)
    # One z per row: the estimate is a mean of n terms of std sqrt(d/2) around 0.
    assert abs(mi) < 4 * math.sqrt(d / 2 / n)


@pytest.mark.parametrize("n", [16, 200])
def test_mi_is_log_n_for_separated_posteriors(n):
    d = 2
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(n, d, generator=g) * 1000.0  # far apart compared with sigma = 0.01
    logvar = torch.full((n, d), 2 * math.log(0.01))
    mis = torch.tensor([mutual_info(mu, logvar, g, chunk=7) for _ in range(20)])
    assert abs(float(mis.mean()) - math.log(n)) < 4 * math.sqrt(d / 2 / n / 20)
    assert (mis <= math.log(n) + 6 * math.sqrt(d / 2 / n)).all()


def test_mi_minibatch_variant_is_bounded_by_log_batch_size():
    n, d, b = 120, 2, 8
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(n, d, generator=g) * 1000.0
    logvar = torch.full((n, d), 2 * math.log(0.01))
    mis = torch.tensor([mutual_info_minibatch(mu, logvar, b, g) for _ in range(20)])
    assert abs(float(mis.mean()) - math.log(b)) < 4 * math.sqrt(d / 2 / n / 20)
    # With one batch holding every row it is the dataset estimate, sample for sample.
    assert mutual_info_minibatch(mu, logvar, n, torch.Generator().manual_seed(5)) == pytest.approx(
        mutual_info(mu, logvar, torch.Generator().manual_seed(5)), abs=1e-9)


def test_active_units_counts_dims_whose_mean_varies():
    n = 50
    g = torch.Generator().manual_seed(0)
    base = torch.randn(n, generator=g)
    base = (base - base.mean()) / base.std()  # unbiased variance exactly 1
    mu = torch.stack([
        torch.full((n,), 3.0),  # constant: variance 0
        0.05 * base,            # variance 0.0025 < 0.01
        0.2 * base,             # variance 0.04
        2.0 * base + 5.0,       # variance 4
        0.09 * base,            # variance 0.0081 < 0.01
        0.11 * base,            # variance 0.0121 >= 0.01
    ], dim=1)
    count, var = active_units(mu, threshold=0.01)
    want = torch.tensor([0.0, 0.0025, 0.04, 4.0, 0.0081, 0.0121])
    torch.testing.assert_close(var, want, atol=1e-5, rtol=1e-4)
    assert count == 3
    assert active_units(mu, threshold=0.03)[0] == 2
    assert active_units(mu, threshold=5.0)[0] == 0
    assert active_units(mu[:1], threshold=0.0)[0] == mu.shape[1]  # one row: every variance is 0 >= 0


def test_evaluate_rec_does_not_depend_on_k(make_model, make_sentences):
    from textvae.config import EvalConfig
    from textvae.data.corpus import Split
    from textvae.evaluation import evaluate

    model = make_model("vae", vocab_size=12)
    split = Split("test", make_sentences(20, 12, 1, 6, 0))
    cfg = EvalConfig(iw_samples=3)
    a = evaluate(model, split, cfg, batch_size=8, iw_samples=0, show_progress=False)
    b = evaluate(model, split, cfg, batch_size=8, iw_samples=7, show_progress=False)
    assert a["rec"] == b["rec"] and a["kl"] == b["kl"] and a["mi"] == b["mi"]


def test_log_q_matrix_equals_the_broadcast_density():
    from textvae.evaluation.estimators import _log_q_matrix
    from textvae.models.latent import GaussianLatent

    g = torch.Generator().manual_seed(0)
    mu = torch.randn(40, 6, generator=g, dtype=torch.float64) * 3
    logvar = torch.randn(40, 6, generator=g, dtype=torch.float64) * 2  # variances from ~e^-6 to e^6
    z = torch.randn(25, 6, generator=g, dtype=torch.float64) * 3
    direct = GaussianLatent.log_q(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    torch.testing.assert_close(_log_q_matrix(z, mu, logvar), direct, atol=1e-8, rtol=1e-10)
    # float32 inputs come back in float64, with the same values
    torch.testing.assert_close(_log_q_matrix(z.float(), mu.float(), logvar.float()), direct, atol=1e-2, rtol=1e-5)


def test_iw_token_budget_auto_depends_on_the_device_and_an_explicit_value_is_kept():
    from textvae.evaluation.evaluate import iw_token_budget

    assert iw_token_budget(0, "cpu") == 4096
    assert iw_token_budget(0, "cuda") == 32768
    assert iw_token_budget(0, "cuda:1") == 32768
    assert iw_token_budget(512, "cpu") == 512
    assert iw_token_budget(65536, "cuda") == 65536


def test_scoring_in_blocks_without_autograd_gives_the_same_figures(monkeypatch, make_model, make_sentences):
    import textvae.models.vae as vae_module

    model = make_model("vae", vocab_size=12).eval()
    sentences = make_sentences(9, vocab_size=12, seed=4)
    batch = make_batch(sentences, list(range(len(sentences))))
    z = torch.randn(batch.size, model.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = model.rec(batch, z)
        monkeypatch.setattr(vae_module, "SCORE_BYTES", 4 * 12 * 5)  # blocks of 5 tokens, the last one short
        assert vae_module.score_rows(12) == 5 and batch.n_tokens > 2 * 5 and batch.n_tokens % 5
        blocks = model.rec(batch, z)
    torch.testing.assert_close(blocks, whole)
    with torch.enable_grad():  # training scores all rows at once (its gradients need them)
        torch.testing.assert_close(model.rec(batch, z), whole)
