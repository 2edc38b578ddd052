"""`textvae web`: serve the explorer of the runs in a folder and the human-evaluation studies of a database
(FastAPI + uvicorn; install the ``web`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from textvae.cli.app import command
from textvae.errors import TextVAEError


def web_modules() -> None:
    """A one-line error naming the extra when the web libraries are missing."""
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise TextVAEError(f"textvae web needs the web extra: pip install 'textvae[web]' ({exc.name} is missing)") \
            from None


@command()
def web(runs: Path = typer.Option(Path("runs"), help="Folder of trained runs the explorer serves."),
        db: Path = typer.Option(Path("eval.sqlite"), help="SQLite file of the studies (created if absent)."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
        port: int = typer.Option(8000, help="Port to listen on."),
        device: Optional[str] = typer.Option("cpu", help="cpu, auto, cuda or cuda:N: where the runs decode."),
        cache: int = typer.Option(4, help="Runs kept open at once."),
        threads: int = typer.Option(0, help="CPU threads one decode may use (0: half the cores, so that decoding "
                                            "never starves the answering of raters)."),
        join_rate: int = typer.Option(30, help="Joins of studies one address may make a minute (0: no limit; "
                                               "each study also caps its raters: study create --max-raters)."),
        model_process: bool = typer.Option(True, "--model-process/--model-thread",
                                           help="Decode in a process of its own (the default: raters' requests "
                                                "never hold it up) or in a thread of the server's."),
        ) -> None:
    """Serve the latent-space explorer (/) and the blind human-evaluation studies (/s/ID for raters, /studies for
    the organiser, who needs the token printed at start)."""
    web_modules()
    if not 0 < port < 65536:
        raise TextVAEError(f"--port: must be 1-65535, got {port}")
    if threads < 0:
        raise TextVAEError(f"--threads: must be >= 0, got {threads}")
    if cache < 1:
        raise TextVAEError(f"--cache: must be >= 1, got {cache}")
    if join_rate < 0:
        raise TextVAEError(f"--join-rate: must be >= 0 (0: no limit), got {join_rate}")
    import os

    import torch
    import uvicorn

    decode_threads = threads if threads > 0 else max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(decode_threads)

    from textvae.pipeline import resolve_device
    from textvae.web import create_app

    app = create_app(runs, db, resolve_device(device or "cpu"), cache, join_rate, model_process=model_process,
                     threads=decode_threads)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"textvae web on http://{shown}:{port}/  runs: {runs}  studies: {db}", err=True)
    typer.echo(f"organiser page: http://{shown}:{port}/studies?token={app.state.store.organiser_token}", err=True)

    import gc

    gc.freeze()  # torch, the app and its templates stay put: collections scan only what requests make (12% of a
    # loaded server's time went to scanning them)
    uvicorn.run(app, host=host, port=port, log_level="warning")  # uvloop and httptools where installed ([web])
