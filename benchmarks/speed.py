"""Speed benchmark of the PTB VAE recipe (recipes/bowman2016/ptb_vae.yaml), all figures from one run.

Measures, side by side on one machine:

1. Training throughput in target tokens/s (x_1..x_n plus </s>; <s> not counted), fp32 and bf16 autocast
   (fp32 alone where bf16 does not run).
   Each step is the trainer's loop body (``train_step``): ``Batch.to`` -> ``Objective`` under
   ``torch.autocast(..., dtype=torch.bfloat16, enabled=bf16)`` -> ``zero_grad`` -> ``backward`` ->
   ``clip_gradients`` (when the recipe clips) -> the recipe's optimiser step (Adam or SGD), on length-bucketed
   batches from
   ``bucket_order(train lengths, recipe batch_size, shuffle=True, seed, epoch 0)``. The fp32 and bf16 models
   start from the same weights, see the same batches and alternate step by step, so a change in background
   load hits both alike. ``--warmup`` steps are run first and excluded; then ``--passes`` passes over the
   next ``--steps`` batches are timed (with ``torch.cuda.synchronize`` before and after each step on GPU).
   The headline throughput is the fastest pass, as the matmul peak (3.) is the fastest of its repetitions:
   on a shared machine both are then the least disturbed; the mean over all passes is reported too.
2. FLOPs per training token, counted analytically from the dimensions of the built model. With
   LSTM(in=I, hidden=H) costing 4 H (I + H) multiply-accumulates (MACs) a step (four gates; biases and the
   element-wise gate arithmetic are not counted):

       per target token    enc = 4 He (Ee + He)          encoder LSTM
                           dec = 4 Hd (Ed + Hd)          decoder LSTM (Ed includes z when z_concat)
                           out = Hd V                    output layer (logits at real tokens only)
       per sentence        lat = He 2Z                   q(z|x) projection to (mu, logvar)
                           ini = Z 2Hd                   z -> initial decoder (h, c)

       forward FLOPs = 2 MACs,  training FLOPs = 3 x forward (backward = 2 x forward)
       model FLOPs / token  F = 6 (enc + dec + out + (lat + ini) / T)      T = mean target tokens per sentence
       executed FLOPs of a batch (B sentences, N target tokens, padded length L):
                             6 (out' N + (enc + dec) B L + (lat + ini) B)      out' = Hd' V

   Both LSTMs run over the padded (B, L) batch, and the output layer's input is zero-padded from Hd to
   Hd' (a multiple of 32, see ``LSTMDecoder``), so the executed count includes padding; the model count F
   does not. Embedding look-ups, softmax/cross-entropy, the KL, clipping and Adam are not counted.
   The count is cross-checked with ``torch.utils.flop_counter.FlopCounterMode`` on one fp32 training step,
   once with the usual kernels and once with oneDNN (CPU) / cuDNN (GPU) switched off so that nn.LSTM
   decomposes into counted matmuls: FlopCounterMode has no formula for the fused RNN kernels
   (``aten.mkldnn_rnn_layer`` on CPU, ``aten._cudnn_rnn`` on GPU) and counts them as zero.
3. The matmul peak of the machine in the same process, thread count and device: the fastest of all timed
   ``torch.matmul`` of two N x N matrices (2 N^3 FLOPs), fp32 and bf16, ``--matmul-reps`` of them before the
   first timed training pass and again after each pass, so that the peak is taken under the same conditions
   as the training it is compared with (a single round on a shared machine can land in a slow spell).
   Utilisation = achieved training FLOP/s (tokens/s x F) / measured peak of the same dtype (and the same with
   executed FLOPs).
4. nll_iw throughput: ``textvae.evaluation.estimators.nll_iw`` with K = 500 (the recipe's eval.iw_samples) in
   fp32, as ``evaluate`` runs it, on ``--iw-sentences`` test sentences: the batch of
   ``bucket_order(test lengths, iw_sentences, shuffle=False)`` whose mean length is closest to the split's.
   The model is the fp32 model after the timed steps; the cost does not depend on the weights.
5. Padding: the share of padded target positions (and of executed FLOPs spent on padding) over one epoch of
   bucketed batches vs. random batches of the same size.

Writes ``speed.json`` and ``speed.md`` in ``--out-dir`` (atomically).

    python benchmarks/speed.py [--steps 40] [--threads N] [--device auto] [--iw-sentences 64] [--note TEXT]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from machine import machine_info
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from textvae.atomic import write_text_atomic
from textvae.config import Recipe, load_recipe
from textvae.data.batching import bucket_order, iterate_batches
from textvae.evaluation.estimators import nll_iw
from textvae.evaluation.evaluate import iw_token_budget
from textvae.models import vae as vae_module
from textvae.models.build import build_model
from textvae.models.vae import TextVAE
from textvae.models.vocab_linear import VocabLinear
from textvae.objectives.objective import Objective
from textvae.pipeline import load_splits, resolve_device
from textvae.precision import bf16_lstm_failure
from textvae.training.step import build_optimizer, train_step

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RECIPE = ROOT / "recipes" / "bowman2016" / "ptb_vae.yaml"


# -- machine ----------------------------------------------------------------------------------------------
def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


# -- analytic FLOPs ---------------------------------------------------------------------------------------
def lstm_macs(lstm: nn.LSTM) -> int:
    """MACs of one time step of ``lstm``: 4 H (I + H) per layer and direction (no proj_size)."""
    dirs = 2 if lstm.bidirectional else 1
    total = 0
    for layer in range(lstm.num_layers):
        inp = lstm.input_size if layer == 0 else lstm.hidden_size * dirs
        total += dirs * 4 * lstm.hidden_size * (inp + lstm.hidden_size)
    return total


def model_macs(model: TextVAE) -> dict:
    """Forward MACs of each part: per target token (enc, dec, out) and per sentence (lat, ini)."""
    d = model.decoder
    m = {
        "enc_per_token": lstm_macs(model.encoder.lstm) if model.encoder is not None else 0,
        "dec_per_position": lstm_macs(d.lstm),
        "out_per_token": d.hidden_dim * d.out.out_features,
        # input zero-padded to a multiple of 32, rows to a multiple of 64 (VocabLinear)
        "out_executed_per_token": d.out.in_features * (d.out.out_features + getattr(d.out, "pad_rows", 0)),
        "lat_per_sentence": model.latent.proj.in_features * model.latent.proj.out_features if model.latent else 0,
        "ini_per_sentence": d.init.in_features * d.init.out_features if d.init is not None else 0,
    }
    return m


def dims(model: TextVAE) -> dict:
    d = model.decoder
    out = {"vocab": d.out.out_features, "dec_input": d.lstm.input_size, "dec_hidden": d.lstm.hidden_size,
           "z": model.z_dim, "out_input_aligned": d.out.in_features, "vocab_pad_rows": getattr(d.out, "pad_rows", 0),
           "params": model.n_params}
    if model.encoder is not None:
        out.update(enc_input=model.encoder.lstm.input_size, enc_hidden=model.encoder.lstm.hidden_size)
    return out


def flops_per_token(m: dict, mean_len: float) -> dict:
    """Model (useful) FLOPs per target token: forward = 2 MACs, training = 3 x forward."""
    per_sent = (m["lat_per_sentence"] + m["ini_per_sentence"]) / mean_len
    parts = {"encoder_lstm": m["enc_per_token"], "decoder_lstm": m["dec_per_position"],
             "output_layer": m["out_per_token"], "latent_and_init (per sentence / T)": per_sent}
    fwd = 2 * sum(parts.values())
    return {"forward": fwd, "training": 3 * fwd,
            "training_by_part": {k: 6 * v for k, v in parts.items()}, "mean_target_tokens_per_sentence": mean_len}


def executed_training_flops(m: dict, n_sent: int, n_tok: int, padded_len: int) -> float:
    """Training FLOPs actually run for one batch (both LSTMs over padding and the output layer's zero-padded
    input columns included)."""
    macs = (m["out_executed_per_token"] * n_tok + (m["enc_per_token"] + m["dec_per_position"]) * n_sent * padded_len
            + (m["lat_per_sentence"] + m["ini_per_sentence"]) * n_sent)
    return 6.0 * macs


# -- padding ----------------------------------------------------------------------------------------------
def padding_stats(lengths: list[int], batches: list[list[int]], m: dict) -> dict:
    """``lengths`` = target tokens per sentence (n + 1). Share of padded (B, L) target positions, and share of
    executed training FLOPs spent on them (the LSTMs run over padding, the output layer does not)."""
    positions = real = 0
    pad_flops = total_flops = 0.0
    for idx in batches:
        lens = [lengths[i] for i in idx]
        n_tok, padded = sum(lens), len(lens) * max(lens)
        positions += padded
        real += n_tok
        total_flops += executed_training_flops(m, len(lens), n_tok, max(lens))
        pad_flops += 6.0 * (m["enc_per_token"] + m["dec_per_position"]) * (padded - n_tok)
    return {"batches": len(batches), "positions": positions, "target_tokens": real,
            "pad_fraction": (positions - real) / positions, "pad_flops_fraction": pad_flops / total_flops}


def random_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


# -- training ---------------------------------------------------------------------------------------------
class TrainLoop:
    """The trainer's per-step work for one model (fp32 or bf16 autocast)."""

    def __init__(self, recipe: Recipe, model: TextVAE, device: str, bf16: bool):
        t = recipe.train
        self.recipe, self.model, self.device, self.clip = recipe, model.to(device), device, t.clip_grad
        self.optimizer = build_optimizer(t, model.parameters())
        self.objective = Objective.from_config(recipe.objective, model)
        self.autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16)
        self.step = 0
        self.acc: dict = {}
        model.train()

    def run(self, batch) -> int:
        """One optimiser step; returns the batch's target tokens."""
        batch = batch.to(self.device)
        logs = train_step(self.model, self.objective, self.optimizer, batch, self.step, self.clip, self.autocast)
        self.step += 1
        for k, v in logs.items():
            self.acc[k] = self.acc.get(k, 0.0) + v
        return batch.n_tokens


def train_speed(recipe: Recipe, vocab_size: int, ids: list[list[int]], batches: list[list[int]], device: str,
                warmup: int, steps: int, passes: int, m: dict, log, between_passes,
                bf16: bool = True) -> tuple[dict, TextVAE]:
    """``warmup`` untimed steps, then ``passes`` timed passes over the next ``steps`` batches (the same batches
    each pass; the cost of a step does not depend on the weights). Throughput is reported for the fastest
    pass, as the matmul peak is the fastest of its repetitions, and over all passes."""
    seed = recipe.train.seed
    torch.manual_seed(seed)
    base = build_model(recipe.model, vocab_size)
    unaligned = copy.deepcopy(base)  # the output layer without the zero padding of its input (191, not 192)
    d = unaligned.decoder
    d.out = VocabLinear(d.hidden_dim, d.out.out_features)
    with torch.no_grad():
        d.out.weight.copy_(base.decoder.out.weight[:, : d.hidden_dim])
        d.out.bias.copy_(base.decoder.out.bias)
    loops = {"fp32": TrainLoop(recipe, copy.deepcopy(base), device, bf16=False),
             **({"bf16": TrainLoop(recipe, copy.deepcopy(base), device, bf16=True)} if bf16 else {}),
             "fp32_unaligned": TrainLoop(recipe, unaligned, device, bf16=False),
             "fp32_vocab_unpadded": TrainLoop(recipe, vocab_unpadded(base), device, bf16=False)}
    timed = batches[warmup : warmup + steps]
    schedule = [(None, idx) for idx in batches[:warmup]] + [(p, idx) for p in range(passes) for idx in timed]
    times: dict[str, list[list[float]]] = {k: [[] for _ in range(passes)] for k in loops}
    for i, (pass_, idx) in enumerate(schedule):
        if pass_ is not None and (i - warmup) % steps == 0:  # a pass starts
            between_passes()
        _, batch = next(iterate_batches(ids, [idx]))
        for name, loop in loops.items():
            sync(device)
            tic = time.perf_counter()
            loop.run(batch)
            sync(device)
            if pass_ is not None:
                times[name][pass_].append(time.perf_counter() - tic)
        if (i + 1) % 20 == 0 or i + 1 == len(schedule):
            log(f"  train step {i + 1}/{len(schedule)}" + ("" if pass_ is not None else " (warm-up)"))
    between_passes()
    step_tokens = _step_tokens(ids, batches, warmup, steps)
    tokens, sentences = sum(step_tokens), sum(len(idx) for idx in timed)
    lens = [[len(ids[j]) + 1 for j in idx] for idx in timed]
    positions = sum(len(x) * max(x) for x in lens)
    executed = sum(executed_training_flops(m, len(x), sum(x), max(x)) for x in lens)
    out = {}
    for name, loop in loops.items():
        pass_secs = [sum(t) for t in times[name]]
        best = min(range(passes), key=lambda p: pass_secs[p])
        secs, every = pass_secs[best], [t for ts in times[name] for t in ts]
        step_tps = sorted(n / s for ts in times[name] for n, s in zip(step_tokens, ts, strict=True))
        out[name] = {
            "seconds": secs, "tokens_per_s": tokens / secs, "sentences_per_s": sentences / secs,
            "steps_per_s": steps / secs, "pass_seconds": pass_secs,
            "tokens_per_s_all_passes": passes * tokens / sum(pass_secs),
            "step_seconds_median": statistics.median(every),
            "step_seconds_min": min(every), "step_seconds_max": max(every),
            "step_tokens_per_s_median": statistics.median(step_tps),
            "executed_flops_per_s": executed / secs,
            "loss_mean": float(loop.acc["loss"]) / len(schedule),
        }
    out["timed"] = {"steps": steps, "warmup_steps": warmup, "passes": passes, "tokens": tokens,
                    "sentences": sentences, "padded_positions": positions, "pad_fraction": 1 - tokens / positions,
                    "executed_training_flops": executed}
    if bf16:
        out["bf16_speedup"] = out["bf16"]["tokens_per_s"] / out["fp32"]["tokens_per_s"]
    out["aligned_output_speedup"] = out["fp32"]["tokens_per_s"] / out["fp32_unaligned"]["tokens_per_s"]
    out["vocab_padding_speedup"] = out["fp32"]["tokens_per_s"] / out["fp32_vocab_unpadded"]["tokens_per_s"]
    for name in loops:
        if not math.isfinite(out[name]["loss_mean"]):
            raise RuntimeError(f"{name} training loss is not finite")
    return out, loops["fp32"].model


OLD_SCORE_ROWS = 1024
"""Tokens per scoring block before blocks were sized by bytes (``SCORE_BYTES``): the "before" nll_iw timing."""


def vocab_unpadded(model: TextVAE) -> TextVAE:
    """A copy of ``model`` whose output layers run their product on the vocabulary's own row count."""
    out = copy.deepcopy(model)
    for module in out.modules():
        if isinstance(module, VocabLinear):
            module.align = 1
    return out


def _step_tokens(ids, batches, warmup, steps) -> list[int]:
    return [sum(len(ids[j]) + 1 for j in idx) for idx in batches[warmup : warmup + steps]]


# -- FlopCounterMode cross-check --------------------------------------------------------------------------
class OpLog(TorchDispatchMode):
    """Records the aten ops that run (to name the ones FlopCounterMode has no formula for)."""

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def count_step(recipe: Recipe, model: TextVAE, batch, device: str, fused: bool) -> dict:
    loop = TrainLoop(recipe, copy.deepcopy(model), device, bf16=False)
    backend = torch.backends.cudnn if device.startswith("cuda") else torch.backends.mkldnn
    counter = FlopCounterMode(display=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with backend.flags(enabled=fused), counter, OpLog() as oplog:
            loop.run(batch)
    registry = {str(k) for k in counter.flop_registry}
    rnn_ops = sorted(op for op in oplog.ops if ("rnn" in op or "lstm" in op) and op not in registry)
    return {"total": counter.get_total_flops(),
            "by_op": {str(k): v for k, v in counter.get_flop_counts().get("Global", {}).items()},
            "uncounted_rnn_ops": rnn_ops}


# -- where the time goes ---------------------------------------------------------------------------------
PROFILE_GROUPS = (  # (label, op-name substrings), first match wins; self time of each op
    ("matmuls (output layer, posterior and initial-state projections)", ("aten::mm", "aten::addmm", "aten::bmm")),
    ("LSTM kernels (oneDNN / cuDNN)", ("rnn", "lstm")),
    ("log-softmax and cross-entropy", ("softmax", "nll_loss")),
    ("optimiser step (Adam; SGD's in-place adds)", ("adam", "sgd", "aten::add_", "_foreach_add")),
    ("gradient norm and clipping", ("norm", "aten::mul_")),
    ("filling and copying tensors", ("fill_", "copy_", "zero_")),
    ("embedding backward", ("embedding", "index_put")),
)


def time_breakdown(loop: TrainLoop, ids, batches: list[list[int]], device: str) -> dict:
    """Share of the profiled self time per group of ops, over fp32 training steps on ``batches``."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=acts) as prof:
        for _, batch in iterate_batches(ids, batches):
            loop.run(batch)
        sync(device)
    attr = "self_device_time_total" if device.startswith("cuda") else "self_cpu_time_total"
    totals: dict[str, float] = {label: 0.0 for label, _ in PROFILE_GROUPS}
    totals["other"] = 0.0
    for ev in prof.key_averages():
        name = ev.key.lower()
        label = next((lb for lb, keys in PROFILE_GROUPS if any(k.lower() in name for k in keys)), "other")
        totals[label] += getattr(ev, attr, 0.0) or 0.0
    whole = sum(totals.values()) or 1.0
    return {"steps": len(batches), "share": {k: v / whole for k, v in totals.items()}}


def flop_counter_check(recipe: Recipe, model: TextVAE, batch, device: str, m: dict) -> dict:
    analytic = executed_training_flops(m, batch.size, batch.n_tokens, batch.tgt.shape[1])
    out: dict = {"batch": {"sentences": batch.size, "target_tokens": batch.n_tokens, "padded_len": batch.tgt.shape[1]},
                 "analytic_executed_training_flops": analytic}
    kernel = "cudnn" if device.startswith("cuda") else "onednn"
    for key, fused in ((f"{kernel}_rnn_kernels", True), (f"{kernel}_disabled_lstm_decomposed", False)):
        try:
            res = count_step(recipe, model, batch, device, fused)
            res["ratio_to_analytic"] = res["total"] / analytic
        except Exception as exc:  # a failing counter is a result to report, not a crash
            res = {"error": f"{type(exc).__name__}: {exc}"}
        out[key] = res
    per_sent = m["lat_per_sentence"] + m["ini_per_sentence"]
    linear_only = 6.0 * (m["out_executed_per_token"] * batch.n_tokens + per_sent * batch.size)
    out["analytic_linear_layers_only"] = linear_only
    native = out[f"{kernel}_rnn_kernels"]
    if native.get("uncounted_rnn_ops"):
        out["note"] = (f"FlopCounterMode does not count nn.LSTM when it runs in the fused kernel(s) "
                       f"{', '.join(native['uncounted_rnn_ops'])} (no flop formula for them); with the usual "
                       f"kernels it counted {native['total'] / linear_only:.3f} x the analytic FLOPs of the Linear "
                       f"layers alone. With {kernel} disabled nn.LSTM decomposes into counted mm/addmm; the small "
                       "rest below the analytic count is the gradient through the encoder's all-zero initial "
                       "state, which autograd does not compute.")
    return out


# -- matmul peak ------------------------------------------------------------------------------------------
def matmul_times(n: int, reps: int, dtype: torch.dtype, device: str) -> list[float]:
    """Seconds of ``reps`` timed N x N matmuls (after one warm-up)."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, generator=g, device=device).to(dtype)
    b = torch.randn(n, n, generator=g, device=device).to(dtype)
    torch.matmul(a, b)  # warm-up
    times = []
    for _ in range(reps):
        sync(device)
        tic = time.perf_counter()
        torch.matmul(a, b)
        sync(device)
        times.append(time.perf_counter() - tic)
    return times


def matmul_peak(n: int, rounds: list[list[float]]) -> dict:
    """Peak GFLOP/s from rounds of ``matmul_times``: the fastest matmul of all rounds, and the median."""
    times = [t for r in rounds for t in r]
    flops = 2.0 * n**3
    return {"n": n, "reps": len(times), "rounds": len(rounds), "gflops_best": flops / min(times) / 1e9,
            "gflops_median": flops / statistics.median(times) / 1e9,
            "gflops_best_by_round": [flops / min(r) / 1e9 for r in rounds]}


# -- nll_iw -----------------------------------------------------------------------------------------------
def iw_speed(model: TextVAE, test_ids: list[list[int]], n_sent: int, k: int, device: str, seed: int,
             token_budget: int, bf16: bool = True) -> dict:
    lengths = [len(s) for s in test_ids]
    mean_len = sum(lengths) / len(lengths) + 1
    batches = bucket_order(lengths, n_sent, shuffle=False)
    full = [b for b in batches if len(b) == n_sent] or batches
    pick = min(full, key=lambda b: abs(sum(lengths[i] + 1 for i in b) / len(b) - mean_len))
    _, batch = next(iterate_batches(test_ids, [pick]))
    batch = batch.to(device)
    model.eval()
    unpadded = vocab_unpadded(model)
    kind = torch.device(device).type
    secs, nll = {}, {}
    score_bytes = vae_module.SCORE_BYTES
    old_bytes = OLD_SCORE_ROWS * 4 * model.decoder.vocab_size  # scoring blocks of 1,024 tokens, as before
    # name: (model, bf16 autocast, bytes of logits per scoring block)
    modes = {False: (model, False, score_bytes), "unpadded": (unpadded, False, score_bytes),
             "before": (unpadded, False, old_bytes), **({True: (model, True, score_bytes)} if bf16 else {})}
    with torch.no_grad():
        warm_k = max(1, min(k, token_budget // max(1, batch.n_tokens)))
        try:
            for m, half, nbytes in modes.values():  # warm-up: one chunk each
                vae_module.SCORE_BYTES = nbytes
                with torch.autocast(kind, dtype=torch.bfloat16, enabled=half):
                    nll_iw(m, batch, warm_k, token_budget, torch.Generator(device=device).manual_seed(seed))
            for name, (m, half, nbytes) in modes.items():  # the same samples each way: a difference is the mode's
                vae_module.SCORE_BYTES = nbytes
                gen = torch.Generator(device=device).manual_seed(seed)
                sync(device)
                tic = time.perf_counter()
                with torch.autocast(kind, dtype=torch.bfloat16, enabled=half):
                    nll[name] = nll_iw(m, batch, k, token_budget, gen).double()
                sync(device)
                secs[name] = time.perf_counter() - tic
        finally:
            vae_module.SCORE_BYTES = score_bytes
    n_tok = batch.n_tokens
    test_tokens = sum(lengths) + len(lengths)
    out = {"k": k, "token_budget": token_budget, "sentences": batch.size, "target_tokens": n_tok,
           "padded_len": batch.tgt.shape[1], "mean_target_tokens": n_tok / batch.size,
           "split_mean_target_tokens": mean_len, "seconds": secs[False], "sentences_per_s": batch.size / secs[False],
           "target_tokens_per_s": n_tok / secs[False], "decoded_tokens_per_s": k * n_tok / secs[False],
           "mean_nll_iw_nats": float(nll[False].mean()), "test_split_sentences": len(test_ids),
           "est_test_split_seconds": test_tokens / (n_tok / secs[False]),
           "vocab_unpadded": {"seconds": secs["unpadded"], "sentences_per_s": batch.size / secs["unpadded"],
                              "vocab_padding_speedup": secs["unpadded"] / secs[False],
                              "max_abs_diff_nats": float((nll["unpadded"] - nll[False]).abs().max())},
           "before": {"score_rows": OLD_SCORE_ROWS, "vocab_padded": False, "seconds": secs["before"],
                      "sentences_per_s": batch.size / secs["before"], "speedup": secs["before"] / secs[False],
                      "max_abs_diff_nats": float((nll["before"] - nll[False]).abs().max())},
           "score_rows": vae_module.score_rows(model.decoder.vocab_size)}
    if bf16:
        out["bf16"] = {"seconds": secs[True], "sentences_per_s": batch.size / secs[True],
                       "speedup": secs[False] / secs[True], "mean_nll_iw_nats": float(nll[True].mean()),
                       "bias_nats": float((nll[True] - nll[False]).mean()),
                       "max_abs_diff_nats": float((nll[True] - nll[False]).abs().max())}
    return out


# -- report -----------------------------------------------------------------------------------------------
def fmt(x: float, digits: int = 3) -> str:
    if abs(x) >= 1e9:
        return f"{x / 1e9:.2f} G"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f} M"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def markdown(res: dict) -> str:
    mach, tr, fl, pk, ut, iw, pad = (res[k] for k in ("machine", "training", "flops", "matmul_peak",
                                                      "utilisation", "nll_iw", "padding"))
    fc = fl["flop_counter"]
    cpu = mach["cpu"] or mach["processor"]
    dev = mach.get("gpu", cpu) if mach["device"].startswith("cuda") else cpu
    lines = [
        f"# Speed: PTB VAE ({res['recipe']})",
        "",
        f"- Date (UTC): {mach['date']}",
        f"- Machine: {dev}; {mach['cpu_count']} CPUs; {mach['uname']['system']} {mach['uname']['release']} "
        f"{mach['uname']['machine']}; load average at start {mach.get('loadavg_at_start', 'n/a')}",
        f"- CPU SIMD flags: {', '.join(mach.get('cpu_flags_simd', [])) or 'n/a'}",
        f"- torch {mach['torch']}, device `{mach['device']}`, {mach['num_threads']} threads",
        f"- Regenerate: `{res['command']}`",
    ]
    if res.get("note"):
        lines.append(f"- Note: {res['note']}. Absolute figures are depressed and noisy; fp32 and bf16 steps "
                     "alternate so that their ratio is fair.")
    t = tr["timed"]
    names = [n for n in ("fp32", "bf16") if n in tr]

    def row(label: str, cell) -> str:
        return f"| {label} | " + " | ".join(cell(n) for n in names) + " |"

    lines += [
        "",
        f"## Training ({t['passes']} x {t['steps']} timed steps after {t['warmup_steps']} warm-up, batch size "
        f"{res['settings']['batch_size']}, {t['tokens']} target tokens)",
        "",
        "| | " + " | ".join({"fp32": "fp32", "bf16": "bf16 autocast"}[n] for n in names) + " |",
        "|---|" + "---:|" * len(names),
        row(f"target tokens/s (fastest of {t['passes']} passes)", lambda n: f"{tr[n]['tokens_per_s']:,.0f}"),
        row("target tokens/s (all passes)", lambda n: f"{tr[n]['tokens_per_s_all_passes']:,.0f}"),
        row("sentences/s", lambda n: f"{tr[n]['sentences_per_s']:,.1f}"),
        row("step time median (min-max), ms", lambda n: f"{1e3 * tr[n]['step_seconds_median']:.0f} "
            f"({1e3 * tr[n]['step_seconds_min']:.0f}-{1e3 * tr[n]['step_seconds_max']:.0f})"),
        row("achieved model GFLOP/s", lambda n: f"{ut[n]['achieved_gflops']:.2f}"),
        row(f"matmul peak GFLOP/s ({pk['fp32']['n']}x{pk['fp32']['n']}, fastest of {pk['fp32']['reps']}: "
            f"{pk['fp32']['reps'] // pk['fp32']['rounds']} before the first pass and after each)",
            lambda n: f"{pk[n]['gflops_best']:.1f}"),
        row("utilisation (model FLOPs / peak)", lambda n: f"{100 * ut[n]['model']:.1f} %"),
        row("utilisation (executed FLOPs incl. padding / peak)", lambda n: f"{100 * ut[n]['executed']:.1f} %"),
        "",
        (f"bf16 / fp32 training speed: {tr['bf16_speedup']:.2f}x. " if "bf16_speedup" in tr else
         f"bf16 autocast does not run on this machine ({res.get('bf16_error')}): fp32 only. ")
        + "Output layer input zero-padded from "
        f"{res['model']['dec_hidden']} to {res['model']['out_input_aligned']} (``LSTMDecoder``) vs not, fp32, "
        f"measured side by side in the same passes: {tr['aligned_output_speedup']:.2f}x "
        f"({tr['fp32_unaligned']['tokens_per_s']:,.0f} target tokens/s unpadded"
        + ("; no padding at this size, so the two are the same model and the ratio shows the run's noise"
           if res["model"]["dec_hidden"] == res["model"]["out_input_aligned"] else "")
        + "). Output layer's product on "
        f"{res['model']['vocab'] + res['model'].get('vocab_pad_rows', 0):,} rows, its vocabulary padded to a multiple "
        f"of 64 (``VocabLinear``), vs on {res['model']['vocab']:,}, fp32, in the same passes: "
        f"{tr['vocab_padding_speedup']:.2f}x ({tr['fp32_vocab_unpadded']['tokens_per_s']:,.0f} target tokens/s "
        "unpadded). Padding in the timed batches: "
        f"{100 * t['pad_fraction']:.1f} % of target positions.",
        "",
        f"Target (issue 19): training at 75 % or more of the fp32 matmul peak measured in the same run: "
        f"{'met' if ut['fp32']['model'] >= 0.75 else 'not met'} ({100 * ut['fp32']['model']:.1f} %).",
        "",
        f"### Where an fp32 training step spends its time (torch.profiler, self time, "
        f"{res['time_breakdown_fp32']['steps']} steps)",
        "",
        "| ops | share |",
        "|---|---:|",
        *[f"| {k} | {100 * v:.1f} % |" for k, v in res["time_breakdown_fp32"]["share"].items()],
        "",
        "Only the matmuls and the LSTM kernels do counted FLOPs; everything else is time the utilisation "
        "figure pays for without FLOPs to show. The log-softmax over 10k words is bound by its exponentials; "
        "the optimiser step, the dense embedding gradients and the copies are bound by memory bandwidth.",
        "",
        "## FLOPs per training token (analytic, from the model's dimensions)",
        "",
        "forward = 2 x MACs, training = 3 x forward; biases, element-wise ops, softmax, Adam not counted.",
        "",
        "| part | training FLOPs / token |",
        "|---|---:|",
    ]
    for k, v in fl["analytic"]["training_by_part"].items():
        lines.append(f"| {k} | {fmt(v)} |")
    a = fl["analytic"]
    lines += [
        f"| **total** (forward {fmt(a['forward'])}) | **{fmt(a['training'])}** |",
        "",
        f"Model: {res['model']}; T = {a['mean_target_tokens_per_sentence']:.2f} target tokens per training "
        "sentence.",
        "",
        "FlopCounterMode on one fp32 training step "
        f"({fl['flop_counter']['batch']['sentences']} sentences, {fl['flop_counter']['batch']['target_tokens']} "
        f"tokens, padded length {fl['flop_counter']['batch']['padded_len']}):",
        "",
        "| count | training FLOPs | / analytic |",
        "|---|---:|---:|",
        f"| analytic (executed, incl. LSTM padding) | {fmt(fl['flop_counter']['analytic_executed_training_flops'])}"
        " | 1 |",
        f"| analytic, Linear layers only (no LSTM) | {fmt(fc['analytic_linear_layers_only'])} | "
        f"{fc['analytic_linear_layers_only'] / fc['analytic_executed_training_flops']:.3f} |",
    ]
    for key, val in fl["flop_counter"].items():
        if isinstance(val, dict) and ("total" in val or "error" in val):
            if "error" in val:
                lines.append(f"| FlopCounterMode, {key} | error: {val['error']} | |")
            else:
                lines.append(f"| FlopCounterMode, {key} | {fmt(val['total'])} | {val['ratio_to_analytic']:.3f} |")
    if "note" in fl["flop_counter"]:
        lines += ["", fl["flop_counter"]["note"]]
    lines += [
        "",
        f"## nll_iw (K = {iw['k']}, fp32, test split subset)",
        "",
        "| subset | sentences/s | target tokens/s | decoded tokens/s (x K) | est. whole test split |",
        "|---|---:|---:|---:|---:|",
        f"| {iw['sentences']} sentences, {iw['target_tokens']} tokens (mean {iw['mean_target_tokens']:.1f}; split "
        f"mean {iw['split_mean_target_tokens']:.1f}) | {iw['sentences_per_s']:.2f} | {iw['target_tokens_per_s']:.1f}"
        f" | {iw['decoded_tokens_per_s']:,.0f} | {iw['est_test_split_seconds'] / 60:.1f} min "
        f"({iw['test_split_sentences']} sentences) |",
        "",
        f"{iw['token_budget']:,} target tokens per forward pass (``eval.iw_tokens`` auto). Useful forward FLOPs "
        f"per token-sample (decoder LSTM, output layer, initial state): {fmt(iw['forward_flops_per_token_sample'])}"
        f"; utilisation {100 * iw['utilisation']:.1f} % of the fp32 matmul peak (target, issue 19: 75 %: "
        f"{'met' if iw['utilisation'] >= 0.75 else 'not met'}). Without the vocabulary padding of the output "
        f"layer's product (``VocabLinear``), the same samples: {iw['vocab_unpadded']['sentences_per_s']:.2f} "
        f"sentences/s; the padding is {iw['vocab_unpadded']['vocab_padding_speedup']:.2f}x faster and changes the "
        f"estimate by at most {iw['vocab_unpadded']['max_abs_diff_nats']:.1e} nats per sentence. "
        f"As before ``VocabLinear`` and ``SCORE_BYTES`` (no padding, the softmax in blocks of "
        f"{iw['before']['score_rows']:,} tokens instead of {iw['score_rows']:,}): "
        f"{iw['before']['sentences_per_s']:.2f} sentences/s; now {iw['before']['speedup']:.2f}x that, the same "
        f"samples, the estimate moved by at most {iw['before']['max_abs_diff_nats']:.1e} nats.",
        "",
        (f"Under bf16 autocast, the same samples: {iw['bf16']['sentences_per_s']:.2f} sentences/s "
         f"({iw['bf16']['speedup']:.2f}x fp32); estimate bf16 - fp32: {iw['bf16']['bias_nats']:+.4f} nats per "
         f"sentence on average, at most {iw['bf16']['max_abs_diff_nats']:.4f} on one sentence (limit of "
         "``eval.bf16: auto``: 0.05)." if "bf16" in iw else "bf16 autocast does not run on this machine: no bf16 "
         "figures (``eval.bf16: auto`` chooses fp32 here and says why)."),
        "",
        f"## Padding (one epoch of the training split, batch size {res['settings']['batch_size']})",
        "",
        "| batching | padded positions | executed training FLOPs on padding |",
        "|---|---:|---:|",
        f"| length-bucketed (bucket_order) | {100 * pad['bucketed']['pad_fraction']:.2f} % | "
        f"{100 * pad['bucketed']['pad_flops_fraction']:.2f} % |",
        f"| random | {100 * pad['random']['pad_fraction']:.2f} % | {100 * pad['random']['pad_flops_fraction']:.2f} % |",
        "",
        "The LSTMs run over padding (the encoder gathers its state at each sentence's last real position); "
        "logits are taken at real tokens only.",
        "",
        *([f"Beam search (width {res['beam_settle_speedup'].get('beam', 15)}): letting settled sentences leave "
           f"the beam is {res['beam_settle_speedup']['speedup']:.2f}x as fast as searching to the end, same "
           f"outputs: {res['beam_settle_speedup']['same_output']} (``decoding.json``).", ""]
          if res.get("beam_settle_speedup") else []),
        f"Total benchmark time: {res['elapsed_s']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=40, help="timed training steps per precision (default 40)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps (default 5)")
    p.add_argument("--passes", type=int, default=3, help="timed passes over the --steps batches (default 3)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch default)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--iw-sentences", type=int, default=64, help="test sentences for nll_iw (default 64)")
    p.add_argument("--iw-samples", type=int, default=0, help="K for nll_iw (default: the recipe's, 500)")
    p.add_argument("--matmul-size", type=int, default=2048, help="N of the N x N matmul peak (default 2048)")
    p.add_argument("--matmul-reps", type=int, default=5, help="timed matmul repetitions (default 5)")
    p.add_argument("--recipe", default=str(DEFAULT_RECIPE), help="recipe YAML (default: the PTB VAE)")
    p.add_argument("--note", default="", help="free text recorded with the results (e.g. shared machine)")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks"), help="folder for speed.json and speed.md")
    args = p.parse_args(argv)
    if min(args.steps, args.passes, args.iw_sentences, args.matmul_reps) < 1 or args.warmup < 0:
        p.error("--steps, --passes, --iw-sentences, --matmul-reps must be >= 1 and --warmup >= 0")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    recipe = load_recipe(args.recipe)
    machine = machine_info(device)
    log(f"{machine['cpu']} | torch {machine['torch']} | {device} | {machine['num_threads']} threads")
    vocab, splits = load_splits(recipe.data, splits=("train", "test"), log=log)
    train, test = splits["train"], splits["test"]
    bs = recipe.data.batch_size
    torch.manual_seed(recipe.train.seed)
    probe = build_model(recipe.model, len(vocab))
    m = model_macs(probe)
    train_lens = [len(s) + 1 for s in train.ids]
    analytic = flops_per_token(m, sum(train_lens) / len(train_lens))
    log(f"model {dims(probe)}; {analytic['training'] / 1e6:.2f} MFLOP per training token")

    bucketed = bucket_order([len(s) for s in train.ids], bs, shuffle=True, seed=recipe.train.seed, epoch=0)
    padding = {"bucketed": padding_stats(train_lens, bucketed, m),
               "random": padding_stats(train_lens, random_batches(len(train), bs, recipe.train.seed), m)}

    if args.warmup + args.steps > len(bucketed):
        raise SystemExit(f"--warmup + --steps exceeds the {len(bucketed)} batches of an epoch")
    no_bf16 = bf16_lstm_failure(device)  # e.g. oneDNN on a CPU without AVX-512: no bf16 LSTM
    names = ("fp32",) if no_bf16 else ("fp32", "bf16")
    if no_bf16:
        log(f"bf16 autocast does not run here ({no_bf16}): fp32 only")
    log(f"training: {args.warmup} warm-up + {args.passes} x {args.steps} timed steps, {' and '.join(names)}"
        + (" alternating" if len(names) > 1 else ""))
    rounds: dict[str, list[list[float]]] = {name: [] for name in names}

    def measure_peak() -> None:  # before the first pass and after each: the same conditions as the training
        for name in names:
            rounds[name].append(matmul_times(args.matmul_size, args.matmul_reps, DTYPES[name], device))
        log(f"  matmul peak {args.matmul_size}x{args.matmul_size}: " + ", ".join(
            f"{name} {2 * args.matmul_size**3 / min(rounds[name][-1]) / 1e9:.1f}" for name in names) + " GFLOP/s")

    training, model = train_speed(recipe, len(vocab), train.ids, bucketed, device, args.warmup, args.steps,
                                  args.passes, m, log, measure_peak, bf16=not no_bf16)
    log("  " + ", ".join(f"{name} {training[name]['tokens_per_s']:.0f} tok/s" for name in names))

    log("FlopCounterMode on one training step")
    timed = bucketed[args.warmup : args.warmup + args.steps]
    typical = sorted(timed, key=lambda b: max(train_lens[i] for i in b))[len(timed) // 2]  # median length
    _, check_batch = next(iterate_batches(train.ids, [typical]))
    counter = flop_counter_check(recipe, model, check_batch.to(device), device, m)
    log("profiling fp32 training steps")
    breakdown = time_breakdown(TrainLoop(recipe, copy.deepcopy(model), device, bf16=False), train.ids, timed,
                               device)

    peak = {name: matmul_peak(args.matmul_size, rounds[name]) for name in rounds}
    log("  " + ", ".join(f"{name} {peak[name]['gflops_best']:.1f}" for name in names) + " GFLOP/s")
    util = {}
    for name in names:
        achieved = training[name]["tokens_per_s"] * analytic["training"]
        util[name] = {"achieved_gflops": achieved / 1e9,
                      "executed_gflops": training[name]["executed_flops_per_s"] / 1e9,
                      "model": achieved / (peak[name]["gflops_best"] * 1e9),
                      "executed": training[name]["executed_flops_per_s"] / (peak[name]["gflops_best"] * 1e9)}

    k = args.iw_samples or recipe.eval.iw_samples
    log(f"nll_iw K={k} on {args.iw_sentences} test sentences")
    iw = iw_speed(model, test.ids, args.iw_sentences, k, device, recipe.eval.seed,
                  iw_token_budget(recipe.eval.iw_tokens, device), bf16=not no_bf16)
    log(f"  {iw['sentences_per_s']:.2f} sentences/s")

    # nll_iw's useful FLOPs: per sentence-sample, the decoder and output layer over the target tokens and the
    # initial-state projection (the encoder runs once per sentence, not per sample: not counted)
    iw_fwd = 2 * (m["dec_per_position"] + m["out_per_token"] + m["ini_per_sentence"] / iw["mean_target_tokens"])
    iw["forward_flops_per_token_sample"] = iw_fwd
    iw["utilisation"] = iw["decoded_tokens_per_s"] * iw_fwd / (peak["fp32"]["gflops_best"] * 1e9)
    if "bf16" in iw:
        iw["bf16"]["utilisation"] = iw["utilisation"] * iw["bf16"]["speedup"] * (peak["fp32"]["gflops_best"]
                                                                                    / peak["bf16"]["gflops_best"])
        log(f"  bf16 {iw['bf16']['sentences_per_s']:.2f} sentences/s, bias {iw['bf16']['bias_nats']:+.4f} nats")
    log(f"  fp32 utilisation {100 * iw['utilisation']:.1f} %")
    decoding = ROOT / "benchmarks" / "decoding.json"
    dec = json.loads(decoding.read_text()) if decoding.is_file() else {}
    settle = dec.get("beam_settle") and {**dec["beam_settle"], "beam": dec["width"], "date": dec["machine"]["date"]}

    result = {
        "machine": machine,
        "train_utilisation": util["fp32"]["model"],
        "iw_utilisation": iw["utilisation"],
        "beam_settle_speedup": settle and {**settle, "source": "benchmarks/decoding.json"},
        "note": args.note,
        "bf16_error": no_bf16,
        "command": shlex.join(["python", "benchmarks/speed.py", *(sys.argv[1:] if argv is None else argv)]),
        "recipe": os.path.relpath(args.recipe, ROOT),
        "settings": {"steps": args.steps, "warmup": args.warmup, "passes": args.passes, "batch_size": bs,
                     "threads": torch.get_num_threads(),
                     "device": device, "iw_sentences": args.iw_sentences, "iw_samples": k,
                     "matmul_size": args.matmul_size, "matmul_reps": args.matmul_reps},
        "model": dims(probe),
        "training": training,
        "flops": {"macs": m, "analytic": analytic, "flop_counter": counter},
        "matmul_peak": peak,
        "utilisation": util,
        "time_breakdown_fp32": breakdown,
        "nll_iw": iw,
        "padding": padding,
    }
    result["elapsed_s"] = time.perf_counter() - start
    out = Path(args.out_dir)
    write_text_atomic(out / "speed.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out / "speed.md", markdown(result))
    log(f"wrote {out / 'speed.json'} and {out / 'speed.md'}")
    return result


if __name__ == "__main__":
    main()
