"""`textvae sample | reconstruct | interpolate | arithmetic | nearest | encode`: the latent space of a trained
run. Every command prints plain text, or JSON with --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
import typer

from textvae.analysis import (
    analogy,
    attribute_vector,
    best_matching,
    homotopy,
    reconstruction_scores,
)
from textvae.atomic import write_atomic, write_json_atomic
from textvae.cli import _fail, app
from textvae.data.corpus import read_lines, read_split, split_files
from textvae.decoding import DecodeOptions, decode
from textvae.errors import TextVAEError
from textvae.session import open_run

RUN = typer.Argument(..., help="Run folder (its best weights are used).")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")
DEVICE = typer.Option(None, help="auto, cpu, cuda, cuda:N (default: the recipe's).")
METHOD = typer.Option("greedy", help="greedy, beam or sample.")
WIDTH = typer.Option(15, help="Beam width.")
TEMPERATURE = typer.Option(1.0, help="Sampling temperature.")
TOP_K = typer.Option(0, help="Sample from the k most probable words only (0: all).")
TOP_P = typer.Option(1.0, help="Sample from the smallest set of words with this much probability (1: all).")
LENGTH_PENALTY = typer.Option(0.0, help="Beam: rank finished sentences by log p / length**a (0: by log p).")
MAX_LEN = typer.Option(50, help="Longest decode, in tokens.")
ALLOW_UNK = typer.Option(False, "--allow-unk", help="Let decodes contain <unk>.")
SEED = typer.Option(0, help="Random seed (prior codes, posterior samples, sampling).")


def _opts(method: str, width: int, temperature: float, top_k: int, top_p: float, max_len: int, allow_unk: bool,
          seed: int, length_penalty: float = 0.0) -> DecodeOptions:
    if method not in ("greedy", "beam", "sample"):
        raise TextVAEError(f"--method: must be greedy, beam or sample, got '{method}'")
    for name, ok in (("--width", width >= 1), ("--temperature", temperature > 0), ("--top-k", top_k >= 0),
                     ("--top-p", 0 < top_p <= 1), ("--max-len", max_len >= 1)):
        if not ok:
            raise TextVAEError(f"{name}: out of range")
    return DecodeOptions(method, max_len, not allow_unk, width, length_penalty, temperature, top_k, top_p, seed)


def _emit(as_json: bool, obj: dict, lines: list[str]) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False) if as_json else "\n".join(lines))


def _guard(fn):
    """Run a command body; a TextVAEError or ValueError becomes a one-line error and exit code 2."""
    try:
        fn()
    except (TextVAEError, ValueError) as exc:
        _fail(str(exc))


@app.command()
def sample(run: Path = RUN, n: int = typer.Option(10, "--n", help="Number of sentences."),
           stretch: float = typer.Option(0.0, help="c > 0: map z through I + U[-c, c] (Bowman 6.1 uses 0.1)."),
           method: str = METHOD, width: int = WIDTH, length_penalty: float = LENGTH_PENALTY,
           temperature: float = TEMPERATURE, top_k: int = TOP_K, top_p: float = TOP_P, max_len: int = MAX_LEN,
           allow_unk: bool = ALLOW_UNK, seed: int = SEED, device: Optional[str] = DEVICE,
           as_json: bool = AS_JSON) -> None:
    """Sentences decoded from z ~ N(0, I) (from the RNNLM: unconditional)."""
    def body():
        if n < 1:
            raise TextVAEError("--n: at least 1")
        opts = _opts(method, width, temperature, top_k, top_p, max_len, allow_unk, seed, length_penalty)
        s = open_run(run, device)
        sents = s.decode(s.prior(n, seed, stretch), opts, n)
        head = "" if s.model.is_stochastic or not s.model.has_latent else " (an autoencoder has no prior)"
        _emit(as_json, {"method": method, "stretch": stretch, "sentences": sents},
              [f"# {n} samples, {method} decoding{head}", *sents])
    _guard(body)


@app.command()
def reconstruct(run: Path = RUN, split: str = typer.Option("test", help="train, valid or test."),
                file: Optional[Path] = typer.Option(None, help="Reconstruct the lines of this file instead."),
                limit: int = typer.Option(0, help="Use the first N sentences only (0: all)."),
                samples: int = typer.Option(3, help="Also decode from S samples of q(z|x) (Bowman Table 7)."),
                show: int = typer.Option(5, help="Examples printed in plain text."),
                method: str = METHOD, width: int = WIDTH, length_penalty: float = LENGTH_PENALTY,
                max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK, seed: int = SEED,
                device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Decode sentences from their posterior mean and from posterior samples; BLEU and exact-match rate."""
    def body():
        opts = _opts(method, width, 1.0, 0, 1.0, max_len, allow_unk, seed, length_penalty)
        s = open_run(run, device)
        if file is not None:
            lines = read_lines(file)
        else:
            if split not in ("train", "valid", "test"):
                raise TextVAEError(f"--split: must be train, valid or test, got '{split}'")
            lines = read_split(split_files(s.recipe.data.corpus)[split])
        lines = lines[:limit] if limit > 0 else lines
        refs = [s.text(s.ids(line)) for line in lines]  # as the model sees them: tokenized, <unk> for OOV
        mu, logvar = s.codes(lines)
        from_mean = s.decode(mu, opts)
        result = {"sentences": len(refs), "method": method, "mean": reconstruction_scores(refs, from_mean)}
        drawn = []
        if samples > 0 and logvar is not None:
            g = torch.Generator(device=s.device).manual_seed(seed)
            drawn = [s.decode(s.model.latent.sample(mu, logvar, generator=g), opts) for _ in range(samples)]
            result["samples"] = reconstruction_scores(refs * samples, [x for d in drawn for x in d])
        result["examples"] = [{"input": r, "mean": m, "samples": [d[i] for d in drawn]}
                              for i, (r, m) in enumerate(zip(refs, from_mean, strict=True))]
        lines_out = [f"{len(refs)} sentences, {method} decoding: from the posterior mean BLEU "
                     f"{result['mean']['bleu']:.2f}, exact {100 * result['mean']['exact']:.1f}%"]
        if "samples" in result:
            lines_out.append(f"from {samples} posterior samples each: BLEU {result['samples']['bleu']:.2f}, "
                             f"exact {100 * result['samples']['exact']:.1f}%")
        for ex in result["examples"][:show]:
            lines_out += ["", f"input:  {ex['input']}", f"mean:   {ex['mean']}"]
            lines_out += [f"sample: {x}" for x in ex["samples"]]
        _emit(as_json, result, lines_out)
    _guard(body)


@app.command()
def interpolate(run: Path = RUN, a: Optional[str] = typer.Argument(None, help="First sentence."),
                b: Optional[str] = typer.Argument(None, help="Second sentence."),
                steps: int = typer.Option(5, help="Points on the line, endpoints included."),
                prior: bool = typer.Option(False, "--prior", help="Between two codes drawn from N(0, I)."),
                method: str = METHOD, width: int = WIDTH, max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK,
                seed: int = SEED, device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Homotopy: decode evenly spaced codes on the line between two sentences' posterior means (or two prior
    samples)."""
    def body():
        if prior == (a is not None or b is not None) or (not prior and b is None):
            raise TextVAEError("give two sentences A B, or --prior")
        if steps < 2:
            raise TextVAEError("--steps: at least 2")
        opts = _opts(method, width, 1.0, 0, 1.0, max_len, allow_unk, seed)
        s = open_run(run, device)
        if not s.model.has_latent:
            raise TextVAEError("this run is an RNNLM: it has no latent code")
        if prior:
            z = s.prior(2, seed)
        else:
            z, _ = s.codes([a, b])
        path = homotopy(z[0], z[1], steps)
        sents = s.decode(path, opts)
        ts = torch.linspace(0, 1, steps).tolist()
        _emit(as_json, {"endpoints": None if prior else [a, b], "steps": [{"t": t, "sentence": x}
                                                                         for t, x in zip(ts, sents, strict=True)]},
              [f"{t:.2f}  {x}" for t, x in zip(ts, sents, strict=True)])
    _guard(body)


@app.command()
def arithmetic(run: Path = RUN,
               analogy_: Optional[list[str]] = typer.Option(None, "--analogy", help="Three sentences A P Q: "
                                                             "decode z_A + z_Q - z_P. Give the option 3 times."),
               source: Optional[Path] = typer.Option(None, "--from", help="Lines with the attribute to remove."),
               target: Optional[Path] = typer.Option(None, "--to", help="Lines with the attribute to add."),
               apply: Optional[Path] = typer.Option(None, help="Lines to edit (default: the --from lines)."),
               scale: float = typer.Option(1.0, help="Multiple of the attribute vector added."),
               limit: int = typer.Option(20, help="Edit at most this many lines (0: all)."),
               method: str = METHOD, width: int = WIDTH, max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK,
               device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Attribute arithmetic on posterior means: an analogy, or the mean difference between two labelled sets
    (e.g. negative -> positive reviews) added to other sentences."""
    def body():
        opts = _opts(method, width, 1.0, 0, 1.0, max_len, allow_unk, 0)
        if analogy_ and len(analogy_) != 3:
            raise TextVAEError("--analogy: give exactly three sentences (the option three times: A, P, Q)")
        if not analogy_ and (source is None or target is None):
            raise TextVAEError("give --analogy A --analogy P --analogy Q, or --from FILE --to FILE")
        s = open_run(run, device)
        if analogy_:
            z, _ = s.codes(list(analogy_))
            (out,) = s.decode(analogy(z[0], z[1], z[2]).unsqueeze(0), opts)
            a, p, q = analogy_
            _emit(as_json, {"a": a, "p": p, "q": q, "b": out}, [f"{a}  +  ({q})  -  ({p})", f"=> {out}"])
            return
        z_from, _ = s.codes(read_lines(source))
        z_to, _ = s.codes(read_lines(target))
        vec = attribute_vector(z_from, z_to)
        lines = read_lines(apply or source)
        lines = lines[:limit] if limit > 0 else lines
        z, _ = s.codes(lines)
        before, after = s.decode(z, opts), s.decode(z + scale * vec, opts)
        rows = [{"input": x, "decoded": b0, "edited": b1} for x, b0, b1 in zip(lines, before, after, strict=True)]
        text = [f"attribute vector: norm {float(vec.norm()):.3f}, scale {scale}"]
        for r in rows:
            text += ["", f"input:   {r['input']}", f"decoded: {r['decoded']}", f"edited:  {r['edited']}"]
        _emit(as_json, {"vector_norm": float(vec.norm()), "scale": scale, "rows": rows}, text)
    _guard(body)


@app.command("generate-eval")
def generate_eval(run: Path = RUN, n: int = typer.Option(3000, "--n", help="Sentences sampled from the prior."),
                  refs: int = typer.Option(3000, help="Test sentences used as BLEU references (0: all)."),
                  method: str = METHOD, width: int = WIDTH, temperature: float = TEMPERATURE, top_k: int = TOP_K,
                  top_p: float = TOP_P, max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK, seed: int = SEED,
                  device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Quality and diversity of prior samples (mu-Forcing 5.4): BLEU-4/5 against test sentences, Self-BLEU-4/5,
    distinct-1/2, mean length; saved to RUN/generate_eval.json."""
    def body():
        from textvae.analysis.generation import generation_scores

        if n < 2:
            raise TextVAEError("--n: at least 2 (Self-BLEU compares samples with each other)")
        opts = _opts(method, width, temperature, top_k, top_p, max_len, allow_unk, seed)
        s = open_run(run, device)
        sample_ids = decode(s.model, s.prior(n, seed), opts, n)
        samples = [s.text(x) for x in sample_ids]
        lines = read_split(split_files(s.recipe.data.corpus)["test"])
        lines = lines[:refs] if refs > 0 else lines
        # both sides as token lists of the model's vocabulary (references: unknown words as <unk>)
        references = [s.vocab.decode(s.ids(x)) for x in lines]
        scores = generation_scores([s.vocab.decode(x) for x in sample_ids], references)
        result = {"method": method, "seed": seed, **scores, "examples": samples[:10]}
        write_json_atomic(run / "generate_eval.json", result)
        text = [f"{n} prior samples ({method}) vs {len(references)} test sentences:"]
        text += [f"  {k:<11} {scores[k]:.2f}" for k in ("bleu4", "bleu5", "self_bleu4", "self_bleu5")]
        text += [f"  {k:<11} {scores[k]:.3f}" for k in ("distinct1", "distinct2")]
        text += [f"  mean_length {scores['mean_length']:.1f} tokens", "examples:", *[f"  {x}" for x in samples[:5]]]
        _emit(as_json, result, text)
    _guard(body)


@app.command()
def nearest(run: Path = RUN, sentence: str = typer.Argument(..., help="Query sentence."),
            corpus: Optional[Path] = typer.Option(None, help="Candidate lines (default: the run's training split)."),
            k: int = typer.Option(5, help="How many best matches."),
            per_token: bool = typer.Option(False, "--per-token", help="Rank by log p per token, not per sentence."),
            device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """AUTR's best-matching sentences: argmax over a corpus of log p(x | z = mu(query))."""
    def body():
        s = open_run(run, device)
        if corpus is None:
            lines = read_split(split_files(s.recipe.data.corpus)["train"])
        else:
            lines = read_lines(corpus)
        z, _ = s.codes([sentence])
        scores, idx = best_matching(s.model, z, [s.ids(x) for x in lines], k, s.recipe.data.eval_batch_size,
                                    per_token)
        rows = [{"sentence": lines[i], "log_p": v} for v, i in zip(scores[0].tolist(), idx[0].tolist(), strict=True)]
        unit = "nats per token" if per_token else "nats"
        _emit(as_json, {"query": sentence, "unit": unit, "matches": rows},
              [f"query: {sentence}", *[f"{r['log_p']:9.2f}  {r['sentence']}" for r in rows], f"(log p in {unit})"])
    _guard(body)


@app.command()
def encode(run: Path = RUN, file: Path = typer.Argument(..., help="One sentence per line."),
           out: Path = typer.Option(..., "--out", "-o", help="X.safetensors (mu, logvar) or X.npy (mu; logvar "
                                                           "to X.logvar.npy)."),
           device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Posterior means (and log-variances) of every line, in order, for downstream use."""
    def body():
        if out.suffix not in (".npy", ".safetensors"):
            raise TextVAEError(f"--out: {out}: must end in .npy or .safetensors")
        s = open_run(run, device)
        mu, logvar = s.codes(read_lines(file))
        mu = mu.cpu().contiguous()
        logvar = None if logvar is None else logvar.cpu().contiguous()
        written = [str(out)]
        if out.suffix == ".safetensors":
            from safetensors.torch import save_file
            tensors = {"mu": mu} if logvar is None else {"mu": mu, "logvar": logvar}
            write_atomic(out, lambda tmp: save_file(tensors, tmp))
        else:
            _save_npy(out, mu)
            if logvar is not None:
                written.append(str(out.with_suffix(".logvar.npy")))
                _save_npy(Path(written[1]), logvar)
        _emit(as_json, {"sentences": mu.shape[0], "z_dim": mu.shape[1], "files": written},
              [f"{mu.shape[0]} codes of dimension {mu.shape[1]} -> {', '.join(written)}"])
    _guard(body)


def _save_npy(path: Path, t: torch.Tensor) -> None:
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, t.numpy())

    write_atomic(path, write)
