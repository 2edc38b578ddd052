"""`textvae sample | reconstruct | interpolate | arithmetic | nearest | encode | generate-eval | canvas`: the
latent space of a trained run. Each command calls one session function (``textvae.session``) and prints its
result as plain text, or as JSON with --json."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from textvae import session as sessions
from textvae.atomic import write_json_atomic
from textvae.cli.app import (
    ALLOW_UNK,
    AS_JSON,
    DEVICE,
    LENGTH_PENALTY,
    MAX_LEN,
    METHOD,
    RUN,
    SEED,
    SPLIT,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    WIDTH,
    at_least,
    command,
    decode_options,
    emit,
    reading_note,
)
from textvae.data.corpus import read_lines
from textvae.errors import TextVAEError


@command()
def sample(run: Path = RUN, n: int = typer.Option(10, "--n", help="Number of sentences."),
           stretch: float = typer.Option(0.0, help="c > 0: map z through I + U[-c, c] (Bowman 6.1 uses 0.1)."),
           method: str = METHOD, width: int = WIDTH, length_penalty: float = LENGTH_PENALTY,
           temperature: float = TEMPERATURE, top_k: int = TOP_K, top_p: float = TOP_P, max_len: int = MAX_LEN,
           allow_unk: bool = ALLOW_UNK, seed: int = SEED, device: Optional[str] = DEVICE,
           as_json: bool = AS_JSON) -> None:
    """Sentences decoded from z ~ N(0, I) (from the RNNLM: unconditional)."""
    opts = decode_options(method, width, temperature, top_k, top_p, max_len, allow_unk, seed, length_penalty)
    r = sessions.sample(sessions.open_run(run, device), n, opts, seed, stretch)
    head = "" if r["prior"] else " (an autoencoder has no prior)"
    emit(as_json, r, [f"# {n} samples, {method} decoding{head}", *r["sentences"]])


@command()
def reconstruct(run: Path = RUN,
                sentences: Optional[list[str]] = typer.Argument(None, help="Sentences to reconstruct (text as you "
                                                                "type it; default: the --split)."),
                split: str = SPLIT,
                file: Optional[Path] = typer.Option(None, help="Reconstruct the lines of this file instead."),
                limit: int = typer.Option(0, help="Use the first N sentences only (0: all)."),
                samples: int = typer.Option(3, help="Also decode from S samples of q(z|x) (Bowman Table 7)."),
                show: int = typer.Option(5, help="Examples printed in plain text."),
                method: str = METHOD, width: int = WIDTH, length_penalty: float = LENGTH_PENALTY,
                max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK, seed: int = SEED,
                device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Decode sentences from their posterior mean and from posterior samples; BLEU and exact-match rate (on a
    whole split: the reconstruction BLEU the end of `textvae train` prints)."""
    at_least(0, limit=limit, samples=samples, show=show)
    if sentences and file is not None:
        raise TextVAEError("give SENTENCES or --file, not both")
    opts = decode_options(method, width, max_len=max_len, allow_unk=allow_unk, seed=seed,
                          length_penalty=length_penalty)
    s = sessions.open_run(run, device)
    lines = list(sentences) if sentences else read_lines(file) if file is not None else s.split_lines(split)
    typed = bool(sentences) or file is not None
    r = sessions.reconstruct(s, lines[:limit] if limit > 0 else lines, opts, samples, seed, corpus=not typed)
    text = [f"{r['sentences']} sentences, {method} decoding: from the posterior mean BLEU "
            f"{r['mean']['bleu']:.2f}, exact {100 * r['mean']['exact']:.1f}%", *reading_note(r["reading"])]
    if "samples" in r:
        text.append(f"from {samples} posterior samples each: BLEU {r['samples']['bleu']:.2f}, "
                    f"exact {100 * r['samples']['exact']:.1f}%")
    for ex in r["examples"][:show]:
        text += ["", f"input:  {ex['read_as']}", f"mean:   {ex['mean']}", *[f"sample: {x}" for x in ex["samples"]]]
    emit(as_json, r, text)


@command()
def interpolate(run: Path = RUN, a: Optional[str] = typer.Argument(None, help="First sentence."),
                b: Optional[str] = typer.Argument(None, help="Second sentence."),
                steps: int = typer.Option(5, help="Points on the line, endpoints included."),
                prior: bool = typer.Option(False, "--prior", help="Between two codes drawn from N(0, I)."),
                method: str = METHOD, width: int = WIDTH, max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK,
                seed: int = SEED, device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Homotopy: decode evenly spaced codes on the line between two sentences' posterior means (or two prior
    samples)."""
    opts = decode_options(method, width, max_len=max_len, allow_unk=allow_unk, seed=seed)
    r = sessions.interpolate(sessions.open_run(run, device), a, b, steps, opts, prior, seed)
    emit(as_json, r, [*reading_note(r["reading"]), *[f"{x['t']:.2f}  {x['sentence']}" for x in r["steps"]]])


@command()
def arithmetic(run: Path = RUN,
               analogy_: Optional[list[str]] = typer.Option(None, "--analogy", help="Three sentences A P Q: "
                                                             "decode z_A + z_Q - z_P. Give the option 3 times."),
               source: Optional[Path] = typer.Option(None, "--from", help="Lines with the attribute to remove."),
               target: Optional[Path] = typer.Option(None, "--to", help="Lines with the attribute to add."),
               apply: Optional[Path] = typer.Option(None, help="Lines to edit (default: the --from lines)."),
               from_label: Optional[str] = typer.Option(None, "--from-label", help="Instead of --from: the lines "
                                                        "of --split with this label (labelled corpora)."),
               to_label: Optional[str] = typer.Option(None, "--to-label", help="Instead of --to: the lines of "
                                                      "--split with this label."),
               split: str = typer.Option("test", help="The split --from-label and --to-label read (all its lines "
                                         "with each label; the web explorer's default: the first 2,000 of train)."),
               scale: float = typer.Option(1.0, help="Multiple of the attribute vector added."),
               limit: int = typer.Option(20, help="Edit at most this many lines (0: all)."),
               method: str = METHOD, width: int = WIDTH, max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK,
               device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Attribute arithmetic on posterior means: an analogy, or the mean difference between two labelled sets
    (e.g. negative -> positive reviews) added to other sentences."""
    at_least(0, limit=limit)
    opts = decode_options(method, width, max_len=max_len, allow_unk=allow_unk)
    if analogy_ and len(analogy_) != 3:
        raise TextVAEError("--analogy: give exactly three sentences (the option three times: A, P, Q)")
    if (source is not None and from_label is not None) or (target is not None and to_label is not None):
        raise TextVAEError("give --from or --from-label, --to or --to-label, not both")
    if not analogy_ and (source is None and from_label is None or target is None and to_label is None):
        raise TextVAEError("give --analogy A --analogy P --analogy Q, --from FILE --to FILE, or --from-label A "
                           "--to-label B")
    s = sessions.open_run(run, device)
    if analogy_:
        r = sessions.analogy(s, *analogy_, opts=opts)
        a, p, q = r["read_as"]
        emit(as_json, r, [f"{a}  +  ({q})  -  ({p})", f"=> {r['b']}", *reading_note(r["reading"])])
        return
    if (from_label is not None or to_label is not None) and apply is not None:
        raise TextVAEError("--from-label and --to-label edit the --from-label lines (no --apply)")
    r = sessions.attribute_transfer(s, read_lines(source) if source else [], read_lines(target) if target else [],
                                    read_lines(apply) if apply else [], scale, opts, from_label, to_label, split,
                                    per_label=0, limit=limit)
    text = [f"attribute vector: norm {r['vector_norm']:.3f}, scale {scale}", *reading_note(r["reading"])]
    for row in r["rows"]:
        text += ["", f"input:   {row['read_as']}", f"decoded: {row['decoded']}", f"edited:  {row['edited']}"]
    emit(as_json, r, text)


@command("generate-eval")
def generate_eval(run: Path = RUN, n: int = typer.Option(3000, "--n", help="Sentences sampled from the prior."),
                  refs: int = typer.Option(3000, help="Test sentences used as BLEU references (0: all)."),
                  method: str = METHOD, width: int = WIDTH, temperature: float = TEMPERATURE, top_k: int = TOP_K,
                  top_p: float = TOP_P, max_len: int = MAX_LEN, allow_unk: bool = ALLOW_UNK, seed: int = SEED,
                  device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Quality and diversity of prior samples (mu-Forcing 5.4): BLEU-4/5 against test sentences, Self-BLEU-4/5,
    distinct-1/2, mean length; saved to RUN/generate_eval.json."""
    at_least(0, refs=refs)
    opts = decode_options(method, width, temperature, top_k, top_p, max_len, allow_unk, seed)
    r = sessions.generate_eval(sessions.open_run(run, device), n, refs, opts, seed)
    write_json_atomic(run / "generate_eval.json", r)
    text = [f"{n} prior samples ({method}) vs {r['references']} test sentences:"]
    text += [f"  {k:<11} {r[k]:.2f}" for k in ("bleu4", "bleu5", "self_bleu4", "self_bleu5")]
    text += [f"  {k:<11} {r[k]:.3f}" for k in ("distinct1", "distinct2")]
    text += [f"  mean_length {r['mean_length']:.1f} tokens", "examples:", *[f"  {x}" for x in r["examples"][:5]]]
    emit(as_json, r, text)


@command()
def nearest(run: Path = RUN, sentence: str = typer.Argument(..., help="Query sentence."),
            corpus: Optional[Path] = typer.Option(None, help="Candidate lines (default: the run's training split)."),
            pool: int = typer.Option(10000, help="Score the first N candidates (0: all); the training split has "
                                                 "42k sentences for PTB."),
            k: int = typer.Option(5, help="How many best matches."),
            per_sentence: bool = typer.Option(False, "--per-sentence",
                                              help="Rank by log p per sentence (favours short sentences), not per "
                                                   "token."),
            device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """AUTR's best-matching sentences: the candidates of highest log p(x | z = mu(query)), per token by default."""
    at_least(1, k=k)
    at_least(0, pool=pool)
    s = sessions.open_run(run, device)
    lines = s.split_lines("train") if corpus is None else read_lines(corpus)
    lines = lines[:pool] if pool > 0 else lines
    r = sessions.nearest(s, sentence, lines, k, per_token=not per_sentence, corpus=corpus is None)
    emit(as_json, r, [f"query: {r['read_as']}", *reading_note(r["reading"]),
                      *[f"{m['log_p']:9.3f}  {m['sentence']}" for m in r["matches"]],
                      f"({r['unit']}; best of {r['candidates']:,} candidates"
                      + (f", {r['too_long']:,} left out: longer than the model's fixed length)" if r["too_long"]
                         else ")")])


@command()
def encode(run: Path = RUN, file: Path = typer.Argument(..., help="One sentence per line."),
           out: Path = typer.Option(..., "--out", "-o", help="X.safetensors (mu, logvar) or X.npy (mu; logvar "
                                                           "to X.logvar.npy)."),
           device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Posterior means (and log-variances) of every line, in order, for downstream use."""
    sessions.check_codes_path(out)  # before the work
    mu, logvar, reading = sessions.encode(sessions.open_run(run, device), read_lines(file))
    written = sessions.save_codes(out, mu, logvar)
    emit(as_json, {"sentences": mu.shape[0], "z_dim": mu.shape[1], "files": written, "reading": reading},
         [f"{mu.shape[0]} codes of dimension {mu.shape[1]} -> {', '.join(written)}", *reading_note(reading)])


@command()
def canvas(run: Path = RUN, sentence: Optional[str] = typer.Argument(None, help="Write the canvas of this "
                                                                      "sentence's posterior mean (default: a "
                                                                      "prior sample)."),
           out: Path = typer.Option(Path("canvas.png"), help="The picture (PNG)."),
           at: Optional[list[int]] = typer.Option(None, "--at", help="Steps whose canvas is read (repeat the "
                                                  "option; default: every quarter of T)."),
           width: int = WIDTH, seed: int = SEED, device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """AUTR's canvas as it is written (Fig. 2 and 3): the sentence a beam reads off it after chosen steps, and a
    heat map of every slot's cumulative attention, saved to --out."""
    from textvae.plots import plot_canvas

    if out.suffix.lower() != ".png":
        raise TextVAEError(f"--out {out}: must end in .png")
    r = sessions.canvas(sessions.open_run(run, device), sentence, seed, at, width)
    plot_canvas(r, out)
    note = ["note: the canvas reads as the empty sentence at every step shown: this model has not learned to write "
            "yet (AUTR needs thousands of steps; `textvae train autr/yelp_quick` writes a readable canvas in "
            "minutes on a CPU)"] if r["empty"] else []
    emit(as_json, {**r, "picture": str(out)}, [*reading_note(r["reading"]),
                                               *[f"t = {x['step']:>3}  {x['sentence'] or '(empty)'}"
                                                 for x in r["reads"]], *note, f"picture: {out}"])
