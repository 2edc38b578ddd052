"""Beam search and sampling: exactness on enumerable sentence spaces, batching, constraints, filters."""

from __future__ import annotations

import itertools

import pytest
import torch

from textvae.data.batching import make_batch
from textvae.data.vocab import BOS, EOS, PAD, UNK
from textvae.decoding import DecodeOptions, beam_search, decode, greedy_decode, sample_decode, truncate_logits

WORDS = [4, 5, 6]  # vocabulary of 7: the 4 specials and 3 words


def _peaked_model(make_model, seed: int = 0, vocab_size: int = 7, eos_bias: float = 0.0):
    """A tiny VAE with sharpened outputs so that sentences differ a lot in probability."""
    model = make_model("vae", vocab_size=vocab_size, seed=seed, latent_dim=3)
    with torch.no_grad():
        model.decoder.out.weight.mul_(4.0)
        model.decoder.init.weight.mul_(3.0)
        model.decoder.out.bias[EOS] += eos_bias
    return model


@torch.no_grad()
def _log_probs(model, sentences: list[list[int]], z_row: torch.Tensor) -> torch.Tensor:
    """log p(x | z) (nats, </s> included) of every sentence under one code z_row (1, Z)."""
    batch = make_batch(sentences, list(range(len(sentences))))
    return -model.rec(batch, z_row.expand(len(sentences), -1))


def _all_sentences(max_words: int, words=WORDS) -> list[list[int]]:
    return [list(s) for n in range(max_words + 1) for s in itertools.product(words, repeat=n)]


def _codes(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed)) * 2.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_finds_the_exact_argmax_and_scores_are_log_probs(make_model, seed):
    model = _peaked_model(make_model, seed)
    max_len = 4  # at most 3 words, then </s>
    space = _all_sentences(max_len - 1)  # 40 sentences
    z = _codes(6, seed)
    hyps = beam_search(model.decoder, z, width=len(space), max_len=max_len, ban_unk=True, n_best=5)
    greedy_missed = 0
    for b in range(z.shape[0]):
        logp = _log_probs(model, space, z[b : b + 1])
        top = logp.topk(5)
        assert hyps.tokens[b] == [space[i] for i in top.indices.tolist()]
        torch.testing.assert_close(hyps.scores[b], top.values, atol=1e-4, rtol=0)
        torch.testing.assert_close(hyps.scores[b], _log_probs(model, hyps.tokens[b], z[b : b + 1]), atol=1e-4, rtol=0)
        assert hyps.lengths[b].tolist() == [len(s) + 1 for s in hyps.tokens[b]]
        greedy = greedy_decode(model.decoder, z[b : b + 1], max_len=max_len - 1, ban_unk=True)[0]
        greedy_missed += greedy != space[int(top.indices[0])]
    # The setup bites: greedy search misses the argmax for some codes, so the beam is doing the work.
    assert greedy_missed > 0


def test_beam_width_one_equals_greedy(make_model):
    model = _peaked_model(make_model, 3, vocab_size=12, eos_bias=1.0)
    z = _codes(16, 3)
    greedy = greedy_decode(model.decoder, z, max_len=30)
    assert max(len(g) for g in greedy) < 29 and len({len(g) for g in greedy}) > 2  # all end, at varied lengths
    assert beam_search(model.decoder, z, width=1, max_len=30).best == greedy


def test_batched_beam_equals_one_sentence_at_a_time(make_model):
    model = _peaked_model(make_model, 4, vocab_size=12)
    z = _codes(5, 4)
    together = beam_search(model.decoder, z, width=4, max_len=12, n_best=3)
    for b in range(5):
        alone = beam_search(model.decoder, z[b : b + 1], width=4, max_len=12, n_best=3)
        assert alone.tokens[0] == together.tokens[b]
        torch.testing.assert_close(alone.scores[0], together.scores[b], atol=1e-5, rtol=0)


def test_forced_tokens_give_the_best_sentence_that_satisfies_them(make_model):
    model = _peaked_model(make_model, 5)
    max_len = 5
    space = _all_sentences(max_len - 1)
    z = _codes(4, 5)
    # Sentence b must have word 5 at position 1 and (for b >= 2) end right after position 2.
    forced = torch.full((4, 3), -1)
    forced[:, 1] = 5
    forced[2:, 2] = EOS
    hyps = beam_search(model.decoder, z, width=len(space), max_len=max_len, ban_unk=True, forced=forced)
    for b in range(4):
        ok = [s for s in space if len(s) > 1 and s[1] == 5 and (b < 2 or len(s) == 2)]
        logp = _log_probs(model, ok, z[b : b + 1])
        assert hyps.best[b] == ok[int(logp.argmax())]
        torch.testing.assert_close(hyps.scores[b, 0], logp.max(), atol=1e-4, rtol=0)


def test_forced_token_may_be_a_banned_one(make_model):
    model = _peaked_model(make_model, 6)
    forced = torch.tensor([[-1, UNK]])
    out = beam_search(model.decoder, _codes(1, 6), width=3, max_len=6, ban_unk=True, forced=forced).best[0]
    assert out[1] == UNK and UNK not in out[:1] + out[2:]


def test_length_penalty_reranks_towards_longer_sentences(make_model):
    model = _peaked_model(make_model, 7, eos_bias=2.0)
    z = _codes(8, 7)
    raw = beam_search(model.decoder, z, width=10, max_len=8, n_best=10)
    norm = beam_search(model.decoder, z, width=10, max_len=8, n_best=10, length_penalty=1.0)
    for b in range(8):  # the same hypotheses, re-ranked by score per token
        key = norm.scores[b] / norm.lengths[b].float()
        assert bool((key[:-1] >= key[1:] - 1e-6).all())
        assert sorted(map(tuple, raw.tokens[b])) == sorted(map(tuple, norm.tokens[b]))
    assert sum(len(s) for s in norm.best) > sum(len(s) for s in raw.best)


def test_decoders_never_emit_pad_or_bos(make_model):
    model = make_model("vae", vocab_size=9, seed=8)
    with torch.no_grad():
        model.decoder.out.bias[PAD] += 30.0
        model.decoder.out.bias[BOS] += 30.0
    z = _codes(4, 8)
    gen = torch.Generator().manual_seed(0)
    outs = beam_search(model.decoder, z, width=5, max_len=8, n_best=5).tokens
    outs = [s for hyps in outs for s in hyps] + sample_decode(model.decoder, z, max_len=8, generator=gen)
    assert outs and all(PAD not in s and BOS not in s for s in outs)


def test_lm_beam_search_without_codes(make_model):
    model = make_model("lm", vocab_size=8, seed=9)
    hyps = beam_search(model.decoder, None, width=4, max_len=6, batch_size=2, n_best=2)
    assert hyps.tokens[0] == hyps.tokens[1] and len(hyps.tokens[0]) == 2


def test_truncate_logits_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    inf = float("-inf")
    assert truncate_logits(logits, top_k=2).isinf().tolist() == [[False, False, True, True]]
    # top_p: keep the fewest most probable tokens whose mass reaches p
    assert truncate_logits(logits, top_p=0.5).isinf().tolist() == [[False, True, True, True]]
    assert truncate_logits(logits, top_p=0.7).isinf().tolist() == [[False, False, True, True]]
    assert truncate_logits(logits, top_p=0.01).isinf().tolist() == [[False, True, True, True]]
    torch.testing.assert_close(truncate_logits(logits, temperature=2.0), logits / 2.0)
    assert truncate_logits(torch.tensor([[0.0, inf, 1.0]]), top_k=1).tolist() == [[inf, inf, 1.0]]
    with pytest.raises(ValueError):
        truncate_logits(logits, temperature=0.0)


def test_sampling_follows_the_model_distribution(make_model):
    model = make_model("vae", vocab_size=8, seed=10)
    z = _codes(1, 10).expand(20000, -1)
    drawn = sample_decode(model.decoder, z, max_len=1, generator=torch.Generator().manual_seed(1))
    first = [s[0] if s else EOS for s in drawn]
    with torch.no_grad():
        logits, _ = model.decoder.step(torch.tensor([BOS]), model.decoder.init_state(z[:1], 1), z[:1])
    logits[:, [PAD, BOS]] = float("-inf")
    expected = logits.softmax(-1)[0]
    observed = torch.bincount(torch.tensor(first), minlength=8).float() / len(first)
    torch.testing.assert_close(observed, expected, atol=0.015, rtol=0)


def test_top_k_one_sampling_is_greedy(make_model):
    model = _peaked_model(make_model, 11, vocab_size=12, eos_bias=1.0)
    z = _codes(8, 11)
    gen = torch.Generator().manual_seed(0)
    top1 = sample_decode(model.decoder, z, max_len=20, top_k=1, generator=gen)
    assert top1 == greedy_decode(model.decoder, z, max_len=20)


# --- decode(): one entry point, forced tokens, the decoder's length limit ------------------------------------------


@pytest.mark.parametrize("method", ["greedy", "sample", "beam"])
def test_decode_honours_forced_tokens(make_model, method):
    model = _peaked_model(make_model, 12, vocab_size=9, eos_bias=4.0)  # likes to end at once
    z = _codes(6, 12)
    opts = DecodeOptions(method=method, width=4, max_len=10, ban_unk=True, batch_size=8)  # beam: 2 codes a call
    free = decode(model.decoder, z, opts)
    assert any(len(s) < 4 for s in free)  # so the constraint below changes outputs
    forced = torch.full((6, 5), -1)
    forced[:, 1] = 7  # position 1 must be word 7 ...
    forced[::2, 4] = UNK  # ... and in even rows position 4 must be <unk> (banned, but forced)
    out = decode(model.decoder, z, opts, forced=forced)
    for i, s in enumerate(out):
        assert len(s) >= 2 and s[1] == 7, s
        if i % 2 == 0:
            assert len(s) >= 5 and s[4] == UNK, s
        assert UNK not in s[:4] + s[5:]


def test_decode_forced_beam_is_the_best_constrained_sentence(make_model):
    model = _peaked_model(make_model, 13)
    max_len = 5
    space = _all_sentences(max_len - 1)
    z = _codes(3, 13)
    forced = torch.tensor([[-1, 5, -1], [4, -1, EOS], [-1, -1, -1]])
    out = decode(model.decoder, z, DecodeOptions(method="beam", width=len(space), max_len=max_len), forced=forced)
    for b in range(3):
        ok = [s for s in space if all(len(s) > t and s[t] == f or (f == EOS and len(s) == t) for t, f in
                                      enumerate(forced[b].tolist()) if f >= 0)]
        logp = _log_probs(model, ok, z[b : b + 1])
        assert out[b] == ok[int(logp.argmax())]


@pytest.mark.parametrize("method", ["greedy", "sample", "beam"])
def test_decode_clamps_to_the_decoders_max_len(make_model, method):
    model = _peaked_model(make_model, 14, vocab_size=9, eos_bias=-30.0)  # never ends on its own
    z = _codes(4, 14)
    opts = DecodeOptions(method=method, width=3, max_len=40)
    assert all(len(s) >= 39 for s in decode(model.decoder, z, opts))  # beam closes with </s> at max_len
    model.decoder.max_len = 6  # a decoder that can score at most 6 positions (</s> included)
    assert all(len(s) <= 6 for s in decode(model.decoder, z, opts))


@pytest.mark.parametrize("n_best", [1, 3])
@pytest.mark.parametrize("with_forced", [False, True])
def test_settled_sentences_leave_the_search_without_changing_it(make_model, monkeypatch, n_best, with_forced):
    """Dropping a sentence once its n_best ended hypotheses beat every open one gives exactly the output of
    searching until every hypothesis has ended (the reference: _settled replaced by 'all ended')."""
    import textvae.decoding.beam as beam_mod

    model = _peaked_model(make_model, 7, vocab_size=12, eos_bias=0.5)
    z = _codes(12, 7)
    forced = None
    if with_forced:
        forced = torch.full((12, 4), -1)
        forced[::2, 3] = 6  # half the sentences must have word 6 at position 3
    early = beam_search(model.decoder, z, width=5, max_len=25, n_best=n_best, forced=forced)
    calls = []
    real = beam_mod._settled
    monkeypatch.setattr(beam_mod, "_settled", lambda s, f, n: calls.append(real(s, f, n)) or f.all(1))
    full = beam_search(model.decoder, z, width=5, max_len=25, n_best=n_best, forced=forced)
    # the set-up bites: some sentence settles while others still search
    assert any(bool(c.any()) and not bool(c.all()) for c in calls)
    assert early.tokens == full.tokens
    assert torch.equal(early.scores, full.scores) and torch.equal(early.lengths, full.lengths)
