"""Objective terms against hand-computed values: AutoGen, free bits, FB-all, mu-Forcing, BOW, KL share,
the cyclical schedule, and recipe range checks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from helpers import tiny_recipe, write_corpus, write_recipe

from textvae.config import (
    AutoGenConfig,
    BowConfig,
    FreeBitsConfig,
    KLWeightConfig,
    MuForcingConfig,
    ObjectiveConfig,
    load_recipe,
)
from textvae.data.batching import make_batch
from textvae.errors import TextVAEError
from textvae.models.vae import Output
from textvae.objectives import BagOfWords, KLTerm, MuForcing, Objective, Reconstruction, kl_weight
from textvae.objectives.objective import mu_spread

CONST = KLWeightConfig(schedule="constant", value=1.0)


def _out(kl=None, mu=None, z=None, rec=None) -> Output:
    b = next(t.shape[0] for t in (kl, mu, z, rec) if t is not None)
    return Output(rec if rec is not None else torch.zeros(b), kl, mu, None, z)


def test_reconstruction_scale_is_autogen_factor():
    rec = torch.tensor([3.0, 5.0])
    value, logs = Reconstruction(1.0 + 2.0)(_out(rec=rec), None, 0)
    assert float(value) == 12.0 and float(logs["rec"]) == 4.0


def test_autogen_is_the_elbo_with_kl_weight_one_over_one_plus_m(make_model, make_sentences):
    model = make_model("vae", vocab_size=12)
    batch = make_batch(make_sentences(6, 12, seed=1), list(range(6)))
    m = 2.0
    autogen = Objective.from_config(ObjectiveConfig(autogen=AutoGenConfig(m=m)), model)
    beta = Objective.from_config(ObjectiveConfig(kl_weight=KLWeightConfig(value=1 / (1 + m))), model)
    torch.manual_seed(0)
    loss_a, _ = autogen(model, batch, 0)
    torch.manual_seed(0)
    loss_b, _ = beta(model, batch, 0)
    torch.testing.assert_close(loss_a / (1 + m), loss_b)


def test_free_bits_per_dimension_by_hand():
    kl = torch.tensor([[0.0, 0.5, 2.0], [0.02, 0.3, 2.0]])  # batch means 0.01, 0.4, 2.0
    value, logs = KLTerm(CONST, FreeBitsConfig(per_dim=0.0125))(_out(kl=kl), None, 0)
    assert float(value) == pytest.approx(0.0125 + 0.4 + 2.0)
    assert float(logs["kl"]) == pytest.approx(2.41)
    value, _ = KLTerm(CONST, FreeBitsConfig(per_dim=0.5))(_out(kl=kl), None, 0)
    assert float(value) == pytest.approx(0.5 + 0.5 + 2.0)


def test_fb_all_by_hand():
    kl = torch.tensor([[0.05, 0.05], [0.1, 0.0]])  # total 0.1 per sentence on average
    assert float(KLTerm(CONST, FreeBitsConfig(total=0.2))(_out(kl=kl), None, 0)[0]) == pytest.approx(0.2)
    assert float(KLTerm(CONST, FreeBitsConfig(total=0.05))(_out(kl=kl), None, 0)[0]) == pytest.approx(0.1)


@pytest.mark.parametrize("fb", [FreeBitsConfig(per_dim=0.3), FreeBitsConfig(total=1.0)], ids=["per_dim", "total"])
def test_free_bits_term_never_below_target_and_no_gradient_below_it(fb):
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        kl = (torch.rand(8, 4, generator=g) * 0.6).requires_grad_()
        value, _ = KLTerm(CONST, fb)(_out(kl=kl), None, 0)
        floor = 4 * fb.per_dim if fb.per_dim else fb.total
        assert float(value.detach()) >= floor - 1e-6
        value.backward()
        below = kl.mean(0) < fb.per_dim if fb.per_dim else kl.sum(-1).mean().expand(4) < fb.total
        assert torch.all(kl.grad[:, below] == 0) and torch.all(kl.grad[:, ~below] > 0)


def test_mu_forcing_by_hand_and_zero_when_spread_exceeds_beta():
    mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]], requires_grad=True)
    # mean is 0; 1/(2N) sum ||mu_n||^2 = (1 + 1 + 4 + 4) / 8 = 1.25
    value, logs = MuForcing(2.0)(_out(mu=mu), None, 0)
    assert float(mu_spread(mu.detach())) == pytest.approx(1.25) and float(value.detach()) == pytest.approx(0.75)
    value.backward()
    torch.testing.assert_close(mu.grad, -mu.detach() / 4)  # d/dmu of -1/(2N) sum ||mu - mean||^2
    mu.grad = None
    value, _ = MuForcing(1.0)(_out(mu=mu), None, 0)
    assert float(value.detach()) == 0.0
    value.backward()
    assert torch.all(mu.grad == 0)


def test_bag_of_words_by_hand():
    bow = BagOfWords(BowConfig(weight=0.5, hidden=0), z_dim=3, vocab_size=10)
    with torch.no_grad():
        bow.head.weight.zero_()
        bow.head.bias.zero_()  # uniform over 10 words
    batch = make_batch([[4, 5, 6], [7]], [0, 1])  # 4 and 2 targets with </s>
    value, logs = bow(_out(z=torch.randn(2, 3)), batch, 0)
    assert float(logs["bow"]) == pytest.approx(3 * math.log(10))  # mean of 4 log 10 and 2 log 10
    assert float(value.detach()) == pytest.approx(0.5 * 3 * math.log(10))
    with torch.no_grad():
        bow.head.bias[4] = 100.0  # almost all mass on word 4: only its one occurrence is cheap
    _, logs = bow(_out(z=torch.zeros(2, 3)), batch, 0)
    assert float(logs["bow"]) > 100.0


def test_objective_terms_and_kl_share(make_model, make_sentences):
    model = make_model("vae", vocab_size=12).train()
    batch = make_batch(make_sentences(6, 12, seed=2), list(range(6)))
    cfg = ObjectiveConfig(kl_weight=KLWeightConfig(value=0.5), mu_forcing=MuForcingConfig(beta=5.0),
                          bow=BowConfig(weight=1.0, hidden=4))
    objective = Objective.from_config(cfg, model)
    assert [type(t).__name__ for t in objective.terms] == ["Reconstruction", "KLTerm", "MuForcing", "BagOfWords"]
    assert sum(p.numel() for p in objective.parameters()) == 3 * 4 + 4 + 4 * 12 + 12
    loss, logs = objective(model, batch, 0)
    parts = logs["rec"] + 0.5 * logs["kl"] + logs["mu_forcing"] + logs["bow"]
    torch.testing.assert_close(loss.detach(), parts)
    torch.testing.assert_close(logs["kl_share"], 100 * 0.5 * logs["kl"] / loss.detach())
    torch.testing.assert_close(logs["neg_elbo"], logs["rec"] + logs["kl"])
    assert float(logs["mu_forcing"]) == pytest.approx(max(0.0, 5.0 - float(logs["mu_spread"])), abs=1e-5)
    # an RNNLM gets no latent terms
    lm = Objective.from_config(cfg, make_model("lm", vocab_size=12))
    assert [type(t).__name__ for t in lm.terms] == ["Reconstruction"]


def test_cyclical_schedule_values():
    cyc = KLWeightConfig(schedule="cyclical", value=1.0, steps=1000, cycles=4, ratio=0.5)
    # cycles of 250 steps: rising over the first 125, flat at 1 for the rest
    assert [kl_weight(cyc, s) for s in (0, 50, 100, 125, 200, 250, 300, 999, 1000, 5000)] == pytest.approx(
        [0.0, 0.4, 0.8, 1.0, 1.0, 0.0, 0.4, 1.0, 1.0, 1.0])
    half = KLWeightConfig(schedule="cyclical", value=0.5, steps=100, cycles=1, ratio=1.0)
    assert kl_weight(half, 50) == pytest.approx(0.25)


@pytest.mark.parametrize("section,message", [
    ({"autogen": {"m": -1.0}}, "'objective.autogen.m' must be >= 0"),
    ({"mu_forcing": {"beta": -0.5}}, "'objective.mu_forcing.beta' must be >= 0"),
    ({"free_bits": {"per_dim": 0.1, "total": 0.2}}, "per_dim or total, not both"),
    ({"kl_weight": {"schedule": "cyclical", "ratio": 0.0}}, "'objective.kl_weight.ratio' must be in (0, 1]"),
    ({"word_dropout": {"keep": 1.5}}, "'objective.word_dropout.keep' must be in [0, 1]"),
])
def test_out_of_range_objective_values(tmp_path, section, message):
    recipe = tiny_recipe(write_corpus(tmp_path / "c"), objective=section)
    with pytest.raises(TextVAEError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        load_recipe(write_recipe(tmp_path / "r.yaml", recipe))


LIU_ROWS = {  # mu-Forcing Table 1: row -> (annealed, free bits per dim, total, bow weight, beta)
    "vrae": (False, 0, 0, 0, 0), "vrae_kla": (True, 0, 0, 0, 0), "vrae_fb": (False, 0.0125, 0, 0, 0),
    "vrae_fb_all": (False, 0, 0.2, 0, 0), "vrae_bow": (False, 0, 0, 1.0, 0), "vrae_bow_kla": (True, 0, 0, 1.0, 0),
    "mu_forcing_1_5": (True, 0, 0, 0, 1.5), "mu_forcing_2_0": (True, 0, 0, 0, 2.0),
    "mu_forcing_2_5": (True, 0, 0, 0, 2.5), "mu_forcing_3_0": (True, 0, 0, 0, 3.0),
}
RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("corpus", ["ptb", "yelp"])
def test_paper_recipes_select_the_intended_terms(corpus):
    for row, (kla, per_dim, total, bow, beta) in LIU_ROWS.items():
        recipe = load_recipe(RECIPES / "liu2019" / f"{corpus}_{row}.yaml")
        m, t, o = recipe.model, recipe.train, recipe.objective  # section 5.1's set-up in every row
        assert (m.encoder.bidirectional, m.encoder.layer_norm, m.decoder.layer_norm, t.clip_value, t.clip_grad) == (
            True, True, True, 5.0, 0.0), row
        assert (o.kl_weight.schedule == "linear" and o.kl_weight.steps == 10000) == kla, row
        assert (o.free_bits.per_dim, o.free_bits.total, o.bow.weight, o.mu_forcing.beta) == (per_dim, total, bow,
                                                                                              beta), row
    for row, m, annealed in (("vae", 0, False), ("vae_annealing", 0, True), ("autogen_m1", 1, False),
                             ("autogen_m2", 2, False)):
        o = load_recipe(RECIPES / "autogen" / f"{corpus}_{row}.yaml").objective
        assert o.autogen.m == m and (o.kl_weight.schedule != "constant") == annealed, row
