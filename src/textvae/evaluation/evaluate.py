"""One pass over a split that produces the whole metric set of the evaluation protocol (docs/metrics.md)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from textvae import distributed as dist
from textvae import precision as _precision
from textvae.config import EvalConfig
from textvae.data.batching import bucket_order, iterate_batches
from textvae.data.corpus import Split
from textvae.evaluation.estimators import active_units, mutual_info, mutual_info_minibatch, nll_iw
from textvae.evaluation.ledger import Ledger, weights_digest
from textvae.models.vae import TextVAE, eval_mode
from textvae.progress import task

MU_RANGE, MU_BINS = 4.0, 40
BF16_BIAS_LIMIT = 0.05
"""eval.bf16 auto keeps bf16 only while it moves nll_iw by under this many nats per sentence (on the probe batch)."""
PROBE_SENTENCES, PROBE_SAMPLES = 32, 16
"""eval.bf16 auto's probe: this many sentences of the split's middle batch, this many samples each."""


def batch_generator(seed: int, batch: int, stream: int, device: str) -> torch.Generator:
    """The random stream ``stream`` of batch number ``batch`` of an evaluation seeded ``seed``."""
    state = np.random.SeedSequence([seed & 0xFFFFFFFF, batch, stream]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) & 0x7FFFFFFFFFFFFFFF)


def iw_token_budget(setting: int, device: str) -> int:
    """Target tokens per nll_iw forward pass: ``setting``, or for 0 (auto) 4,096 on a CPU, where blocks of logits
    that size ran 1.3-1.4x faster than 32,768 (trained PTB VAEs, batches of 128; ``docs/metrics.md``), and 32,768
    on a GPU, whose throughput grows with the block."""
    return setting or (4096 if torch.device(device).type == "cpu" else 32768)


def iw_precision(model: TextVAE, batch, k: int, budget: int, setting: bool | str, seed: int,
                 device: str) -> tuple[bool, dict]:
    """Whether nll_iw runs under bf16 autocast, and the record of why: ``setting`` True or False as it is; "auto"
    times nll_iw on ``batch`` (with min(K, PROBE_SAMPLES) samples) in fp32 and bf16, drawing the same samples both
    ways, and chooses bf16 only when it takes under precision.MARGIN of fp32's time and its estimate differs from
    fp32's by under BF16_BIAS_LIMIT nats per sentence on average. Record: {setting, bf16, and for auto fp32_s,
    bf16_s (seconds of one pass) and bias (mean bf16 - fp32 nats per sentence), or fp32_s and bf16_error where
    bf16 does not run on this machine}. True on such a machine is a TextVAEError."""
    if setting is False:
        return False, {"setting": False, "bf16": False}
    kind, probe_k = torch.device(device).type, min(k, PROBE_SAMPLES)
    posterior, out = model.posterior(batch), {}  # in fp32, as the evaluation computes it

    def one_pass(bf16: bool) -> None:
        gen = batch_generator(seed, 0, 2, device)  # the same samples both ways
        with torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
            out[bf16] = nll_iw(model, batch, probe_k, budget, gen, posterior).double()

    if setting is True:
        _precision.check_bf16_runs(one_pass, device, "eval.bf16")
        return True, {"setting": True, "bf16": True}
    t = _precision.time_passes(one_pass, device, rounds=2)
    if "bf16_error" in t:
        return False, {"setting": "auto", "bf16": False, "fp32_s": t["fp32"], "bf16_error": t["bf16_error"]}
    bias = float((out[True] - out[False]).mean())
    use = t["bf16"] < _precision.MARGIN * t["fp32"] and abs(bias) < BF16_BIAS_LIMIT
    return use, {"setting": "auto", "bf16": use, "fp32_s": t["fp32"], "bf16_s": t["bf16"], "bias": bias}


ESTIMATE_SENTENCES = 8
"""On a CPU, estimate_seconds times nll_iw on this many sentences of the split's middle batch (a CPU is busy with
a few; an accelerator is timed on the whole batch, whose throughput grows with it)."""


@torch.no_grad()
def estimate_seconds(model: TextVAE, split: Split, cfg: EvalConfig, batch_size: int = 128, device: str = "cpu",
                     iw_samples: int | None = None) -> float:
    """About how many seconds :func:`evaluate` of ``split`` will take, told before it starts: nll_iw with K
    samples (the evaluation's cost) timed on the split's middle batch (on a CPU its first
    :data:`ESTIMATE_SENTENCES` sentences; elsewhere the whole batch, after one untimed warm-up pass) with the
    one-sample figures before it, as :func:`evaluate` does each batch, and scaled by the split's tokens (bf16 only
    where ``cfg.bf16`` is True; auto's choice comes later). Draws from its own random stream. It leaves out the
    per-batch bookkeeping (the resume ledger's writes) and the mutual information: nothing on a CPU, where the
    model's passes take the time (the Yelp test split, K = 10: 1:20 announced, 74 s taken), but about 8 s of the
    same split on an H200, where the passes take milliseconds (K = 500: 0:16 announced, 24 s taken)."""
    k = cfg.iw_samples if iw_samples is None else iw_samples
    if not len(split):
        return 0.0
    kind = torch.device(device).type
    batches = bucket_order(split.lengths(), batch_size, shuffle=False)
    middle = batches[len(batches) // 2]
    _, probe = next(iterate_batches(split.ids, [middle[:ESTIMATE_SENTENCES] if kind == "cpu" else middle]))
    probe = probe.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)

    def one_pass() -> None:  # what evaluate does with a batch: the one-sample figures, then nll_iw
        if model.has_latent:
            mu, logvar = model.posterior(probe)
            model.rec(probe, model.latent.sample(mu, logvar, generator=gen)).sum().item()
            mu.cpu()
        else:
            model.rec(probe, None).sum().item()
        if model.is_stochastic and k > 0:
            nll_iw(model, probe, k, iw_token_budget(cfg.iw_tokens, device), gen, (mu, logvar)).sum().item()

    with eval_mode(model), torch.autocast(kind, dtype=torch.bfloat16, enabled=cfg.bf16 is True):
        if kind != "cpu":
            one_pass()  # kernels chosen, memory allocated: not part of the evaluation's pace
        tic = time.perf_counter()
        one_pass()
        elapsed = time.perf_counter() - tic
    return elapsed * split.n_tokens / max(1, probe.n_tokens)


def perplexity(nats: float, tokens: int) -> float:
    """exp(nats / tokens); inf where that overflows a float (a model far from trained)."""
    x = nats / tokens
    return math.exp(x) if x < 709 else math.inf


BPC_OF = ("rec", "kl", "neg_elbo", "nll_iw", "nll")
"""Figures in nats per sentence that a character-level run also reports in bits per character (``<name>_bpc``)."""


def bits_per_char(nats_per_sentence: float, sentences: int, tokens: int) -> float:
    """Nats per sentence -> bits per character: nats x sentences / tokens / ln 2, where ``tokens`` counts every
    predicted character, each sentence's </s> included (as perplexities count it)."""
    return nats_per_sentence * sentences / tokens / math.log(2)


def mu_histogram(mu: torch.Tensor) -> dict:
    """The distribution of posterior means (mu-Forcing Fig. 2): counts of all N x Z entries of mu in MU_BINS
    equal bins over [-MU_RANGE, MU_RANGE] (values outside go to the end bins)."""
    counts = torch.histc(mu.float().clamp(-MU_RANGE, MU_RANGE), bins=MU_BINS, min=-MU_RANGE, max=MU_RANGE)
    return {"lo": -MU_RANGE, "hi": MU_RANGE, "counts": [int(c) for c in counts.tolist()]}


def evaluate(model: TextVAE, split: Split, cfg: EvalConfig, batch_size: int = 128, device: str = "cpu",
             iw_samples: int | None = None, show_progress: bool | None = None, bpc: bool = False,
             ledger: str | Path | None = None) -> dict:
    """Metrics of ``model`` on ``split``; every figure in nats per sentence unless named ppl_* or *_bpc (``bpc``:
    a character-level model also gets rec_bpc, kl_bpc, neg_elbo_bpc, nll_iw_bpc or nll_bpc, bits per character).

    VAE: rec (one z ~ q(z|x) per sentence), kl (analytic), neg_elbo = rec + kl, nll_iw (K samples),
    ppl_elbo = exp(sum neg_elbo / tokens), ppl_iw = exp(sum nll_iw / tokens), mi (variant named in
    mi_variant), au. RNNLM: nll and ppl, exact. Autoencoder: rec and au. Tokens count </s>, not <s>.
    ``iw_samples`` = 0 skips nll_iw (validation during training). Runs under ``eval_mode``. ``ledger``: a file
    that keeps the finished batches, so that an evaluation cut short and run again resumes where it stopped, with
    the same figures (:mod:`textvae.evaluation.ledger`; under torchrun each rank keeps its own, ``.rankN``)."""
    with eval_mode(model):
        out = _evaluate(model, split, cfg, batch_size, device, iw_samples, show_progress, ledger)
    if bpc:
        out.update({f"{k}_bpc": bits_per_char(out[k], out["sentences"], out["tokens"]) for k in BPC_OF if k in out})
    return out


@dataclass
class EvalPlan:
    """What an evaluation will do: the split's batches (sentence indices, short to long), this rank's share of
    them (``mine``: batch numbers) and its target tokens, K and the nll_iw token budget, the resume ledger (its
    finished batches are not run again) and the precision of nll_iw (``precision``: the record of the choice,
    None where no nll_iw runs; ``bf16``: the choice)."""

    batches: list
    mine: list[int]
    my_tokens: int
    k: int
    budget: int
    ledger: Ledger
    precision: dict | None = None
    bf16: bool = False
    start: float = field(default_factory=time.perf_counter)


def plan(model: TextVAE, split: Split, cfg: EvalConfig, batch_size: int, device: str, iw_samples: int | None,
         ledger_path: str | Path | None = None) -> EvalPlan:
    """The batches, this rank's share (every world-th batch from its rank), the ledger (``.rankN`` under DDP:
    each rank keeps its own) and the precision of nll_iw: the choice of the evaluation this one resumes, else
    probed on the split's middle batch by every rank, rank 0's choice holding."""
    k = cfg.iw_samples if iw_samples is None else iw_samples
    n, tokens, lengths = len(split), split.n_tokens, split.lengths()
    budget = iw_token_budget(cfg.iw_tokens, device)
    batches = bucket_order(lengths, batch_size, shuffle=False)
    mine = list(range(dist.ctx.rank, len(batches), dist.ctx.world))
    my_tokens = tokens if not dist.ctx.distributed else sum(int(lengths[i]) + 1 for b in mine for i in batches[b])
    if ledger_path is not None and dist.ctx.distributed:
        ledger_path = Path(f"{ledger_path}.rank{dist.ctx.rank}")
    ledger = Ledger(ledger_path, {} if ledger_path is None else {
        "split": split.name, "sentences": n, "tokens": tokens, "iw_samples": k, "iw_tokens": budget,
        "seed": cfg.seed, "bf16": cfg.bf16, "batch_size": batch_size, "rank": dist.ctx.rank, "world": dist.ctx.world,
        "weights": weights_digest(model)})
    out = EvalPlan(batches, mine, my_tokens, k, budget, ledger)
    if model.is_stochastic and k > 0 and batches:
        out.precision = dist.broadcast(ledger.extra.get("precision"))  # the choice of the run this one resumes
        if out.precision is None:
            _, probe = next(iterate_batches(split.ids, [batches[len(batches) // 2][:PROBE_SENTENCES]]))
            use, out.precision = iw_precision(model, probe.to(device), k, budget, cfg.bf16, cfg.seed, device)
            out.precision["bf16"] = dist.broadcast(use)
            ledger.decide(precision=out.precision)
        out.bf16 = out.precision["bf16"]
    return out


def measure_batch(model: TextVAE, batch, number: int, p: EvalPlan, seed: int, device: str) -> dict:
    """Sums over batch number ``number``'s sentences (nats): rec (one z ~ q(z|x) each), kl and nll_iw (0.0 where
    the model has none), and its posterior means and log-variances (CPU; None where the model has none). Each
    batch draws from its own streams (rec's apart from nll_iw's, neither depending on K): the figures do not
    depend on how batches are shared among ranks, nor on a resume."""
    gen, gen_iw = batch_generator(seed, number, 0, device), batch_generator(seed, number, 1, device)
    entry = {"rec": 0.0, "kl": 0.0, "nll_iw": 0.0, "mu": None, "logvar": None}
    if not model.has_latent:
        entry["rec"] = float(model.rec(batch, None).sum())
        return entry
    mu, logvar = model.posterior(batch)
    z = model.latent.sample(mu, logvar, generator=gen)
    entry.update(rec=float(model.rec(batch, z).sum()), mu=mu.cpu())
    if model.is_stochastic:
        entry.update(logvar=logvar.cpu(), kl=float(model.latent.kl(mu, logvar).sum()))
        if p.k > 0:
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=p.bf16):
                entry["nll_iw"] = float(nll_iw(model, batch, p.k, p.budget, gen_iw, (mu, logvar)).sum())
    return entry


def measure(model: TextVAE, split: Split, p: EvalPlan, seed: int, device: str, show_progress: bool | None) -> None:
    """Run this rank's batches that the ledger has not finished, each recorded in it as it ends; progress in
    target tokens (batches run from short to long sentences)."""
    lengths = split.lengths()
    todo = [b for b in p.mine if b not in p.ledger.done]
    label = f"evaluate {split.name}" + (f" (nll_iw, K={p.k})" if p.k and model.is_stochastic else "")
    with task(label, p.my_tokens, "tokens", show=show_progress is not False and dist.ctx.main) as progress:
        progress.skip(sum(int(lengths[i]) + 1 for b in p.mine if b in p.ledger.done for i in p.batches[b]))
        for b, (_, batch) in zip(todo, iterate_batches(split.ids, [p.batches[b] for b in todo]), strict=True):
            p.ledger.record(b, measure_batch(model, batch.to(device), b, p, seed, device))
            progress.advance(batch.n_tokens)


def reduce(model: TextVAE, split: Split, p: EvalPlan, cfg: EvalConfig, batch_size: int, device: str) -> dict:
    """The split's figures from the ledger's batches, summed in batch order (resumed or not: the same sums);
    under DDP summed over ranks and the codes gathered in batch order, so every rank has the whole split's."""
    sums, mus, logvars = {"rec": 0.0, "kl": 0.0, "nll_iw": 0.0}, [], []
    for b in p.mine:
        e = p.ledger.done[b]
        for key in sums:
            sums[key] += e[key]
        if e["mu"] is not None:
            mus.append(e["mu"])
        if e["logvar"] is not None:
            logvars.append(e["logvar"])
    if dist.ctx.distributed:
        total = dist.all_sum(torch.tensor(list(sums.values()), dtype=torch.float64, device=dist.comm_device(device)))
        sums = dict(zip(sums, total.tolist(), strict=True))
        if model.has_latent:
            mine_codes = list(zip(p.mine, mus, logvars if model.is_stochastic else [None] * len(mus), strict=True))
            parts = sorted((c for rank_codes in dist.gather(mine_codes) for c in rank_codes), key=lambda c: c[0])
            mus = [m for _, m, _ in parts]
            logvars = [lv for _, _, lv in parts if lv is not None]
    n, tokens = len(split), split.n_tokens
    out: dict = {"split": split.name, "sentences": n, "tokens": tokens}
    if not model.has_latent:
        out.update(nll=sums["rec"] / n, ppl=perplexity(sums["rec"], tokens))
    elif not model.is_stochastic:
        out.update(rec=sums["rec"] / n, ppl_rec=perplexity(sums["rec"], tokens))
    else:
        neg_elbo = sums["rec"] + sums["kl"]
        out.update(rec=sums["rec"] / n, kl=sums["kl"] / n, neg_elbo=neg_elbo / n,
                   ppl_elbo=perplexity(neg_elbo, tokens))
        if p.k > 0:
            out.update(nll_iw=sums["nll_iw"] / n, ppl_iw=perplexity(sums["nll_iw"], tokens), iw_samples=p.k,
                       iw_precision=p.precision)
        mu, logvar = torch.cat(mus), torch.cat(logvars)
        mi_gen = torch.Generator().manual_seed(cfg.seed)  # mu, logvar are on the CPU now
        if cfg.mi == "dataset":
            out["mi"] = mutual_info(mu, logvar, mi_gen)
        else:
            out["mi"] = mutual_info_minibatch(mu, logvar, batch_size, mi_gen)
        out["mi_variant"] = cfg.mi
    if model.has_latent:
        all_mu = torch.cat(mus)
        out["au"] = active_units(all_mu, cfg.au_threshold)[0]
        out["mu_hist"] = mu_histogram(all_mu)
    return out


def _evaluate(model: TextVAE, split: Split, cfg: EvalConfig, batch_size: int, device: str, iw_samples: int | None,
              show_progress: bool | None, ledger_path: str | Path | None = None) -> dict:
    p = plan(model, split, cfg, batch_size, device, iw_samples, ledger_path)
    measure(model, split, p, cfg.seed, device, show_progress)
    out = reduce(model, split, p, cfg, batch_size, device)
    out["seconds"] = time.perf_counter() - p.start
    p.ledger.close()
    return out
