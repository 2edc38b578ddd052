"""Beam search, batched over sentences and beams, with forced tokens (for imputation) and length
normalisation.

All B x W hypotheses advance in one decoder step; per sentence the W best of the W x V extensions survive.
Scores are log p(x | z) in nats under the model's own softmax, </s> included: banning a token removes it from
the search but does not renormalise the others, so a hypothesis' score is exactly its log-probability
(``-model.rec``). A hypothesis that has produced </s> stays in the beam with its score frozen and competes
with the open ones; at ``max_len`` every open hypothesis is closed with </s>. With ``length_penalty`` a > 0
the finished hypotheses are ranked by score / length**a (length counts </s>), as in GNMT without its +5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textvae.data.vocab import EOS
from textvae.decoding.common import banned_tokens, forced_at, last_forced, start, strip_eos
from textvae.errors import BadValue
from textvae.models.interface import Decoder
from textvae.models.vae import eval_mode


@dataclass
class Hypotheses:
    """Beam search output for B sentences: ``tokens[b]`` the n best token-id lists (without </s>), best first;
    ``scores`` (B, n) their log p(x | z) in nats per sentence (-inf where fewer than n exist); ``lengths``
    (B, n) tokens including </s>."""

    tokens: list[list[list[int]]]
    scores: torch.Tensor
    lengths: torch.Tensor

    @property
    def best(self) -> list[list[int]]:
        return [hyps[0] for hyps in self.tokens]


def _extensions(logp: torch.Tensor, scores: torch.Tensor, t: int, max_len: int, banned: list[int],
                forced: torch.Tensor | None, last: torch.Tensor | None, finished: torch.Tensor) -> torch.Tensor:
    """Scores of every one-token extension at step t, (B, W, V), computed in place in the step's
    log-probabilities ``logp`` (B, W, V) (large: every pass over it counts): hypothesis scores (B, W) plus
    log p(token); banned tokens -inf; only </s> at the last step; only the forced token where one is given
    (even a banned one); no </s> before a sentence's last forced position ``last`` (B,); finished hypotheses (B, W)
    extended by </s> at no cost, or dropped where a token is forced (a forced </s> at t: the sentence ends
    exactly there)."""
    neg = float("-inf")
    f = forced_at(forced, t)
    rows = None if f is None else (f >= 0).nonzero()[:, 0]
    width = logp.shape[1]
    drop = None
    if rows is not None and len(rows):
        tok = f[rows].view(-1, 1, 1).expand(-1, width, 1)
        forced_logp = logp[rows].gather(-1, tok)
        drop = torch.zeros_like(finished)
        drop[rows] = finished[rows]  # a sentence that has ended cannot take a forced word, nor end again here
    logp[..., banned] = neg
    if last is not None:
        logp[t < last, :, EOS] = neg
    if t == max_len - 1:
        eos = logp[..., EOS].clone()
        logp.fill_(neg)[..., EOS] = eos
    if drop is not None:
        logp[rows] = torch.full_like(logp[rows], neg).scatter_(-1, tok, forced_logp)
    done = torch.full_like(logp[0, 0], neg)
    done[EOS] = 0.0
    logp[finished] = done
    if drop is not None:
        logp[drop] = neg
    return logp.add_(scores.unsqueeze(-1))


def _settled(scores: torch.Tensor, finished: torch.Tensor, n_best: int) -> torch.Tensor:
    """(B,) sentences whose result can no longer change: every hypothesis has ended, or the ``n_best``-th best
    ended one scores above every open one. Without a length penalty an open hypothesis' score only falls (each
    token adds a log-probability <= 0), so none can overtake it: stopping there changes no output."""
    neg = torch.tensor(float("-inf"), device=scores.device)
    ended = torch.where(finished, scores, neg).topk(n_best, dim=1).values[:, -1]
    best_open = torch.where(finished, neg, scores).amax(1)
    return finished.all(1) | (ended > best_open)


def beam_search(decoder: Decoder, z: torch.Tensor | None, width: int = 15, max_len: int = 50, batch_size: int = 1,
                length_penalty: float = 0.0, ban_unk: bool = False, forced: torch.Tensor | None = None,
                n_best: int = 1) -> Hypotheses:
    """Beam search from codes z (B, Z) (``batch_size`` rows without z). ``forced`` (B, T) long: the token
    the hypothesis must emit at output position t (0-based; </s> allowed), -1 where free. Stops as soon as
    every hypothesis has ended; without a length penalty a sentence leaves the search as soon as its ``n_best``
    ended hypotheses beat every open one (the output is the same as searching to the end, sooner). Returns the
    ``n_best`` (<= width) hypotheses per sentence."""
    if not 1 <= n_best <= width:
        raise BadValue("n_best", f"must be in 1..width={width}, got {n_best}")
    banned = banned_tokens(ban_unk)
    with eval_mode(decoder):
        B = z.shape[0] if z is not None else batch_size
        zr = z.repeat_interleave(width, 0) if z is not None else None
        state, tok = start(decoder, zr, B * width)
        device = tok.device
        last = None
        if forced is not None:
            forced = forced.to(device)
            last = last_forced(forced)
        scores = torch.full((B, width), float("-inf"), device=device)
        scores[:, 0] = 0.0  # one live hypothesis per sentence to start with
        finished = torch.zeros(B, width, dtype=torch.bool, device=device)
        lengths = torch.zeros(B, width, dtype=torch.long, device=device)
        history = torch.zeros(B, width, 0, dtype=torch.long, device=device)
        offsets = (torch.arange(B, device=device) * width).unsqueeze(1)
        rows = torch.arange(B, device=device)  # the sentences still searched (original indices)
        out_scores, out_lengths = torch.empty_like(scores), torch.empty_like(lengths)
        out_history: list[torch.Tensor | None] = [None] * B
        for t in range(max_len):
            logits, state = decoder.step(tok, state, zr)
            logp = logits.float().log_softmax(-1).view(len(rows), width, -1)
            V = logp.shape[-1]
            ext = _extensions(logp, scores, t, max_len, banned, forced, last, finished)
            scores, idx = ext.view(len(rows), -1).topk(width, dim=-1)
            beam, tok2 = idx // V, idx % V
            history = torch.cat([history.gather(1, beam.unsqueeze(-1).expand(-1, -1, t)), tok2.unsqueeze(-1)], -1)
            was_done = finished.gather(1, beam)
            lengths = lengths.gather(1, beam) + (~was_done).long()
            finished = was_done | (tok2 == EOS) | torch.isinf(scores)  # -inf: no live hypothesis in this slot
            state = decoder.reorder_state(state, (beam + offsets).view(-1))
            tok = tok2.view(-1)
            done = _settled(scores, finished, n_best) if not length_penalty else finished.all(1)
            if bool(done.any()):
                for i, r in zip(done.nonzero()[:, 0].tolist(), rows[done].tolist(), strict=True):
                    out_history[r] = history[i]
                out_scores[rows[done]], out_lengths[rows[done]] = scores[done], lengths[done]
                keep = (~done).nonzero()[:, 0]
                if not len(keep):
                    break
                # drop the settled sentences from the search: the rest decode as before, on fewer rows
                flat = (keep.unsqueeze(1) * width + torch.arange(width, device=device)).view(-1)
                rows, scores, finished, lengths, history = (rows[keep], scores[keep], finished[keep], lengths[keep],
                                                            history[keep])
                state, tok = decoder.reorder_state(state, flat), tok[flat]
                zr = zr[flat] if zr is not None else None
                offsets = offsets[: len(keep)]
                if forced is not None:
                    forced, last = forced[keep], last[keep]
        else:  # max_len reached: every hypothesis has been closed with </s>
            for i, r in enumerate(rows.tolist()):
                out_history[r] = history[i]
            out_scores[rows], out_lengths[rows] = scores, lengths
        scores, lengths = out_scores, out_lengths
        n = max(h.shape[-1] for h in out_history)
        history = torch.stack([torch.nn.functional.pad(h, (0, n - h.shape[-1]), value=EOS) for h in out_history])
        key = scores / lengths.clamp(min=1).float() ** length_penalty if length_penalty else scores
        order = key.argsort(dim=-1, descending=True)[:, :n_best]
        scores, lengths = scores.gather(1, order), lengths.gather(1, order)
        best = history.gather(1, order.unsqueeze(-1).expand(-1, -1, history.shape[-1])).tolist()
        live = torch.isfinite(scores).tolist()
    tokens = [[h for h, ok in zip(strip_eos(rows), alive, strict=True) if ok] for rows, alive in zip(best, live,
                                                                                                      strict=True)]
    return Hypotheses(tokens, scores, lengths)
