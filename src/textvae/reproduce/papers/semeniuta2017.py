"""Semeniuta et al. 2017, A Hybrid Convolutional Variational Autoencoder for Text: three claims on PTB characters.

1. Historyless decoding (Fig. 3): the feed-forward deconvolutional decoder fits long samples that the inputless
   LSTM cannot, while on short samples both fit.
2. KL against sample length (Fig. 4): the LSTM VAE's KL falls as samples grow; the hybrid keeps information in z.
3. The auxiliary term and the top's depth (Figs. 5-6): KL grows with alpha; with alpha = 0 a deep ByteNet top
   collapses while a shallow one (receptive field 2) still uses z.
"""

from __future__ import annotations

from pathlib import Path

from textvae.reproduce.artifacts import Analysis, Artifacts
from textvae.reproduce.papers import Findings, Paper
from textvae.reproduce.runs import RunSpec
from textvae.reproduce.verdicts import collapsed, judge, kl_level

NAME = "semeniuta2017"
R = "semeniuta2017/"
STEPS, BATCH = 6000, 32
"""Small scale: 6,000 steps of 32 samples a run, enough for the inputless LSTM to fit short samples (Fig. 3 needs
it to: at 1,500 steps it could not fit even 10 characters). Characters are cheap: about 5 s a 100 steps on one
core of this CPU."""
SIZES = {  # small scale: the hybrid and the LSTM VAE about the same number of parameters
    "conv": ("model.encoder.channels=[64,128]", "model.encoder.embed_dim=32", "model.latent_dim=32"),
    "deconv": ("model.decoder.channels=[128,64,100]",),
    "top": ("model.decoder.embed_dim=32", "model.decoder.hidden_dim=128"),
    "lstm": ("model.encoder.embed_dim=32", "model.encoder.hidden_dim=192", "model.decoder.embed_dim=32",
             "model.decoder.hidden_dim=192", "model.latent_dim=32"),
}
COMMON = (f"train.max_steps={STEPS}", "train.epochs=100", f"data.batch_size={BATCH}", "data.samples_per_epoch=9600",
          "train.log_every=100", "train.checkpoint_every=500", "train.early_stop=0", "data.eval_batch_size=256",
          "data.eval_samples=4000", "eval.final_iw_samples=0")
KLA = ("objective.kl_weight.delay=600", "objective.kl_weight.steps=2400")
"""Annealing scaled with the run: the authors start after 1,000 steps and rise over 7,000."""
FIG3, FIG4 = (10, 50), (16, 64)


def length(n: int, multiple: int = 4) -> tuple[str, ...]:
    m = -(-n // multiple) * multiple
    return (f"data.sample_length={n}", f"model.encoder.length={m}", f"model.decoder.length={m}")


def runs(scale: str) -> list[RunSpec]:
    small = scale == "small"

    def spec(name: str, recipe: str, shape: tuple[str, ...], *reduced: tuple[str, ...]) -> RunSpec:
        """``shape``: the experiment's own settings (lengths, dropout, alpha, depth) at every scale; ``reduced``:
        the small scale's sizes and schedule (the full scale keeps the recipe's)."""
        return RunSpec(name, R + recipe, (*((*COMMON, *[x for r in reduced for x in r]) if small else ()), *shape))

    hyb = (*SIZES["conv"], *SIZES["deconv"], *SIZES["top"])
    top = ("model.decoder.embed_dim=32", "model.decoder.hidden_dim=128")
    out = []
    for n in FIG3:
        out.append(spec(f"fig3_deconv_{n}", "ptb_char_historyless_deconv", length(n), SIZES["conv"], SIZES["deconv"]))
        out.append(spec(f"fig3_lstm_{n}", "ptb_char_historyless_lstm", (f"data.sample_length={n}",), SIZES["lstm"]))
    for n in FIG4:
        out.append(spec(f"fig4_hybrid_{n}", "ptb_char_hybrid", length(n), hyb, KLA))
        out.append(spec(f"fig4_lstm_{n}", "ptb_char_lstm_vae",
                        (f"data.sample_length={n}", "objective.word_dropout.keep=0.8"), SIZES["lstm"], KLA))
    for alpha in (0.0, 1.0):
        out.append(spec(f"fig5_alpha{alpha}", "ptb_char_hybrid", (*length(64), f"objective.aux.weight={alpha}"),
                        hyb, KLA))
    for layers in (1, 3):
        out.append(spec(f"fig6_layers{layers}", "ptb_char_bytenet",
                        (f"model.decoder.layers={layers}", "objective.aux.weight=0.0"), SIZES["conv"],
                        SIZES["deconv"], KLA, top))
    return out


def analyses(scale: str) -> list[Analysis]:
    return []


def bpc(a: Artifacts, run: str, key: str = "rec_bpc") -> float:
    return float(a.report(run)[key])


def judge_all(a: Artifacts) -> Findings:
    claims = []
    d = {n: bpc(a, f"fig3_deconv_{n}") for n in FIG3}
    lstm = {n: bpc(a, f"fig3_lstm_{n}") for n in FIG3}
    short, long_ = FIG3
    fits_short = lstm[short] <= d[short] + 0.5
    claims.append(judge(NAME, f"Fig. 3: on {long_}-character samples the historyless deconvolutional decoder fits "
                              f"better (lower bits per character) than the inputless LSTM, by 0.5 bpc or more",
                        d[long_] + 0.5 <= lstm[long_], {"deconv_bpc": d, "lstm_bpc": lstm},
                        unmeasurable="" if fits_short else
                        f"the inputless LSTM does not fit even {short}-character samples ({lstm[short]:.2f} bpc "
                        f"against the deconvolutional {d[short]:.2f}): under-trained, not the paper's shape"))
    kl = {f"{m}_{n}": kl_level(a.report(f"fig4_{m}_{n}"))[0] for m in ("hybrid", "lstm") for n in FIG4}
    s, l_ = FIG4
    claims.append(judge(NAME, f"Fig. 4: the LSTM VAE's KL (bits per character) falls from {s}- to {l_}-character "
                              f"samples and ends below the hybrid's, which keeps information in z",
                        kl[f"lstm_{l_}"] < kl[f"lstm_{s}"] and kl[f"hybrid_{l_}"] > kl[f"lstm_{l_}"],
                        {"kl_bpc": kl}, baselines={f"fig4_hybrid_{l_}": a.report(f"fig4_hybrid_{l_}"),
                                                   f"fig4_lstm_{s}": a.report(f"fig4_lstm_{s}")}))
    alphas = {"0.0": "fig5_alpha0.0", "0.2": "fig4_hybrid_64", "1.0": "fig5_alpha1.0"}
    ka = {k: kl_level(a.report(v))[0] for k, v in alphas.items()}
    depth = {n: kl_level(a.report(f"fig6_layers{n}"))[0] for n in (1, 3)}
    claims.append(judge(NAME, "Figs. 5-6: KL grows with the auxiliary weight alpha (0 < 0.2 < 1); with alpha = 0 "
                              "a 3-layer ByteNet top collapses (KL < 0.01 bpc) while a 1-layer top does not",
                        ka["0.0"] < ka["0.2"] < ka["1.0"] and collapsed(a.report("fig6_layers3"))
                        and not collapsed(a.report("fig6_layers1")),
                        {"kl_bpc_by_alpha": ka, "kl_bpc_by_layers_alpha0": depth},
                        baselines={"alpha 1.0": a.report("fig5_alpha1.0")}))
    from textvae.reproduce.report import table

    sections = [
        "## Fig. 3: historyless decoders (test bits per character, KL weight 0)\n\n"
        + table(["length", "deconvolutional", "inputless LSTM"], [[n, d[n], lstm[n]] for n in FIG3]),
        "## Fig. 4: KL (bits per character) against sample length\n\n"
        + table(["length", "hybrid (alpha 0.2)", "LSTM VAE (input dropout 0.2)"],
                [[n, kl[f"hybrid_{n}"], kl[f"lstm_{n}"]] for n in FIG4]),
        "## Figs. 5-6: alpha and depth (KL bits per character, 64 characters)\n\n"
        + table(["setting", "KL bpc"], [[f"hybrid, alpha {k}", v] for k, v in ka.items()]
                + [[f"ByteNet top, {n} layer(s), alpha 0", v] for n, v in depth.items()])]
    return Findings(claims, sections, {"fig3": {"deconv": d, "lstm": lstm}, "fig4": kl, "fig5": ka, "fig6": depth})


def plot(a: Artifacts, path: Path) -> bool:
    from textvae.reproduce.report import label, panels

    with panels(path) as ax:
        for n in FIG3:
            for m, style in (("deconv", "-"), ("lstm", "--")):
                rows = a.metrics(f"fig3_{m}_{n}", "valid")
                ax[0].plot([r["step"] for r in rows], [r["rec_bpc"] for r in rows], style, label=f"{m} {n}")
        label(ax[0], "step", "valid bits per character", "Fig. 3: historyless decoders", legend=7)
        for m in ("hybrid", "lstm"):
            ax[1].plot(FIG4, [kl_level(a.report(f"fig4_{m}_{n}"))[0] for n in FIG4], "o-", label=m)
        label(ax[1], "sample length (characters)", "test KL (bits per character)", "Fig. 4: KL against length")
    return True


PAPER = Paper(NAME, "Semeniuta et al. 2017, A Hybrid Convolutional Variational Autoencoder for Text", runs,
              analyses, judge_all, plot,
              small_note=f"Small scale: PTB characters, convolutional encoders of [64, 128] channels, LSTMs and "
                         f"tops of 128-192 units, z of 32, {STEPS:,} steps of {BATCH} samples a run (the paper: "
                         f"tens of thousands of steps of 64 on a GPU), KL annealed from step 600 over 2,400.")
