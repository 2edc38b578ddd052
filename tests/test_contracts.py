"""Contract tests every registered component passes (``textvae.models.interface``).

A new decoder kind joins ``DECODER_CASES`` (one or more tiny configurations of it) and gets every test here;
``test_every_registered_kind_has_a_case`` fails until it does. The worked example of the interface's docstring
is executed and joins the table too, so the example stays a working decoder.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from textvae.config import DECODER_KINDS, ENCODER_KINDS, LSTMDecoderConfig, LSTMEncoderConfig, ModelConfig
from textvae.config.model import ConvEncoderConfig
from textvae.data.batching import make_batch
from textvae.data.vocab import BOS, PAD
from textvae.decoding import beam_search
from textvae.models import build_model, interface
from textvae.models.build import LATENTS
from textvae.models.encoders import build_encoder
from textvae.models.interface import Decoder, DecoderOutput, Encoder, Latent
from textvae.models.latent import GaussianLatent
from textvae.models.vae import TextVAE

V = 7  # the 4 specials and 3 words: every sentence of up to 3 words can be enumerated
WORDS = [4, 5, 6]
ATOL = 1e-5


def _docs_example_class() -> type:
    """The decoder class written in ``textvae.models.interface``'s docstring, executed."""
    code = textwrap.dedent(interface.__doc__.split("::", 1)[1].split("\n\n", 1)[1].split("\nRegister it")[0])
    namespace = {"torch": torch, "nn": nn, "DecoderOutput": DecoderOutput}
    exec(code, namespace)  # noqa: S102 - the library's own documentation
    return next(v for k, v in namespace.items() if re.fullmatch(r"\w+Decoder", k))


@dataclass
class Case:
    """A tiny model around one decoder configuration: ``kind`` the registered decoder kind it exercises (None:
    the docstring example), ``model_type`` vae or lm, ``decoder`` the kind's config options."""

    kind: str | None
    model_type: str = "vae"
    decoder: dict = field(default_factory=dict)

    def build(self, seed: int = 0, vocab_size: int = V, z_dim: int = 3) -> TextVAE:
        torch.manual_seed(seed)
        if self.kind is None:
            enc = build_encoder(LSTMEncoderConfig(embed_dim=8, hidden_dim=16), vocab_size)
            return TextVAE(enc, GaussianLatent(enc.out_dim, z_dim), _docs_example_class()(vocab_size, z_dim)).eval()
        dec = DECODER_KINDS[self.kind].config(**self.decoder)
        model = build_model(ModelConfig(type=self.model_type, latent_dim=z_dim, decoder=dec,
                                        encoder=LSTMEncoderConfig(embed_dim=8, hidden_dim=16)), vocab_size)
        with torch.no_grad():  # sharper outputs: sentences differ a lot in probability, so ties do not occur
            for p in model.decoder.parameters():
                p.mul_(3.0)
        return model.eval()


DECODER_CASES = {
    "lstm": Case("lstm", decoder={"embed_dim": 8, "hidden_dim": 16}),
    "lstm-concat": Case("lstm", decoder={"embed_dim": 8, "hidden_dim": 16, "z_concat": True, "z_to_init": False}),
    "lstm-inputless": Case("lstm", decoder={"embed_dim": 8, "hidden_dim": 16, "inputless": True}),
    "lstm-layer-norm": Case("lstm", decoder={"embed_dim": 8, "hidden_dim": 16, "layer_norm": True, "dropout": 0.3}),
    "lstm-2-layers-tied": Case("lstm", decoder={"embed_dim": 16, "hidden_dim": 16, "layers": 2,
                                                "tie_embeddings": True, "z_concat": True, "dropout": 0.2}),
    "rnnlm": Case("lstm", model_type="lm", decoder={"embed_dim": 8, "hidden_dim": 16}),
    "rnnlm-2-layers": Case("lstm", model_type="lm", decoder={"embed_dim": 8, "hidden_dim": 16, "layers": 2}),
    "deconv": Case("deconv", decoder={"length": 8, "channels": [8, 6, 5]}),
    "hybrid": Case("hybrid", decoder={"length": 8, "channels": [8, 6], "embed_dim": 4, "hidden_dim": 10}),
    "hybrid-no-norm": Case("hybrid", decoder={"length": 8, "channels": [6], "embed_dim": 4, "hidden_dim": 10,
                                              "layer_norm": False}),
    "bytenet-1": Case("bytenet", decoder={"length": 8, "channels": [8, 6], "embed_dim": 4, "hidden_dim": 10,
                                          "layers": 1}),
    "bytenet-3": Case("bytenet", decoder={"length": 8, "channels": [8, 6], "embed_dim": 4, "hidden_dim": 10,
                                          "layers": 3}),
    "autr": Case("autr", decoder={"length": 8, "embed_dim": 6, "hidden_dim": 10, "steps": 5}),
    "autr-few-steps": Case("autr", decoder={"length": 8, "embed_dim": 6, "hidden_dim": 10, "steps": 2}),
    "transformer": Case("transformer", decoder={"embed_dim": 8, "layers": 2, "heads": 2, "ff_dim": 16, "max_len": 8}),
    "transformer-lm": Case("transformer", model_type="lm", decoder={"embed_dim": 8, "layers": 1, "heads": 2,
                                                                   "ff_dim": 16, "max_len": 8, "dropout": 0.0}),
    "docs-example": Case(None),
}
CASES = pytest.mark.parametrize("case", DECODER_CASES.values(), ids=DECODER_CASES.keys())


def _codes(model: TextVAE, n: int, seed: int = 0) -> torch.Tensor | None:
    return torch.randn(n, model.z_dim, generator=torch.Generator().manual_seed(seed)) * 2 if model.z_dim else None


def _sentences(n: int, seed: int = 0, lo: int = 1, hi: int = 6) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(lo, hi + 1, (n,), generator=g).tolist()
    return [torch.randint(4, V, (k,), generator=g).tolist() for k in lengths]


def test_every_registered_kind_has_a_case():
    assert set(DECODER_KINDS) <= {c.kind for c in DECODER_CASES.values()}
    assert set(ENCODER_KINDS) == {c.kind for c in ENCODER_CASES.values()}


@CASES
def test_declarations(case):
    model = case.build()
    dec = model.decoder
    assert isinstance(dec, Decoder)
    assert dec.vocab_size == V and dec.z_dim == model.z_dim
    assert dec.max_len is None or (isinstance(dec.max_len, int) and dec.max_len > 0)
    batch = make_batch(_sentences(4), list(range(4)))
    out = dec(batch.inp, _codes(model, 4), aux=True)
    assert isinstance(out, DecoderOutput) and out.h.shape[:2] == batch.inp.shape
    assert set(out.aux) == set(dec.aux_heads)
    assert dec.logits(out.h).shape == (*batch.inp.shape, V)
    for name, h in out.aux.items():
        assert h.shape[:2] == batch.inp.shape and dec.logits(h, name).shape == (*batch.inp.shape, V)
    assert dec(batch.inp, _codes(model, 4)).aux == {}  # heads only when asked for
    full = model(batch, aux=True)
    assert set(full.aux) == set(dec.aux_heads) and all(v.shape == (4,) for v in full.aux.values())


@CASES
@torch.no_grad()
def test_stepwise_decoding_equals_teacher_forcing(case):
    model = case.build(seed=1)
    seqs = _sentences(5, seed=1)
    batch = make_batch(seqs, list(range(5)))
    z = _codes(model, 5, seed=1)
    dec = model.decoder
    full = dec.logits(dec(batch.inp, z).h)  # (B, L, V)
    state = dec.init_state(z, 5, batch.inp.device)
    for t in range(batch.inp.shape[1]):
        logits, state = dec.step(batch.inp[:, t], state, z)
        real = batch.mask[:, t]  # past a sentence's end the step was fed padding: not compared
        torch.testing.assert_close(logits[real], full[real, t], atol=ATOL, rtol=0)


@CASES
@torch.no_grad()
def test_padding_changes_no_per_sentence_figure(case):
    model = case.build(seed=2)
    seqs = _sentences(6, seed=2, lo=1, hi=7)
    short = min(range(6), key=lambda i: len(seqs[i]))
    batch = make_batch(seqs, list(range(6)))
    alone = make_batch([seqs[short]], [0])
    assert (batch.tgt[short] == PAD).any()  # the sentence is padded in the batch
    z = _codes(model, 6, seed=2)
    zs = None if z is None else z[short : short + 1]
    torch.testing.assert_close(model.rec(batch, z)[short : short + 1], model.rec(alone, zs), atol=ATOL, rtol=0)
    if model.has_latent:
        for a, b in zip(model.posterior(batch), model.posterior(alone), strict=True):
            torch.testing.assert_close(a[short : short + 1], b, atol=ATOL, rtol=0)


@CASES
@torch.no_grad()
def test_reorder_state_equals_decoding_rows_separately(case):
    model = case.build(seed=3)
    dec = model.decoder
    z = _codes(model, 3, seed=3)
    history = torch.tensor([[BOS, 4, 5], [BOS, 6, 6], [BOS, 5, 4]])
    index = torch.tensor([2, 0, 0, 1])  # drops none, copies row 0, reorders
    state = dec.init_state(z, 3, None)
    for t in range(2):
        _, state = dec.step(history[:, t], state, z)
    state = dec.reorder_state(state, index)
    zr = None if z is None else z[index]
    together, _ = dec.step(history[index, 2], state, zr)
    for row, i in enumerate(index.tolist()):
        zi = None if z is None else z[i : i + 1]
        s1 = dec.init_state(zi, 1, None)
        for t in range(3):
            alone, s1 = dec.step(history[i : i + 1, t], s1, zi)
        torch.testing.assert_close(together[row : row + 1], alone, atol=ATOL, rtol=1e-6)  # logits of AUTR reach ~100


@CASES
@torch.no_grad()
def test_exhaustive_beam_equals_brute_force(case):
    model = case.build(seed=4)
    max_len = 4  # up to 3 words, then </s>
    space = [list(s) for n in range(max_len) for s in itertools.product(WORDS, repeat=n)]  # 40 sentences
    rows = 3
    z = _codes(model, rows, seed=4)
    hyps = beam_search(model.decoder, z, width=len(space), max_len=max_len, batch_size=rows, ban_unk=True, n_best=5)
    for b in range(rows):
        zb = None if z is None else z[b : b + 1].expand(len(space), -1)
        logp = -model.rec(make_batch(space, list(range(len(space)))), zb)
        top = logp.topk(5)
        assert hyps.tokens[b] == [space[i] for i in top.indices.tolist()]
        torch.testing.assert_close(hyps.scores[b], top.values, atol=1e-4, rtol=0)


# --- encoders and latents --------------------------------------------------------------------------------------


ENCODER_CASES = {
    "lstm": LSTMEncoderConfig(embed_dim=8, hidden_dim=16), "lstm-bi": LSTMEncoderConfig(embed_dim=8, hidden_dim=16,
                                                                                       bidirectional=True),
    "lstm-norm": LSTMEncoderConfig(embed_dim=8, hidden_dim=16, layer_norm=True),
    "conv": ConvEncoderConfig(length=8, embed_dim=4, channels=[6, 5]),
}


@pytest.mark.parametrize("cfg", ENCODER_CASES.values(), ids=ENCODER_CASES.keys())
@torch.no_grad()
def test_encoder_contract(cfg):
    torch.manual_seed(0)
    enc = build_encoder(cfg, V).eval()
    assert isinstance(enc, Encoder)
    seqs = _sentences(5, seed=5)
    batch = make_batch(seqs, list(range(5)))
    h = enc(batch.tgt, batch.lengths)
    assert h.shape == (5, enc.out_dim)
    for i, s in enumerate(seqs):
        alone = make_batch([s], [0])
        torch.testing.assert_close(h[i : i + 1], enc(alone.tgt, alone.lengths), atol=ATOL, rtol=0)


@pytest.mark.parametrize("model_type", sorted(LATENTS))
def test_latent_contract(model_type):
    latent = LATENTS[model_type](6, 3)
    assert isinstance(latent, Latent)
    mu, logvar = latent(torch.randn(4, 6))
    assert mu.shape == (4, 3) and (logvar is None) == latent.deterministic
    assert latent.sample(mu, logvar).shape == (4, 3) and latent.sample(mu, logvar, n=5).shape == (4, 5, 3)
    kl = latent.kl(mu, logvar)
    assert kl.shape == (4, 3) and (kl >= 0).all() and (latent.deterministic == bool((kl == 0).all()))


def test_every_kind_is_built_from_its_config_fields():
    """The registry builds a module from its config's fields as keyword arguments: a config field the class does
    not take, or a renamed argument, fails here instead of in a user's recipe."""
    import inspect

    from textvae.config import kind_options

    for kinds, extra in ((DECODER_KINDS, {"vocab_size", "z_dim"}), (ENCODER_KINDS, {"vocab_size"})):
        for name, kind in kinds.items():
            module, cls_name = kind.builder.split(":")
            cls = getattr(__import__(module, fromlist=[cls_name]), cls_name)
            params = set(inspect.signature(cls.__init__).parameters) - {"self"}
            assert params == set(kind_options(kind.config())) | extra, name
            assert kind.config().kind == name
    assert LSTMDecoderConfig().kind == "lstm"


@CASES
def test_declared_capabilities_hold(case):
    """What the registry declares of a kind is what its modules do: a kind that needs z has no language model,
    a canvas kind writes one, and the config's length limit is the decoder's max_len."""
    model = case.build()
    kind = None if case.kind is None else DECODER_KINDS[case.kind]
    if kind is None:
        return
    from textvae.models import capabilities

    assert capabilities(model.decoder) is kind
    assert kind.canvas == hasattr(model.decoder, "after")
    limit = kind.config(**case.decoder).length_limit()
    assert (model.decoder.max_len or 0) == limit
    if kind.needs_z:
        assert case.model_type != "lm"
