"""Decoding speed on the PTB test split: greedy, sampling and beam-15 from the posterior means of the PTB VAE,
batched as the library does it, against beam search written the naive way (one sentence at a time, one
hypothesis at a time), both measured in the same run on the same sentences.

    python benchmarks/decoding.py --run runs/bench/ptb_vae

Writes benchmarks/decoding.md and benchmarks/decoding.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info  # noqa: E402

from textvae.analysis import posterior_codes  # noqa: E402
from textvae.atomic import write_json_atomic, write_text_atomic  # noqa: E402
from textvae.data.vocab import BOS, EOS  # noqa: E402
from textvae.decoding import DecodeOptions, beam_search, decode  # noqa: E402
from textvae.decoding.common import banned_tokens  # noqa: E402
from textvae.pipeline import load_run, load_splits  # noqa: E402


@torch.no_grad()
def naive_beam(model, z_row: torch.Tensor, width: int, max_len: int, ban_unk: bool = True) -> list[int]:
    """Textbook beam search for one code (1, Z): a Python list of hypotheses, each extended by its own decoder
    call. Same search as ``beam_search`` (finished hypotheses kept with frozen scores, </s> forced at max_len)."""
    dec, banned = model.decoder, banned_tokens(ban_unk)
    state = dec.init_state(z_row, 1)
    beams = [(0.0, [], state, False)]  # (score, tokens, state, finished)
    for t in range(max_len):
        cands = []
        for score, toks, st, done in beams:
            if done:
                cands.append((score, toks, st, True))
                continue
            logits, new_st = dec.step(torch.tensor([toks[-1] if toks else BOS]), st, z_row)
            logp = logits[0].float().log_softmax(-1)
            logp[banned] = float("-inf")
            if t == max_len - 1:
                keep = logp[EOS].clone()
                logp.fill_(float("-inf"))
                logp[EOS] = keep
            top = logp.topk(width)
            for lp, tok in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                cands.append((score + lp, toks + [tok], new_st, tok == EOS))
        beams = sorted(cands, key=lambda c: -c[0])[:width]
        if all(b[3] for b in beams):
            break
    best = beams[0][1]
    return best[: best.index(EOS)] if EOS in best else best


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def settle_speedup(model, mu: torch.Tensor, opts: DecodeOptions, rounds: int = 2) -> dict:
    """Beam search as the library runs it (a sentence leaves once its best ended hypothesis beats every open one)
    against searching until every hypothesis has ended, alternated ``rounds`` times on the same codes; the
    outputs must be identical."""
    import textvae.decoding.beam as beam_mod

    real = beam_mod._settled
    times = {"settled": [], "to_the_end": []}
    outs = {}
    for _ in range(rounds):
        for name in times:
            beam_mod._settled = real if name == "settled" else (lambda scores, finished, n: finished.all(1))
            try:
                outs[name], secs = _timed(lambda: decode(model.decoder, mu, opts))
            finally:
                beam_mod._settled = real
            times[name].append(secs)
    best = {k: min(v) for k, v in times.items()}
    return {"sentences": mu.shape[0], "seconds_settled": best["settled"], "seconds_to_the_end": best["to_the_end"],
            "speedup": best["to_the_end"] / best["settled"], "same_output": outs["settled"] == outs["to_the_end"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "bench" / "ptb_vae")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256, help="codes per batch (beam: rows = batch x width)")
    ap.add_argument("--width", type=int, default=15)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--naive", type=int, default=30, help="sentences decoded by the naive beam search")
    ap.add_argument("--limit", type=int, default=0, help="test sentences used (0: all)")
    ap.add_argument("--settle", type=int, default=500, help="sentences of the settled-vs-to-the-end comparison")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipe, vocab, model = load_run(args.run, args.device)
    _, splits = load_splits(recipe.data, vocab, splits=("test",))
    seqs = splits["test"].ids[: args.limit or None]
    mu, _ = posterior_codes(model, seqs, recipe.data.eval_batch_size, args.device)
    mu = mu.to(args.device)
    info = machine_info(args.device)
    rows = []
    for method in ("greedy", "sample", "beam"):
        opts = DecodeOptions(method=method, max_len=args.max_len, ban_unk=True, width=args.width,
                             batch_size=args.batch_size)
        decode(model.decoder, mu[: opts.batch_size], opts)  # warm-up
        out, secs = _timed(lambda opts=opts: decode(model.decoder, mu, opts))
        rows.append({"method": method if method != "beam" else f"beam-{args.width}", "sentences": len(out),
                     "codes_per_batch": args.batch_size if method != "beam" else args.batch_size // args.width,
                     "seconds": secs, "sentences_per_s": len(out) / secs,
                     "mean_length": sum(map(len, out)) / len(out)})
        print(rows[-1], flush=True)
    # naive vs batched beam search on the same sentences
    sub = mu[: args.naive]
    naive, t_naive = _timed(lambda: [naive_beam(model, sub[i : i + 1], args.width, args.max_len)
                                     for i in range(sub.shape[0])])
    batched, t_batched = _timed(lambda: beam_search(model.decoder, sub, args.width, args.max_len, ban_unk=True).best)
    agree = sum(a == b for a, b in zip(naive, batched, strict=True)) / len(naive)
    cmp = {"sentences": len(naive), "naive_seconds": t_naive, "batched_seconds": t_batched,
           "naive_sentences_per_s": len(naive) / t_naive, "batched_sentences_per_s": len(naive) / t_batched,
           "speedup": t_naive / t_batched, "same_output": agree}
    print(cmp, flush=True)
    settle = settle_speedup(model, mu[: args.settle], DecodeOptions(
        method="beam", max_len=args.max_len, ban_unk=True, width=args.width, batch_size=args.batch_size))
    print(settle, flush=True)
    result = {"machine": info, "run": str(args.run), "recipe": recipe.name, "width": args.width,
              "max_len": args.max_len, "rows": rows, "naive_vs_batched_beam": cmp, "beam_settle": settle}
    write_json_atomic(args.out_dir / "decoding.json", result)
    write_text_atomic(args.out_dir / "decoding.md", _markdown(result, args))


def _markdown(r: dict, args) -> str:
    m, c = r["machine"], r["naive_vs_batched_beam"]
    lines = [
        "# Decoding speed: PTB VAE, PTB test split", "",
        f"- Date (UTC): {m['date']}",
        f"- Machine: {m['cpu']}; {m['cpu_count']} CPUs; torch {m['torch']}, device `{m['device']}`, "
        f"{m['num_threads']} threads" + (f"; GPU {m['gpu']}" if "gpu" in m else ""),
        f"- Model: `{r['run']}` (recipe `{r.get('recipe', 'ptb_vae')}`); codes: posterior means of the test sentences; "
        f"at most {r['max_len']} tokens, <unk> banned",
        f"- Regenerate: `python benchmarks/decoding.py --run {r['run']}`", "",
        "| method | sentences | codes per batch | seconds | sentences/s | mean length |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['method']} | {row['sentences']} | {row['codes_per_batch']} | {row['seconds']:.1f} | "
                     f"{row['sentences_per_s']:.1f} | {row['mean_length']:.1f} |")
    lines += [
        "", f"## Batched vs naive beam search (width {r['width']}, the first {c['sentences']} test sentences)", "",
        "The naive search decodes one sentence at a time and extends each hypothesis with its own decoder call "
        "(`naive_beam` in this script); the library's `beam_search` advances every hypothesis of every sentence "
        "in one call per step. Same search rule, measured one after the other in the same process.", "",
        "| | seconds | sentences/s |", "|---|---:|---:|",
        f"| naive, one sentence and one hypothesis at a time | {c['naive_seconds']:.2f} | "
        f"{c['naive_sentences_per_s']:.2f} |",
        f"| batched (`textvae.decoding.beam_search`) | {c['batched_seconds']:.2f} | "
        f"{c['batched_sentences_per_s']:.2f} |", "",
        f"Speed-up: **{c['speedup']:.1f}x**; identical best sentence for {100 * c['same_output']:.0f}% of the "
        "sentences (ties between equal scores may break differently).", "",
    ]
    if "beam_settle" in r:
        st = r["beam_settle"]
        lines += [
            f"## Settled sentences leave the search (beam {r['width']}, the first {st['sentences']} test sentences)",
            "", "Without a length penalty a hypothesis' score only falls, so a sentence whose best ended hypothesis "
            "beats every open one is done; the search drops it and decodes the rest on fewer rows. Against "
            "searching until every hypothesis has ended (hypotheses caught in repetition run to max_len), "
            "alternated twice, fastest of each:", "",
            "| | seconds | sentences/s |", "|---|---:|---:|",
            f"| until every hypothesis has ended | {st['seconds_to_the_end']:.2f} | "
            f"{st['sentences'] / st['seconds_to_the_end']:.1f} |",
            f"| settled sentences leave (the library) | {st['seconds_settled']:.2f} | "
            f"{st['sentences'] / st['seconds_settled']:.1f} |", "",
            f"Speed-up **{st['speedup']:.2f}x**; outputs identical: {'yes' if st['same_output'] else 'no'}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
