"""The Typer app every command registers on, the one error style they share, and the options they have in
common. Command modules import from here; nothing here imports a command module (no import circle)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from textvae.atomic import to_json
from textvae.errors import BadValue, TextVAEError, listed

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Variational autoencoders of sentences.")


def _flags_without_a_type() -> None:
    """Typer 0.2x's rich help prints a type beside plain flags (``--json <bool>``, even ``--help <bool>``), which
    reads as if they took a value: show none for flags, as click's own help does."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_textvae", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._textvae = True
    TyperOption.display_type_rich = display_type_rich


_flags_without_a_type()


def _version(show: bool) -> None:
    if show:
        from textvae import __version__

        typer.echo(f"textvae {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Variational autoencoders of sentences: train, evaluate, sample, reconstruct, interpolate."""


def fail(message: str) -> None:
    """Print ``error: message`` (one line) to stderr and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


OPTIONS = {"overrides": "--set", "a/b": "A B (or --prior)", "figures": "--plot"}
"""Library parameters whose command-line option is not ``--`` and the parameter's name (BadValue.for_option)."""


def command(name: str | None = None, on: typer.Typer | None = None) -> Callable:
    """Register a command on the app (or the sub-app ``on``) with the one error style of the CLI: a TextVAEError
    from the body (bad input: a file, an option, a recipe value) becomes ``error: <message>`` on stderr and exit
    status 2, with no traceback; a BadValue names the option that carried the value. Any other exception is a bug
    and keeps its traceback."""
    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BadValue as exc:
                fail(exc.for_option(OPTIONS))
            except TextVAEError as exc:
                fail(str(exc))

        return (on or app).command(name)(guarded)

    return register


def emit(as_json: bool, obj: Any, lines: list[str]) -> None:
    """Print ``obj`` as (strict) JSON with ``--json``, else the plain-text ``lines``."""
    typer.echo(to_json(obj, indent=2, ensure_ascii=False) if as_json else "\n".join(lines))


def reading_note(reading: dict) -> list[str]:
    """A line saying which words of user text the vocabulary lacks (none when it has them all)."""
    if not reading or not reading["unknown"]:
        return []
    more = ", ..." if reading["unknown"] > len(reading["unknown_words"]) else ""
    words = ", ".join(reading["unknown_words"]) + more
    return [f"({reading['unknown']} of {reading['words']} words not in the vocabulary, read as <unk>: {words})"]


def at_least(minimum: int, **options: int) -> None:
    """A TextVAEError naming the first option below ``minimum``: ``at_least(1, k=k)`` checks --k."""
    for name, value in options.items():
        if value < minimum:
            raise TextVAEError(f"--{name.replace('_', '-')}: must be >= {minimum}, got {value}")


RUN = typer.Argument(..., help="Run folder (its best weights are used).")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")
DEVICE = typer.Option(None, help="auto, cpu, cuda, cuda:N (default: the recipe's).")
METHOD = typer.Option("greedy", help="greedy, beam or sample (textvae.decoding.METHODS).")
WIDTH = typer.Option(15, help="Beam width.")
TEMPERATURE = typer.Option(1.0, help="Sampling temperature.")
TOP_K = typer.Option(0, help="Sample from the k most probable words only (0: all).")
TOP_P = typer.Option(1.0, help="Sample from the smallest set of words with this much probability (1: all).")
LENGTH_PENALTY = typer.Option(0.0, help="Beam: rank finished sentences by log p / length**a (0: by log p).")
MAX_LEN = typer.Option(0, help="Longest decode, in tokens (0: the model's fixed length, else 50 tokens, 200 for "
                       "character runs).")
ALLOW_UNK = typer.Option(False, "--allow-unk", help="Let decodes contain <unk>.")
SEED = typer.Option(0, help="Random seed (prior codes, posterior samples, sampling).")
SPLIT = typer.Option("test", help="train, valid or test.")


def decode_options(method: str = "greedy", width: int = 15, temperature: float = 1.0, top_k: int = 0,
                   top_p: float = 1.0, max_len: int = 0, allow_unk: bool = False, seed: int = 0,
                   length_penalty: float = 0.0):
    """DecodeOptions from the decoding options of a command, each range-checked with a one-line error."""
    from textvae.decoding import DecodeOptions
    from textvae.decoding.decode import METHODS

    if method not in METHODS:
        raise TextVAEError(f"--method: must be {listed(METHODS)}, got '{method}'")
    for name, ok in (("--width", width >= 1), ("--temperature", temperature > 0), ("--top-k", top_k >= 0),
                     ("--top-p", 0 < top_p <= 1), ("--max-len", max_len >= 0)):
        if not ok:
            raise TextVAEError(f"{name}: out of range")
    return DecodeOptions(method=method, max_len=max_len, ban_unk=not allow_unk, width=width,
                         length_penalty=length_penalty, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
