"""``textvae web``: a latent-space explorer of trained runs and a blind human-evaluation site in one FastAPI app
(install the ``web`` extra). :func:`create_app` builds it; the CLI serves it with uvicorn::

    from textvae.web import create_app
    app = create_app("runs", "eval.sqlite")
"""

from __future__ import annotations


def create_app(runs: str, db: str, device: str = "cpu", cache: int = 4, join_rate: int = 30,
               model_process: bool = False, threads: int = 0):
    """The FastAPI app (see :mod:`textvae.web.app`)."""
    from textvae.web.app import create_app as build

    return build(runs, db, device, cache, join_rate, model_process, threads)


__all__ = ["create_app"]
