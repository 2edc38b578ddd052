"""Shared by the web tests: two tiny trained runs (an LSTM VAE and an AUTR) and a real uvicorn server in a thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import merge, tiny_recipe, write_corpus, write_recipe
from typer.testing import CliRunner


def train_runs(folder: Path) -> Path:
    """``folder/runs`` holding ``vae`` (an LSTM VAE) and ``autr`` (an AUTR canvas), each one epoch on a tiny
    corpus."""
    from textvae.cli import app

    runner = CliRunner()
    corpus = write_corpus(folder / "corpus", n_train=40)
    raw = merge(tiny_recipe(corpus), {"train": {"epochs": 1}, "eval": {"iw_samples": 0}})
    autr = merge(raw, {"model": {"decoder": {"kind": "autr", "length": 8, "embed_dim": 8, "hidden_dim": 8,
                                             "steps": 5}}})
    for name, recipe in (("vae", raw), ("autr", autr)):
        result = runner.invoke(app, ["train", str(write_recipe(folder / f"{name}.yaml", recipe)), "--out",
                                     str(folder / "runs" / name)])
        assert result.exit_code == 0, result.output
    return folder / "runs"


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 from a thread; yields the base URL; stops on exit."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        thread.join(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
