"""`textvae impute | impute-eval | adversarial`: imputing missing words and the adversarial evaluation
(Bowman et al. 2016, section 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from textvae import session as sessions
from textvae.atomic import write_json_atomic, write_text_atomic
from textvae.cli.app import AS_JSON, DEVICE, RUN, SEED, SPLIT, at_least, command, emit, reading_note
from textvae.data.corpus import read_lines
from textvae.errors import TextVAEError
from textvae.imputation import MASKS, default_method, make_imputer

METHOD = typer.Option(None, help="icm (iterated conditional modes: the VAE's default), beam (the RNNLM's) or em "
                                  "(AUTR's EM-like imputation; the default for AUTR runs).")
ITERATIONS = typer.Option(None, help="ICM rounds (default 3; beam: 1); em: the most rounds a restart takes "
                                     "(default 10).")
WIDTH = typer.Option(None, help="Beam width (default: 5 for icm, 15 for beam and em).")
RESTARTS = typer.Option(None, help="em: random initialisations, the best bound kept (default 50, as AUTR).")
MASK = typer.Option("final20", help=f"Which words to hide: {', '.join(MASKS)} (the final 20%: Bowman; a random "
                                    f"30%: AUTR).")
LIMIT = typer.Option(0, help="Use the first N sentences of the split (0: all).")


def _imputer(s, method: str | None, iterations: int | None, width: int | None, restarts: int | None = None):
    """The papers' imputer for the run's model, or the one asked for."""
    if method is None and iterations is None and width is None and restarts is None:
        return None
    method = method or default_method(s.model)
    opts = {"width": width} if width is not None else {}
    if method == "icm":
        opts["iterations"] = iterations if iterations is not None else 3
    elif method == "em" and iterations is not None:
        opts["iterations"] = iterations
    elif iterations is not None:
        raise TextVAEError("--iterations: only for --method icm or em")
    if restarts is not None:
        if method != "em":
            raise TextVAEError("--restarts: only for --method em")
        opts["restarts"] = restarts
    for name, value in opts.items():
        at_least(1, **{name: value})
    return make_imputer(method, **opts)


@command()
def impute(run: Path = RUN,
           sentences: Optional[list[str]] = typer.Argument(None, help="Sentences with ___ where words are missing."),
           input_: Optional[Path] = typer.Option(None, "--input", help="A file of such sentences, one per line."),
           blank: str = typer.Option("___", help="The marker of a missing word (each one is one word)."),
           split: Optional[str] = typer.Option(None, help="Impute a split instead, hiding words by --mask."),
           mask: str = MASK, limit: int = LIMIT, method: Optional[str] = METHOD, iterations: Optional[int] = ITERATIONS,
           width: Optional[int] = WIDTH, restarts: Optional[int] = RESTARTS, seed: int = SEED,
           out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the result here (JSON)."),
           show: int = typer.Option(10, help="Rows printed in plain text."),
           device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Fill missing words: of typed sentences ("i went to the ___ ."), of a file, or of a split with hidden words."""
    at_least(0, limit=limit, show=show)
    if sum(x is not None and x != [] for x in (sentences, input_, split)) != 1:
        raise TextVAEError("give sentences, --input FILE or --split SPLIT (one of them)")
    s = sessions.open_run(run, device)
    imputer = _imputer(s, method, iterations, width, restarts)
    if split is not None:
        r = sessions.impute_split(s, split, mask, limit, seed, imputer)
        for row in r["rows"]:
            del row["_true"], row["_output"]
        text = [f"{r['sentences']} sentences of {split}, {r['mask']} hidden, {r['method']}: {r['recovered']} of "
                f"{r['missing_words']} missing words recovered ({100 * r['accuracy']:.1f}%)"]
        for row in r["rows"][:show]:
            text += ["", f"blanked: {row['blanked']}", f"true:    {row['true']}", f"imputed: {row['output']}"]
    else:
        lines = read_lines(input_) if input_ is not None else sentences
        r = sessions.impute(s, lines, imputer, blank)
        text = [f"# {r['method']}", *reading_note(r["reading"])]
        text += [row["output"] for row in r["sentences"]]
    if out is not None:
        write_json_atomic(out, r)
    emit(as_json, r, text)


@command("impute-eval")
def impute_eval(run: Path = RUN, split: str = SPLIT, mask: str = MASK, limit: int = LIMIT,
                method: Optional[str] = METHOD, iterations: Optional[int] = ITERATIONS,
                width: Optional[int] = WIDTH, restarts: Optional[int] = RESTARTS, seed: int = SEED,
                device: Optional[str] = DEVICE,
                as_json: bool = AS_JSON) -> None:
    """The fraction of hidden words an imputer recovers exactly, on a split."""
    at_least(0, limit=limit)
    s = sessions.open_run(run, device)
    r = sessions.impute_split(s, split, mask, limit, seed, _imputer(s, method, iterations, width, restarts))
    r = {k: v for k, v in r.items() if k != "rows"}
    emit(as_json, r, [f"{r['split']}, {r['sentences']} sentences, {r['mask']} hidden, {r['method']}: "
                      f"{r['recovered']} of {r['missing_words']} missing words recovered exactly "
                      f"({100 * r['accuracy']:.1f}%)"])


@command()
def adversarial(run: Path = RUN, lm: Optional[Path] = typer.Option(None, help="An independently trained RNNLM run: "
                                                                              "the NLL it gives the completions."),
                split: str = SPLIT, mask: str = MASK, limit: int = LIMIT, method: Optional[str] = METHOD,
                iterations: Optional[int] = ITERATIONS, width: Optional[int] = WIDTH,
                restarts: Optional[int] = RESTARTS, seed: int = SEED,
                out: Optional[Path] = typer.Option(None, "--out", "-o", help="A folder: write the result "
                                                                             "(adversarial.json) and every imputed "
                                                                             "sentence (imputations.txt, one a line)."),
                device: Optional[str] = DEVICE, as_json: bool = AS_JSON) -> None:
    """Bowman et al.'s adversarial evaluation: how well two discriminators tell true sentences from ones whose
    final words this run imputed (adversarial error = accuracy - 50%, lower is better)."""
    at_least(0, limit=limit)
    s = sessions.open_run(run, device)
    r = sessions.adversarial(s, split, mask, limit, seed, _imputer(s, method, iterations, width, restarts),
                             sessions.open_run(lm, device) if lm is not None else None)
    if out is not None:
        write_json_atomic(out / "adversarial.json", r)
        write_text_atomic(out / "imputations.txt", "".join(x + "\n" for x in r["imputations"]))
    text = [f"{r['sentences']} sentences of {r['split']} ({r['sizes']['train']}/{r['sizes']['dev']}/"
            f"{r['sizes']['test']} train/dev/test), half with their {r['mask']} imputed by {r['method']} "
            f"({100 * r['accuracy']:.1f}% of the hidden words recovered):"]
    for name in ("unigram", "lstm"):
        d = r[name]
        text.append(f"  {name:<8} adversarial error {d['adversarial_error']:5.2f} points (test accuracy "
                    f"{100 * d['test_accuracy']:.1f}%, dev {100 * d['dev_accuracy']:.1f}%)")
    if "lm_nll" in r:
        text.append(f"  NLL under {r['lm_nll']['lm']}: {r['lm_nll']['imputed']:.2f} nats per completed sentence "
                    f"(true sentences: {r['lm_nll']['true']:.2f})")
    emit(as_json, r, text)

