"""Semeniuta et al. 2017 (the hybrid convolutional VAE) at this machine's scale, and mu-Forcing's Table 2:

1. historyless decoding (Fig. 3): the inputless LSTM VAE against the feed-forward deconvolutional VAE, KL weight 0,
   on PTB character samples of 10, 20, 30 and 50 positions (characters and </s>): bits per character by step;
2. KL against sample length (Fig. 4): the hybrid (alpha 0.2) against the LSTM VAE with input dropout 0.2 and 0.5;
3. alpha with and without KL annealing (Fig. 5), ByteNet depth with and without the auxiliary term (Fig. 6);
4. tweets (Tables 1-2): the LSTM VAE at input dropout 0.2, 0.5, 0.8 and the hybrid at alpha 0.2, greedy samples;
5. mu-Forcing Table 2 at character level on Yelp: Hybrid, Hybrid + Aux, Hybrid + mu-Forcing;
6. speed: training tokens/s of the hybrid and the LSTM VAE (comparable parameters), fp32 and bf16, side by side;
   the hybrid's FLOPs per token and its share of the matmul peak measured in the same run.

    python benchmarks/hybrid.py --runs runs/bench/hybrid [--parallel 1] [--only fig3 ...]

Every run is the library's ``textvae train`` on a bundled recipe (recipes/semeniuta2017, recipes/liu2019) with the
reduced sizes of ``SCALE``; runs resume where they stopped. Writes benchmarks/hybrid.md, hybrid.json, hybrid.png.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from claims import Claims, cell, recheck, say  # noqa: E402
from machine import machine_info  # noqa: E402
from runner import ROOT, cli, train_or_resume  # noqa: E402

from textvae.atomic import write_atomic, write_json_atomic, write_text_atomic  # noqa: E402
from textvae.plots import read_log  # noqa: E402

R = "recipes/semeniuta2017/"
STEPS, BATCH, EPOCH = 600, 32, 4800
"""Every PTB run: 600 steps of 32 samples, an epoch of 4,800 fresh samples (so 4 validations on 4,000 fixed
validation samples; the test figures on 4,000 test samples)."""
SMALL = {  # reduced sizes, chosen so that the hybrid and the LSTM VAE have about the same number of parameters
    "conv": ["model.encoder.channels=[64,128]", "model.encoder.embed_dim=32", "model.latent_dim=32"],
    "deconv": ["model.decoder.channels=[128,64,100]"],
    "top": ["model.decoder.embed_dim=32", "model.decoder.hidden_dim=128"],
    "lstm": ["model.encoder.embed_dim=32", "model.encoder.hidden_dim=192", "model.decoder.embed_dim=32",
             "model.decoder.hidden_dim=192", "model.latent_dim=32"],
}
COMMON = [f"train.max_steps={STEPS}", "train.epochs=100", f"data.batch_size={BATCH}",
          f"data.samples_per_epoch={EPOCH}", "train.threads=1", "train.log_every=25", "train.checkpoint_every=100",
          "train.early_stop=0", "data.eval_batch_size=256", "data.eval_samples=4000"]
KLA = ["objective.kl_weight.delay=100", "objective.kl_weight.steps=300"]
"""Annealing scaled with the run: the authors start after 1,000 (10,000) steps and rise over 7,000."""


def length_overrides(n: int, multiple: int) -> list[str]:
    """Samples of ``n`` positions on a model whose length is ``n`` rounded up to its stride."""
    m = -(-n // multiple) * multiple
    return [f"data.sample_length={n}", f"model.encoder.length={m}", f"model.decoder.length={m}"]


def experiments() -> dict[str, dict]:
    """Run name -> {recipe, overrides, group}."""
    out: dict[str, dict] = {}
    hyb, lstm = SMALL["conv"] + SMALL["deconv"] + SMALL["top"], SMALL["lstm"]
    for n in (10, 20, 30, 50):
        out[f"fig3_deconv_{n}"] = {"recipe": R + "ptb_char_historyless_deconv.yaml", "group": "fig3",
                                   "overrides": SMALL["conv"] + SMALL["deconv"] + length_overrides(n, 4)}
        out[f"fig3_lstm_{n}"] = {"recipe": R + "ptb_char_historyless_lstm.yaml", "group": "fig3",
                                 "overrides": lstm + [f"data.sample_length={n}"]}
    for n in (16, 32, 64):
        out[f"fig4_hybrid_{n}"] = {"recipe": R + "ptb_char_hybrid.yaml", "group": "fig4",
                                   "overrides": hyb + KLA + length_overrides(n, 4)}
        for p in ("0.2", "0.5"):
            out[f"fig4_lstm_p{p}_{n}"] = {"recipe": R + "ptb_char_lstm_vae.yaml", "group": "fig4",
                                          "overrides": lstm + KLA + [f"data.sample_length={n}",
                                                                     f"objective.word_dropout.keep={1 - float(p):.1f}"]}
    for alpha in (0.0, 0.2, 1.0):
        for kla in (True, False):
            sched = KLA if kla else ["objective.kl_weight.schedule=constant"]
            out[f"fig5_alpha{alpha}_{'kla' if kla else 'nokla'}"] = {
                "recipe": R + "ptb_char_hybrid.yaml", "group": "fig5",
                "overrides": hyb + sched + [f"objective.aux.weight={alpha}"]}
    for layers in (1, 3, 5):
        for alpha in (0.0, 0.2):
            out[f"fig6_layers{layers}_alpha{alpha}"] = {
                "recipe": R + "ptb_char_bytenet.yaml", "group": "fig6",
                "overrides": SMALL["conv"] + SMALL["deconv"] + KLA + [
                    "model.decoder.embed_dim=32", "model.decoder.hidden_dim=128", f"model.decoder.layers={layers}",
                    f"objective.aux.weight={alpha}"]}
    tweet = [f"train.max_steps={STEPS}", "train.epochs=100", "train.threads=1", "train.log_every=25",
             "train.checkpoint_every=100", "train.early_stop=0", "data.eval_batch_size=256", *KLA]
    for p in ("2", "5", "8"):
        out[f"tweets_lstm_p0{p}"] = {"recipe": R + f"tweets_lstm_vae_p0{p}.yaml", "group": "tweets",
                                     "overrides": tweet + [x.replace("192", "256") for x in lstm]}
    out["tweets_hybrid"] = {"recipe": R + "tweets_hybrid.yaml", "group": "tweets", "overrides": tweet + [
        "model.encoder.channels=[32,64,128,128,128]", "model.encoder.embed_dim=32", "model.latent_dim=32",
        "model.decoder.channels=[128,128,128,128,64,100]", "model.decoder.embed_dim=32",
        "model.decoder.hidden_dim=256"]}
    yelp = [f"train.max_steps={STEPS}", "train.epochs=100", "train.threads=1", "train.log_every=25",
            "train.checkpoint_every=100", "train.early_stop=0", "data.eval_batch_size=256",
            "objective.kl_weight.steps=300", "model.encoder.channels=[64,128,128]", "model.encoder.embed_dim=32",
            "model.decoder.channels=[128,128,64,100]", "model.decoder.embed_dim=32", "model.decoder.hidden_dim=192",
            "data.batch_size=32"]
    for row in ("hybrid", "hybrid_aux", "hybrid_mu_forcing"):
        out[f"liu_{row}"] = {"recipe": f"recipes/liu2019/yelp_char_{row}.yaml", "group": "liu", "overrides": yelp}
    for spec in out.values():
        if spec["group"].startswith("fig"):
            spec["overrides"] = COMMON + spec["overrides"]
    return out


def train(name: str, spec: dict, runs: Path) -> None:
    train_or_resume(runs / name, spec["recipe"], spec["overrides"], ["--iw-samples", "0"])


def bpc(nats_per_sentence: float, sentences: float, tokens: float) -> float:
    return nats_per_sentence * sentences / tokens / math.log(2)


def figures(run: Path) -> dict:
    """A run's test figures (bits per character and nats per sentence) and its curves: training bpc of each log
    window (every window holds log_every full batches) and validation bpc."""
    report = json.loads((run / "report.json").read_text())
    config = (run / "config.yaml").read_text()
    batch = int(next(line.split(":")[1] for line in config.splitlines() if line.strip().startswith("batch_size")))
    train_log, valid_log = read_log(run / "metrics.jsonl")
    prev = 0
    curve = []
    for r in train_log:
        sentences = (r["step"] - prev) * batch
        prev = r["step"]
        curve.append({"step": r["step"], "rec_bpc": bpc(r["rec"], sentences, r["tokens"]),
                      "kl_bpc": bpc(r.get("kl", 0.0), sentences, r["tokens"])})
    return {"test": {k: report.get(k) for k in ("rec", "kl", "neg_elbo", "rec_bpc", "kl_bpc", "neg_elbo_bpc",
                                                  "mi", "au", "params", "steps", "tokens_per_s", "sentences")},
            "train_curve": curve,
            "valid_curve": [{"step": r["step"], **{k: r[k] for k in ("rec_bpc", "kl_bpc", "neg_elbo_bpc")}}
                            for r in valid_log]}


def extras(name: str, run: Path) -> dict:
    """Greedy prior samples (tweets) or BLEU and Self-BLEU of prior samples (mu-Forcing's Table 2)."""
    if name.startswith("tweets"):
        return {"samples": json.loads(cli("sample", str(run), "--n", "5", "--json"))["sentences"]}
    if name.startswith("liu"):
        gen = run / "generate_eval.json"
        if not gen.is_file():
            cli("generate-eval", str(run), "--n", "1000", "--refs", "1000", "--max-len", "127", "--json")
        g = json.loads(gen.read_text())
        return {k: g[k] for k in ("bleu4", "self_bleu4", "distinct1", "distinct2", "mean_length")}
    return {}


# -- speed -----------------------------------------------------------------------------------------------------
def speed(rounds: int = 3, steps: int = 8) -> dict:
    """Training steps of the PTB hybrid recipe (64 positions, alpha 0.2, an LSTM top of 500) and the LSTM VAE
    recipe (encoder and decoder LSTMs of 500), alternated in rounds, fp32 and bf16 autocast; FLOPs of one hybrid
    step by torch's FlopCounterMode; the matmul peak measured between rounds."""
    import torch
    from speed import matmul_peak, matmul_times
    from torch.utils.flop_counter import FlopCounterMode

    from textvae.config import load_recipe
    from textvae.data.batching import make_batch
    from textvae.models.build import build_model
    from textvae.objectives import Objective
    from textvae.training.step import build_optimizer, train_step

    torch.set_num_threads(1)
    hybrid = load_recipe(ROOT / R / "ptb_char_hybrid.yaml")
    lstm = load_recipe(ROOT / R / "ptb_char_lstm_vae.yaml")  # both recipes as shipped: 500-unit LSTMs
    vocab, batch_size, length = 50, 64, 63
    g = torch.Generator().manual_seed(0)
    seqs = torch.randint(4, vocab, (batch_size, length), generator=g).tolist()
    batch = make_batch(seqs, list(range(batch_size)))
    tokens = batch.n_tokens
    setups = {}
    for name, recipe in (("hybrid", hybrid), ("lstm_vae", lstm)):
        torch.manual_seed(0)
        model = build_model(recipe.model, vocab)
        obj = Objective.from_config(recipe.objective, model)
        opt = build_optimizer(recipe.train, [*model.parameters(), *obj.parameters()])
        setups[name] = (recipe, model, obj, opt)
    bf16_ok = True
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.ones(2, 2) @ torch.ones(2, 2)
    except RuntimeError:
        bf16_ok = False
    times: dict[str, list[float]] = {}
    peaks, peaks_bf16 = [], []
    for _ in range(rounds):
        for name, (recipe, model, obj, opt) in setups.items():
            for dtype in ("fp32", "bf16") if bf16_ok else ("fp32",):
                auto = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16")
                model.train()
                train_step(model, obj, opt, batch, 10_000, recipe.train.clip_grad, auto)  # warm-up
                tic = time.perf_counter()
                for _ in range(steps):
                    train_step(model, obj, opt, batch, 10_000, recipe.train.clip_grad, auto)
                times.setdefault(f"{name}_{dtype}", []).append((time.perf_counter() - tic) / steps)
        peaks.append(matmul_times(1024, 5, torch.float32, "cpu"))
        if bf16_ok:
            peaks_bf16.append(matmul_times(1024, 5, torch.bfloat16, "cpu"))
    recipe, model, obj, opt = setups["hybrid"]
    with FlopCounterMode(display=False) as counter:
        loss, _ = obj(model, batch, 10_000)
        loss.backward()
    opt.zero_grad()
    flops = counter.get_total_flops()
    peak = matmul_peak(1024, peaks)
    out = {"batch": batch_size, "sample_length": length + 1, "tokens_per_step": tokens, "rounds": rounds,
           "steps_per_round": steps, "threads": 1, "bf16_autocast": bf16_ok,
           "params": {n: sum(p.numel() for p in s[1].parameters()) for n, s in setups.items()},
           "tokens_per_s": {k: tokens / statistics.median(v) for k, v in times.items()},
           "hybrid_train_flops_per_token": flops / tokens, "matmul_peak_fp32": peak}
    tps = out["tokens_per_s"]
    out["hybrid_over_lstm_fp32"] = tps["hybrid_fp32"] / tps["lstm_vae_fp32"]
    out["hybrid_utilisation_fp32"] = flops / tokens * tps["hybrid_fp32"] / (peak["gflops_best"] * 1e9)
    if bf16_ok:
        out["matmul_peak_bf16"] = matmul_peak(1024, peaks_bf16)
        out["hybrid_over_lstm_bf16"] = tps["hybrid_bf16"] / tps["lstm_vae_bf16"]
        out["bf16_over_fp32"] = {n: tps[f"{n}_bf16"] / tps[f"{n}_fp32"] for n in setups}
        out["hybrid_utilisation_bf16"] = flops / tokens * tps["hybrid_bf16"] / (
            out["matmul_peak_bf16"]["gflops_best"] * 1e9)
    return out


# -- the paper's claims ----------------------------------------------------------------------------------------
def final_rec(r: dict) -> float:
    return r["valid_curve"][-1]["rec_bpc"]


def checks(res: dict) -> list[dict]:
    """The paper's claims at this scale, each judged by ``claims.Claims`` (never against a collapsed model)."""
    f = res["runs"]
    out = Claims()
    claim = out.add

    def test(name: str) -> dict:
        return f[name]["test"]

    if all(f"fig3_{m}_{n}" in f for m in ("deconv", "lstm") for n in (10, 50)):
        d = {n: final_rec(f[f"fig3_deconv_{n}"]) for n in (10, 20, 30, 50) if f"fig3_deconv_{n}" in f}
        lm = {n: final_rec(f[f"fig3_lstm_{n}"]) for n in (10, 20, 30, 50) if f"fig3_lstm_{n}" in f}
        long = [n for n in (30, 50) if n in d and n in lm]
        short = [n for n in (10, 20) if n in d and n in lm]
        # the paper's shape needs an LSTM that fits short samples; one that fails there is under-trained
        untrained = [n for n in short if lm[n] > d[n] + 0.5]
        why = (f"the inputless LSTM does not fit even {', '.join(map(str, untrained))}-character samples "
               f"({', '.join(f'{lm[n]:.2f}' for n in untrained)} bpc against the deconvolutional "
               f"{', '.join(f'{d[n]:.2f}' for n in untrained)}): under-trained, not the paper's shape"
               if untrained else "")
        claim("Fig. 3: from 30 characters on, the historyless feed-forward (deconvolutional) decoder fits the "
              "samples better than the inputless LSTM (lower validation bits per character)",
              all(d[n] < lm[n] for n in long), {"deconv_bpc": d, "lstm_bpc": lm}, unmeasurable=why)
        claim("Fig. 3: the inputless LSTM fails as samples grow (its bpc at 30 and 50 characters above its bpc at 10)",
              all(lm[n] > lm[10] for n in long), {"lstm_bpc": lm}, unmeasurable=why)
        first = f["fig3_deconv_50"]["valid_curve"][0]
        claim("Fig. 3: the feed-forward model converges almost at once: at 50 characters its first validation "
              f"(step {first['step']}) is already below the LSTM's last", first["rec_bpc"] < lm[50],
              {"deconv_first": first["rec_bpc"], "lstm_last": lm[50]}, unmeasurable=why)
    lens = [n for n in (16, 32, 64) if f"fig4_hybrid_{n}" in f and f"fig4_lstm_p0.2_{n}" in f]
    if lens:
        kl = {m: {n: test(f"fig4_{m}_{n}")["kl_bpc"] for n in lens if f"fig4_{m}_{n}" in f}
              for m in ("hybrid", "lstm_p0.2", "lstm_p0.5")}
        longest, shortest = max(lens), min(lens)
        claim(f"Fig. 4: at the longest samples ({longest} positions) the hybrid keeps more information in z (KL "
              f"bits per character) than the LSTM VAE at input dropout 0.2", kl["hybrid"][longest] >
              kl["lstm_p0.2"][longest], kl, baselines={f"hybrid at {longest}": test(f"fig4_hybrid_{longest}")})
        claim("Fig. 4: the hybrid's KL stays above 0 at every length (> 0.01 bits per character)",
              all(v > 0.01 for v in kl["hybrid"].values()), kl["hybrid"])
        claim("Fig. 4: the LSTM VAE's KL (input dropout 0.2) falls as samples grow (longest below shortest)",
              kl["lstm_p0.2"][longest] < kl["lstm_p0.2"][shortest], kl["lstm_p0.2"],
              baselines={f"the LSTM VAE at {shortest}": test(f"fig4_lstm_p0.2_{shortest}")})
    for kla in ("kla", "nokla"):
        alphas = [a for a in (0.0, 0.2, 0.5, 1.0) if f"fig5_alpha{a}_{kla}" in f]
        if len(alphas) > 1:
            kl = {a: test(f"fig5_alpha{a}_{kla}")["kl_bpc"] for a in alphas}
            claim(f"Fig. 5 ({'with' if kla == 'kla' else 'without'} KL annealing): KL grows with alpha "
                  f"(largest alpha above alpha 0)", kl[max(alphas)] > kl[0.0], kl,
                  baselines={f"alpha {max(alphas)}": test(f"fig5_alpha{max(alphas)}_{kla}")})
    layers = [n for n in (1, 3, 5) if f"fig6_layers{n}_alpha0.0" in f]
    if layers:
        kl0 = {n: test(f"fig6_layers{n}_alpha0.0")["kl_bpc"] for n in layers}
        kl2 = {n: test(f"fig6_layers{n}_alpha0.2")["kl_bpc"] for n in layers if f"fig6_layers{n}_alpha0.2" in f}
        deep = [n for n in layers if n + 1 > 3]
        if deep:
            # a collapse "above receptive field 3" says something only where a shallower top does not collapse
            shallow = {"the shallow top (alpha 0)": test(f"fig6_layers{min(layers)}_alpha0.0")}
            claim("Fig. 6: with alpha = 0 and a receptive field above 3 the KL collapses (below 0.01 bits per "
                  "character)", all(kl0[n] < 0.01 for n in deep), {"alpha0": kl0}, baselines=shallow)
            if 1 in kl0:
                claim("Fig. 6: with alpha = 0 a shallow top (receptive field 2) still uses z (KL above 0.01 bits per "
                      "character), unlike the deeper ones", kl0[1] > 0.01, {"alpha0": kl0})
            claim("Fig. 6: the auxiliary term (alpha 0.2) keeps KL above the alpha = 0 model at every depth above 2",
                  all(kl2.get(n, 0) > kl0[n] for n in deep), {"alpha0": kl0, "alpha0.2": kl2},
                  baselines={f"alpha 0.2, {n} layers": test(f"fig6_layers{n}_alpha0.2") for n in deep
                             if n in kl2})
    if "tweets_hybrid" in f and "tweets_lstm_p02" in f:
        t = {k: test(k) for k in ("tweets_lstm_p02", "tweets_lstm_p05", "tweets_lstm_p08", "tweets_hybrid") if k in f}
        claim("Table 2: on tweets the hybrid puts more information in z (KL) than the LSTM VAE at input dropout "
              "0.2 and 0.5", all(t["tweets_hybrid"]["kl"] > t[k]["kl"] for k in ("tweets_lstm_p02", "tweets_lstm_p05")
                                 if k in t), {k: {"rec": v["rec"], "kl": v["kl"]} for k, v in t.items()},
              baselines={"the tweets hybrid": t["tweets_hybrid"]})
        claim("Table 2: the LSTM VAE's KL grows with input dropout (0.2 < 0.5 < 0.8, by 0.1 nats or more each)",
              all(k in t for k in ("tweets_lstm_p02", "tweets_lstm_p05", "tweets_lstm_p08")) and
              t["tweets_lstm_p02"]["kl"] + 0.1 < t["tweets_lstm_p05"]["kl"] and
              t["tweets_lstm_p05"]["kl"] + 0.1 < t["tweets_lstm_p08"]["kl"],
              {k: t[k]["kl"] for k in t}, baselines={"input dropout 0.8": t.get("tweets_lstm_p08", {})})
    if all(f"liu_{r}" in f for r in ("hybrid", "hybrid_aux", "hybrid_mu_forcing")):
        liu = {r: {**test(f"liu_{r}"), **f[f"liu_{r}"].get("extras", {})} for r in
               ("hybrid", "hybrid_aux", "hybrid_mu_forcing")}
        fig = {r: {k: v.get(k) for k in ("rec", "kl", "bleu4", "self_bleu4")} for r, v in liu.items()}
        both = {r: liu[r] for r in ("hybrid_aux", "hybrid_mu_forcing")}
        claim("mu-Forcing Table 2: the vanilla hybrid has the lowest KL (paper: 0.01 against 12.73 and 14.24)",
              liu["hybrid"]["kl"] < min(liu["hybrid_aux"]["kl"], liu["hybrid_mu_forcing"]["kl"]), fig,
              baselines=both)
        claim("mu-Forcing Table 2: Hybrid + mu-Forcing has a lower Rec than Hybrid + Aux (paper: 52.22 against "
              "56.01)", liu["hybrid_mu_forcing"]["rec"] < liu["hybrid_aux"]["rec"], fig,
              baselines={"hybrid_aux": liu["hybrid_aux"]})
        claim("mu-Forcing Table 2: the vanilla hybrid's Self-BLEU-4 is the highest (least diverse samples)",
              liu["hybrid"]["self_bleu4"] >= max(liu["hybrid_aux"]["self_bleu4"],
                                                 liu["hybrid_mu_forcing"]["self_bleu4"]), fig, baselines=both)
    if "speed" in res:
        s = res["speed"]
        claim("Speed: the hybrid trains faster than the LSTM VAE of about as many parameters (paper: about 2x, on a "
              "GPU), fp32", s["hybrid_over_lstm_fp32"] > 1, {k: s[k] for k in ("tokens_per_s", "params",
                                                                                "hybrid_over_lstm_fp32")})
    return out


# -- report ----------------------------------------------------------------------------------------------------
def plot(res: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = res["runs"]
    fig, ax = plt.subplots(2, 3, figsize=(16, 9))
    a = ax[0, 0]
    for n, color in zip((10, 20, 30, 50), ("C0", "C1", "C2", "C3"), strict=True):
        for m, style in (("deconv", "-"), ("lstm", "--")):
            r = f.get(f"fig3_{m}_{n}")
            if r:
                a.plot([c["step"] for c in r["train_curve"]], [c["rec_bpc"] for c in r["train_curve"]], style,
                       color=color, label=f"{m} {n}")
    a.set(title="Fig. 3: historyless (train, KL weight 0)", xlabel="step", ylabel="rec, bits/char")
    a.legend(fontsize=7)
    a = ax[0, 1]
    for m in ("hybrid", "lstm_p0.2", "lstm_p0.5"):
        pts = [(n, f[f"fig4_{m}_{n}"]["test"]) for n in (16, 32, 64) if f"fig4_{m}_{n}" in f]
        if pts:
            a.plot([n for n, _ in pts], [t["kl_bpc"] for _, t in pts], "o-", label=f"{m} KL")
            a.plot([n for n, _ in pts], [t["neg_elbo_bpc"] for _, t in pts], "x:", label=f"{m} cost")
    a.set(title="Fig. 4: KL and cost against sample length (test)", xlabel="positions", ylabel="bits/char")
    a.legend(fontsize=7)
    a = ax[0, 2]
    for kla in ("kla", "nokla"):
        pts = [(al, f[f"fig5_alpha{al}_{kla}"]["test"]) for al in (0.0, 0.2, 0.5, 1.0) if f"fig5_alpha{al}_{kla}" in f]
        if pts:
            a.plot([p for p, _ in pts], [t["kl_bpc"] for _, t in pts], "o-", label=f"KL, {kla}")
            a.plot([p for p, _ in pts], [t["rec_bpc"] for _, t in pts], "x:", label=f"rec, {kla}")
    a.set(title="Fig. 5: alpha (test)", xlabel="alpha", ylabel="bits/char")
    a.legend(fontsize=7)
    a = ax[1, 0]
    for al in (0.0, 0.2):
        pts = [(n + 1, f[f"fig6_layers{n}_alpha{al}"]["test"]) for n in (1, 3, 5)
               if f"fig6_layers{n}_alpha{al}" in f]
        if pts:
            a.plot([p for p, _ in pts], [t["kl_bpc"] for _, t in pts], "o-", label=f"KL, alpha {al}")
            a.plot([p for p, _ in pts], [t["rec_bpc"] for _, t in pts], "x:", label=f"rec, alpha {al}")
    a.set(title="Fig. 6: ByteNet top, receptive field (test)", xlabel="receptive field (layers + 1)",
          ylabel="bits/char")
    a.legend(fontsize=7)
    a = ax[1, 1]
    rows = [k for k in ("tweets_lstm_p02", "tweets_lstm_p05", "tweets_lstm_p08", "tweets_hybrid", "liu_hybrid",
                        "liu_hybrid_aux", "liu_hybrid_mu_forcing") if k in f]
    if rows:
        a.bar(range(len(rows)), [f[k]["test"]["rec"] for k in rows], label="rec")
        a.bar(range(len(rows)), [f[k]["test"]["kl"] for k in rows], bottom=[f[k]["test"]["rec"] for k in rows],
              label="KL")
        a.set_xticks(range(len(rows)), [k.replace("tweets_", "t:").replace("liu_", "y:") for k in rows], rotation=30,
                     fontsize=7)
    a.set(title="Tweets (t:) and Yelp characters (y:), test", ylabel="nats/sentence")
    a.legend(fontsize=7)
    a = ax[1, 2]
    if "speed" in res:
        tps = res["speed"]["tokens_per_s"]
        a.bar(range(len(tps)), list(tps.values()))
        a.set_xticks(range(len(tps)), list(tps), rotation=20, fontsize=8)
    a.set(title="Training speed, 1 thread", ylabel="tokens/s")
    fig.tight_layout()
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)


def _g(x, nd=3) -> str:
    return "-" if x is None else f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def markdown(res: dict) -> str:
    f = res["runs"]
    m = res["machine"]
    lines = ["# Hybrid convolutional VAE (Semeniuta et al. 2017) and mu-Forcing's Table 2, reduced scale", "",
             f"Date {res['date']}; {m.get('cpu', '')}; {m.get('cpu_count', '')} cores; command: "
             f"`{res['command']}`.", "",
             "## Scale", "",
             f"Every PTB run: {STEPS} steps of {BATCH} character samples (an epoch: {EPOCH} fresh samples; "
             "validation and test on 4,000 fixed samples each), the "
             "hybrid with encoder channels 64-128, decoder channels 128-64-100, an LSTM top of 128 (paper: 128-256 / "
             "256-128-200 and 500), z of 32 (50); LSTM VAEs of 192 units (about the hybrid's parameters). KL "
             "annealing after 100 steps over 300 (authors: after 1,000 or 10,000 over 7,000). Tweets and Yelp: the "
             "same number of steps with smaller channels (the tables below give parameters). The paper trains for "
             "tens of thousands of steps: these are the first minutes of its curves, on one CPU thread per run.", "",
             "Bits per character count every predicted position, each sample's </s> included.", "",
             "## Claims", "", "| claim | verdict |", "|---|---|"]
    lines += [f"| {c['claim']} | {cell(c)} |" for c in res["checks"]]
    lines += ["", "![curves](hybrid.png)", "", "## Runs (test split)", "",
              "| run | params | rec bpc | KL bpc | cost bpc | rec | KL | au | tokens/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, r in f.items():
        t = r["test"]
        lines.append(f"| {name} | {t.get('params') or '-'} | {_g(t.get('rec_bpc'))} | {_g(t.get('kl_bpc'))} | "
                     f"{_g(t.get('neg_elbo_bpc'))} | {_g(t.get('rec'), 2)} | {_g(t.get('kl'), 2)} | {t.get('au')} | "
                     f"{_g(t.get('tokens_per_s'), 0)} |")
    liu = [k for k in f if k.startswith("liu_")]
    if liu:
        lines += ["", "## mu-Forcing Table 2 at character level (Yelp sentences for APRC)", "",
                  "| row | rec | KL | BLEU-4 | Self-BLEU-4 | paper rec / KL |", "|---|---|---|---|---|---|"]
        paper = {"liu_hybrid": "61.97 / 0.01", "liu_hybrid_aux": "56.01 / 12.73",
                 "liu_hybrid_mu_forcing": "52.22 / 14.24"}
        for k in liu:
            e = f[k].get("extras", {})
            lines.append(f"| {k[4:]} | {_g(f[k]['test']['rec'], 2)} | {_g(f[k]['test']['kl'], 2)} | "
                         f"{_g(e.get('bleu4'), 2)} | {_g(e.get('self_bleu4'), 2)} | {paper[k]} |")
    tweets = [k for k in f if k.startswith("tweets_")]
    if tweets:
        lines += ["", "## Greedy samples from the prior, tweets (Table 1)", ""]
        for k in tweets:
            lines += [f"**{k}**", "", *[f"    {s}" for s in f[k].get("extras", {}).get("samples", [])], ""]
    if "speed" in res:
        s = res["speed"]
        lines += ["## Speed (one thread, same batch of 64 samples of 64 positions, alternated rounds)", "",
                  "| setting | tokens/s |", "|---|---|"]
        lines += [f"| {k} | {v:,.0f} |" for k, v in s["tokens_per_s"].items()]
        lines += ["", f"Parameters: {s['params']}. Hybrid / LSTM VAE: fp32 {s['hybrid_over_lstm_fp32']:.2f}x"
                  + (f", bf16 {s['hybrid_over_lstm_bf16']:.2f}x; bf16 / fp32: {s['bf16_over_fp32']}" if
                     "hybrid_over_lstm_bf16" in s else ""),
                  f"Hybrid training FLOPs per token (FlopCounterMode, forward and backward): "
                  f"{s['hybrid_train_flops_per_token'] / 1e6:.2f} MFLOP; utilisation of the fp32 matmul peak "
                  f"({s['matmul_peak_fp32']['gflops_best']:.1f} GFLOP/s): {100 * s['hybrid_utilisation_fp32']:.1f}%"
                  + (f"; of the bf16 peak ({s['matmul_peak_bf16']['gflops_best']:.1f} GFLOP/s): "
                     f"{100 * s['hybrid_utilisation_bf16']:.1f}%"
                     if "hybrid_utilisation_bf16" in s else "") + "."]
    if res.get("note"):
        lines += ["", "## Notes", "", res["note"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs/bench/hybrid")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--only", action="append", help="groups: fig3 fig4 fig5 fig6 tweets liu speed")
    ap.add_argument("--note", default="")
    ap.add_argument("--recheck", action="store_true", help="judge the claims of hybrid.json again (no training)")
    args = ap.parse_args()
    if args.recheck:
        recheck(ROOT / "benchmarks/hybrid.json", checks, render)
        return
    groups = set(args.only or ["fig3", "fig4", "fig5", "fig6", "tweets", "liu", "speed"])
    todo = {k: v for k, v in experiments().items() if v["group"] in groups}
    args.runs.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda kv: train(kv[0], kv[1], args.runs), todo.items()))
    res_path = ROOT / "benchmarks/hybrid.json"
    old = json.loads(res_path.read_text()) if res_path.is_file() else {}
    runs = dict(old.get("runs", {}))
    for name in todo:
        runs[name] = {**figures(args.runs / name), "extras": extras(name, args.runs / name)}
    res = {"date": date.today().isoformat(), "machine": machine_info("cpu"),
           "command": "python benchmarks/hybrid.py " + " ".join(sys.argv[1:]), "note": args.note or old.get("note", ""),
           "runs": runs, "commands": {k: ["textvae train", v["recipe"], *v["overrides"]] for k, v in
                                      experiments().items()}}
    if "speed" in groups:
        res["speed"] = speed()
    elif "speed" in old:
        res["speed"] = old["speed"]
    res["checks"] = checks(res)
    write_json_atomic(res_path, res)
    render(res)
    say(res["checks"])


def render(res: dict) -> None:
    write_text_atomic(ROOT / "benchmarks/hybrid.md", markdown(res))
    plot(res, ROOT / "benchmarks/hybrid.png")


if __name__ == "__main__":
    main()
