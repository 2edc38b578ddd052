"""Scale: preparing a corpus of 10 million sentences, training from it in bounded memory, and 1 against 2 training
processes (torchrun, DDP over gloo) on this machine.

    python benchmarks/scale.py [--sentences 10000000] [--workers 2]

1. The corpus: ``--sentences`` training lines (and 20,000 each for valid and test) drawn with replacement, by a
   seeded generator, from the training lines of the bundled PTB, Yelp (Shen et al.) and books (War and Peace)
   corpora: a stand-in for the Book Corpus of the same order of size (the real one is not redistributable). Written
   once to runs/bench/scale/corpus (kept for resumption).
2. ``textvae prepare`` of PTB and of that corpus (word tokenizer, 20,000-word vocabulary), each in its own process:
   wall time, sentences/s and the process's peak resident memory (ru_maxrss).
3. Memory of a training process: load the training and validation splits, build the PTB VAE of Bowman et al.'s
   sizes and take 20 steps, from the prepared folder and from the text (under an address-space limit of
   ``--text-limit-gb``: the text path holds every sentence as Python lists).
4. Training speed on prepared PTB, side by side: one process with batches of 32, against 2 processes (torchrun
   --standalone, gloo) with batches of 16 each (the same global batch of 32), one intra-op thread per process
   (so that 2 processes use the 2 cores one process leaves idle); and what one gradient all-reduce of the model
   costs between the 2 processes.
5. A projection of one Book-Corpus-sized epoch on 8 GPUs, from the model's FLOPs per token (counted by
   torch.utils.flop_counter on one training step) and stated assumptions: no GPU was lent to this project.

Writes benchmarks/scale.md and benchmarks/scale.json."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
WORK = ROOT / "runs" / "bench" / "scale"
BOOK_CORPUS = {"sentences": 74_004_228, "words": 984_846_357}
"""Zhu et al. (2015), Table 2: the Book Corpus's sentences and words."""
RECIPE = ROOT / "recipes" / "bowman2016" / "ptb_vae.yaml"


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB: VmHWM (ru_maxrss would count the parent's memory at the fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- children: each measurement in its own process, so that its peak memory is its own ---------------------------
def child_prepare(source: str, out: str, workers: int) -> dict:
    from textvae.config import DataConfig
    from textvae.data.prepared import prepare

    tic = time.perf_counter()
    manifest = prepare([source], out, DataConfig(corpus=source, vocab_size=20000), workers=workers)
    seconds = time.perf_counter() - tic
    n = sum(s["sentences"] for s in manifest["splits"].values())
    return {"sentences": n, "tokens": sum(s["tokens"] for s in manifest["splits"].values()), "seconds": seconds,
            "sentences_per_s": n / seconds, "peak_rss_mb": peak_rss_mb()}


def child_train_memory(corpus: str, limit_gb: float) -> dict:
    if limit_gb > 0:
        limit = int(limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out: dict = {"corpus": corpus}
    try:
        import torch

        from textvae.config import load_recipe
        from textvae.data.batching import bucket_order, iterate_batches
        from textvae.models.build import build_model
        from textvae.objectives.objective import Objective
        from textvae.pipeline import load_splits

        torch.set_num_threads(2)
        cfg = load_recipe(RECIPE, [f"data.corpus={corpus}", "data.vocab_size=20000"])
        tic = time.perf_counter()
        vocab, splits = load_splits(cfg.data, splits=("train", "valid"), log=lambda *_: None)
        out["load_seconds"] = time.perf_counter() - tic
        out["rss_after_load_mb"] = peak_rss_mb()
        model = build_model(cfg.model, len(vocab))
        objective = Objective.from_config(cfg.objective, model)
        opt = torch.optim.Adam([*model.parameters(), *objective.parameters()], lr=1e-3)
        batches = bucket_order(splits["train"].lengths(), cfg.data.batch_size, True, 0, 0)
        for pos, batch in iterate_batches(splits["train"].ids, batches):
            loss, _ = objective(model, batch, pos)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if pos == 19:
                break
        out.update(fits=True, sentences=len(splits["train"]))
    except MemoryError:
        out.update(fits=False)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child_allreduce(numel: int, reps: int = 20) -> dict:
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    torch.set_num_threads(1)
    x = torch.randn(numel)
    for _ in range(3):
        dist.all_reduce(x)
    tic = time.perf_counter()
    for _ in range(reps):
        dist.all_reduce(x)
    ms = torch.tensor([(time.perf_counter() - tic) / reps * 1000])
    dist.all_reduce(ms, op=dist.ReduceOp.MAX)
    rank = dist.get_rank()
    dist.destroy_process_group()
    return {"ms": float(ms), "numel": numel, "ranks": 2} if rank == 0 else None  # rank 0 alone prints


def run_child(*args: str, torchrun: int = 0) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}",
               *cmd[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TEXTVAE_PROGRESS": "0"})
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the corpus --------------------------------------------------------------------------------------------------
def make_corpus(n: int, folder: Path) -> dict:
    from textvae.config import DataConfig
    from textvae.data.source import corpus_lines

    pool = [line for name in ("ptb", "yelp", "books") for line in corpus_lines(DataConfig(corpus=name), "train")]
    sizes = {"train": n, "valid": 20000, "test": 20000}
    done = folder / "done.json"
    if done.is_file() and json.loads(done.read_text()).get("sizes") == sizes:
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    for split, count in sizes.items():
        tmp = folder / f".{split}.txt.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for start in range(0, count, 1_000_000):
                idx = rng.integers(0, len(pool), min(1_000_000, count - start))
                f.write("\n".join(pool[i] for i in idx.tolist()) + "\n")
        os.replace(tmp, folder / f"{split}.txt")
    info = {"sizes": sizes, "pool": len(pool), "bytes": sum((folder / f"{s}.txt").stat().st_size for s in sizes)}
    done.write_text(json.dumps(info))
    return info


# ---- training speed ----------------------------------------------------------------------------------------------
def train_speed(prepared: Path, nproc: int, steps: int) -> dict:
    out = WORK / f"train_{nproc}proc"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    per_rank = 32 // nproc
    sets = [f"data.corpus={prepared}", "data.vocab_size=20000", f"data.batch_size={per_rank}",
            f"train.max_steps={steps}", f"train.log_every={steps // 2}", "train.epochs=1",
            "train.threads=1", "eval.iw_samples=0", "train.checkpoint_every=100000"]
    args = ["train", str(RECIPE), "--out", str(out), *[x for s in sets for x in ("--set", s)]]
    cmd = [sys.executable, "-m", "textvae.cli", *args]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m",
               "textvae.cli", *args]
    env = {**os.environ, "TEXTVAE_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    last = [x for x in lines if x["kind"] == "train"][-1]  # the second half of the steps (the first warms up)
    return {"processes": nproc, "batch_per_rank": per_rank, "threads_per_rank": 1,
            "tokens_per_s": last["tokens_per_s"],
            "step_ms": 1000 * last["tokens"] / last["tokens_per_s"] / (steps // 2),
            # the training log's own measures: per process, against a 1-thread matmul peak measured at its start
            **{k: last.get(k) for k in ("flops_per_token", "gflops", "peak_gflops", "utilisation")}}


def flops_per_token(prepared: Path) -> dict:
    from textvae.config import load_recipe
    from textvae.data.batching import bucket_order, iterate_batches
    from textvae.models.build import build_model
    from textvae.objectives.objective import Objective
    from textvae.pipeline import load_splits

    cfg = load_recipe(RECIPE, [f"data.corpus={prepared}", "data.vocab_size=20000"])
    vocab, splits = load_splits(cfg.data, splits=("valid",), log=lambda *_: None)
    model = build_model(cfg.model, len(vocab))
    objective = Objective.from_config(cfg.objective, model)
    batches = bucket_order(splits["valid"].lengths(), 32, True, 0, 0)
    _, batch = next(iterate_batches(splits["valid"].ids, batches))
    from textvae.training.flops import count_flops

    def one_step():
        loss, _ = objective(model, batch, 0)
        loss.backward()

    _, flops = count_flops(one_step)  # the fused LSTM kernels counted by their matmuls
    return {"flops_per_token": flops / batch.n_tokens, "params": model.n_params}


# ---- report ------------------------------------------------------------------------------------------------------
def _num(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def main() -> None:
    global WORK
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, args = sys.argv[2], sys.argv[3:]
        fn = {"prepare": lambda: child_prepare(args[0], args[1], int(args[2])),
              "train-memory": lambda: child_train_memory(args[0], float(args[1])),
              "allreduce": lambda: child_allreduce(int(args[0]))}[kind]
        got = fn()
        if got is not None:
            print(json.dumps(got), flush=True)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", type=int, default=10_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--text-limit-gb", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    ap.add_argument("--work", type=Path, default=WORK, help="Where the corpus, the prepared folders and the "
                                                            "finished steps are kept (resumable).")
    args = ap.parse_args()
    WORK = args.work
    from machine import machine_info

    from textvae.atomic import write_json_atomic, write_text_atomic

    WORK.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": machine_info("cpu"), "sentences": args.sentences, "workers": args.workers,
                    "text_limit_gb": args.text_limit_gb}

    def step(name: str, fn):
        cache = WORK / f"{name}.json"
        if cache.is_file():
            report[name] = json.loads(cache.read_text())
        else:
            print(f"{name} ...", file=sys.stderr, flush=True)
            report[name] = fn()
            cache.write_text(json.dumps(report[name]))
        print(f"{name}: {json.dumps(report[name])[:300]}", file=sys.stderr, flush=True)

    step("corpus", lambda: make_corpus(args.sentences, WORK / "corpus"))
    for name, source in (("prepare_ptb", "ptb"), ("prepare_big", str(WORK / "corpus"))):
        target = WORK / name
        step(name, lambda s=source, t=target: _fresh_prepare(s, t, args.workers))
    step("memory_prepared", lambda: run_child("train-memory", str(WORK / "prepare_big"), "0"))
    step("memory_text", lambda: run_child("train-memory", str(WORK / "corpus"), str(args.text_limit_gb)))
    step("speed_1", lambda: train_speed(WORK / "prepare_ptb", 1, args.steps))
    step("speed_2", lambda: train_speed(WORK / "prepare_ptb", 2, args.steps))
    step("flops", lambda: flops_per_token(WORK / "prepare_ptb"))
    step("allreduce", lambda: run_child("allreduce", str(report["flops"]["params"]), torchrun=2))
    big = report["prepare_big"]
    report.update(prepare_sentences_per_s=big["sentences_per_s"], prepare_peak_rss_mb=big["peak_rss_mb"])
    report["projection"] = projection(report)
    report["claims"] = claims(report)
    write_json_atomic(args.out / "scale.json", report)
    write_text_atomic(args.out / "scale.md", markdown(report))
    print(f"wrote {args.out / 'scale.md'}", file=sys.stderr)


def _fresh_prepare(source: str, target: Path, workers: int) -> dict:
    if (target / "manifest.json").is_file():
        import shutil

        shutil.rmtree(target)  # measured from scratch (an interrupted one resumes instead)
    return run_child("prepare", source, str(target), str(workers))


GPU = {"name": "NVIDIA H100 SXM", "bf16_dense_tflops": 989.0}
"""The assumed GPU: its datasheet's dense bf16 peak."""
MFU = (0.05, 0.15, 0.30)
"""Assumed model-FLOP utilisations of an LSTM VAE of this size on that GPU: low, middle, high."""


def projection(r: dict) -> dict:
    tokens = BOOK_CORPUS["words"] + BOOK_CORPUS["sentences"]  # words and one </s> per sentence
    f = r["flops"]["flops_per_token"]
    s1, s2 = r["speed_1"]["tokens_per_s"], r["speed_2"]["tokens_per_s"]
    out = {"tokens": tokens, "flops_per_token": f, "gpus": 8, "gpu": GPU,
           "cpu_hours_1proc": tokens / s1 / 3600, "scaling_2proc": s2 / s1, "hours": {}}
    for u in MFU:
        per_gpu = GPU["bf16_dense_tflops"] * 1e12 * u / f
        out["hours"][f"mfu_{u:.2f}"] = tokens / (8 * per_gpu * 0.9) / 3600  # 0.9: DDP's all-reduce overhead
    return out


def claims(r: dict) -> list[dict]:
    big, mp, mt = r["prepare_big"], r["memory_prepared"], r["memory_text"]
    return [
        {"claim": f"textvae prepare streams {r['sentences']:,} sentences in bounded memory (peak RSS under 1 GB)",
         "holds": big["peak_rss_mb"] < 1024, "figures": {"peak_rss_mb": big["peak_rss_mb"],
                                                          "sentences_per_s": big["sentences_per_s"]}},
        {"claim": "a training process on the prepared corpus needs far less memory than on its text",
         "holds": mp["fits"] and (not mt["fits"] or mt["peak_rss_mb"] > 3 * mp["peak_rss_mb"]),
         "figures": {"prepared_peak_rss_mb": mp["peak_rss_mb"], "text_peak_rss_mb": mt["peak_rss_mb"],
                     "text_fits": mt["fits"]}},
    ]


def markdown(r: dict) -> str:
    m, c = r["machine"], r["corpus"]
    pp, pb, mp, mt = r["prepare_ptb"], r["prepare_big"], r["memory_prepared"], r["memory_text"]
    s1, s2, p = r["speed_1"], r["speed_2"], r["projection"]
    ar_ms = r["allreduce"]["ms"]
    text_row = (f"{mt['peak_rss_mb']:,.0f} MB (loaded {mt.get('sentences', 0):,} sentences in "
                f"{mt.get('load_seconds', 0):.0f} s)" if mt["fits"] else
                f"did not fit: MemoryError under the {r.get('text_limit_gb', 10):.0f} GB address-space limit, "
                f"after reaching {mt['peak_rss_mb']:,.0f} MB resident")
    lines = [
        "# Scale: prepared corpora, memory, and DDP on this machine",
        "",
        f"Measured {m['date']} on {m['cpu']} ({m['cpu_count']} logical CPUs, load average "
        f"{m.get('loadavg_at_start', ['?'])[0]} at start; other benchmarks may share the CPUs), torch {m['torch']}. "
        "Regenerate with `python benchmarks/scale.py` (its docstring says how each figure is taken).",
        "",
        f"The large corpus: {c['sizes']['train']:,} training sentences (and {c['sizes']['valid']:,} each for valid "
        f"and test), {c['bytes'] / 1e9:.2f} GB of text, drawn with replacement from the {c['pool']:,} training lines "
        "of the bundled PTB, Yelp and books corpora: a stand-in of the Book Corpus's order of size.",
        "",
        "## Preparation (`textvae prepare`, word tokens, 20,000-word vocabulary, "
        f"{r.get('workers', 2)} worker processes)",
        "",
        "| corpus | sentences | tokens | wall s | sentences/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
        f"| PTB | {pp['sentences']:,} | {pp['tokens']:,} | {pp['seconds']:.1f} | {pp['sentences_per_s']:,.0f} | "
        f"{pp['peak_rss_mb']:,.0f} |",
        f"| generated | {pb['sentences']:,} | {pb['tokens']:,} | {pb['seconds']:.1f} | {pb['sentences_per_s']:,.0f} |"
        f" {pb['peak_rss_mb']:,.0f} |",
        "",
        "Three streaming passes: count the lines, count the training split's words (the vocabulary), encode every "
        "split into shards of 1,000,000 sentences. Memory holds the word counts and one shard.",
        "",
        "## Memory of a training process (PTB VAE of Bowman et al.'s sizes, 20 steps)",
        "",
        "| data path | peak RSS |",
        "|---|---|",
        f"| prepared folder (memory-mapped shards) | {mp['peak_rss_mb']:,.0f} MB (opened in "
        f"{mp['load_seconds']:.1f} s) |",
        f"| text (every sentence as Python lists) | {text_row} |",
        "",
        "## Training speed: 1 process against 2 (torchrun, DDP over gloo), prepared PTB, global batch 32",
        "",
        "| processes | threads each | batch per rank | target tokens/s | step ms | GFLOP/s per process | "
        "utilisation of its 1-thread fp32 matmul peak |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {s['processes']} | {s['threads_per_rank']} | {s['batch_per_rank']} | {s['tokens_per_s']:,.0f} | "
          f"{s['step_ms']:.0f} | {_num(s.get('gflops'), '.1f')} | {_num(s.get('utilisation'), '.0%')} "
          f"(of {_num(s.get('peak_gflops'), '.0f')} GFLOP/s) |" for s in (s1, s2)),
        "",
        "GFLOP/s and utilisation are the training log's own figures (`flops_per_token` counted on the first step by "
        "torch.utils.flop_counter, fused LSTM kernels by their matmuls; the peak is a square fp32 matmul measured by "
        "each process at its start).",
        "",
        f"2 processes / 1: {s2['tokens_per_s'] / s1['tokens_per_s']:.2f}x. What limits the 2-process figure: "
        f"each of its steps adds one all-reduce of the {r['flops']['params']:,} gradients "
        f"({r['flops']['params'] * 4 / 1e6:.0f} MB in fp32) over gloo, measured alone at {ar_ms:.1f} ms "
        f"({ar_ms / s2['step_ms']:.0%} of its step), and the {m['cpu_count']} cores are shared with whatever else "
        "runs (the load average above). With one thread per process the second process adds a core; DDP pays off "
        "with one process per GPU or per machine.",
        "",
        "## Projection: one Book-Corpus-sized epoch on 8 GPUs",
        "",
        f"The Book Corpus: {BOOK_CORPUS['sentences']:,} sentences, {BOOK_CORPUS['words']:,} words (Zhu et al. "
        f"2015): {p['tokens']:,} target tokens with one </s> per sentence. The PTB VAE costs "
        f"{p['flops_per_token'] / 1e6:.1f} MFLOP per training token (forward and backward, counted by "
        f"torch.utils.flop_counter; its 20,000-word output layer dominates). On this machine one epoch would take "
        f"{p['cpu_hours_1proc']:,.0f} hours. On 8 x {GPU['name']} ({GPU['bf16_dense_tflops']:.0f} TFLOP/s dense "
        "bf16 each), with 10% lost to the all-reduce:",
        "",
        "| assumed model-FLOP utilisation | hours per epoch |",
        "|---:|---:|",
        *(f"| {float(k.split('_')[1]):.0%} | {v:.2f} |" for k, v in p["hours"].items()),
        "",
        "These are assumptions, not measurements: no GPU was lent to this project's sessions. LSTMs at batch 32 are "
        "latency-bound on GPUs; the low row is the likely one without larger batches.",
        "",
        "## Claims",
        "",
        "| claim | holds | figures |",
        "|---|---|---|",
        *(f"| {c['claim']} | {'yes' if c['holds'] else 'no'} | "
          f"{', '.join(f'{a}: {b:,.1f}' if isinstance(b, float) else f'{a}: {b}' for a, b in c['figures'].items())}"
          " |" for c in r["claims"]),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
