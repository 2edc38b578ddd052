"""The `textvae` command line: one Typer app (``textvae.cli.app``) on which each command module registers its
commands when imported here. ``python -m textvae.cli``, ``python -m textvae``, the ``textvae`` script and
``torchrun ... -m textvae.cli`` all run :func:`main`."""

from __future__ import annotations

import importlib
import sys

import typer

from textvae.cli.app import app

# each registers its commands on the app, in the order --help lists them
for _module in ("train", "latent", "impute", "corpus", "study", "web", "reproduce"):
    importlib.import_module(f"textvae.cli.{_module}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted; resume with `textvae train --resume RUN`", err=True)
        sys.exit(130)


__all__ = ["app", "main"]
