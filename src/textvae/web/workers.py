"""Where the web app's work runs, so that raters never wait behind a decode: model work (opening runs, decoding)
in one bounded worker whose queue refuses with 503 when full, database reads in a small pool of their own, and
answers and joins through the store's one writer with group commit (:class:`textvae.study.store.AnswerWriter`).
Routes are ``async``: the event loop only parses, validates and renders.

The model worker is a thread of the server's process, or (``textvae web``'s default) a process of its own: a
decode is hundreds of small Python steps, and in the server's process each of them waits for the interpreter lock
behind the requests of every rater (decodes of 33 ms took 1.2 s at their 99th percentile under 200 raters)."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

MODEL_QUEUE = 8
"""Model requests that may wait for the model worker at once (beyond them: 503, try again)."""


class Busy(Exception):
    """The model worker has :data:`MODEL_QUEUE` requests waiting already."""


class Workers:
    """``model``: one worker for every model call (a decode uses the torch threads it was given; two at once would
    only share them), a thread or, with ``process``, a process of its own that opens the runs of ``explorer``'s
    folder itself (``threads``: its torch threads, 0: torch's default); at most ``model_queue`` calls wait for it.
    ``io``: ``io_threads`` threads for the database and the run folder."""

    def __init__(self, explorer, model_queue: int = MODEL_QUEUE, io_threads: int = 4, process: bool = False,
                 threads: int = 0) -> None:
        self.explorer, self.process, self.threads = explorer, process, threads
        self.model = self._model_pool()
        self.io = ThreadPoolExecutor(io_threads, thread_name_prefix="textvae-io")
        self.model_queue = model_queue
        self._waiting = 0
        self._lock = threading.Lock()

    def _model_pool(self):
        if not self.process:
            return ThreadPoolExecutor(1, thread_name_prefix="textvae-model")
        e = self.explorer
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                                   initargs=(str(e.root), e.device, e.size, self.threads))

    async def call(self, action: str, name: str, req) -> dict:
        """The explorer request ``action`` on run ``name`` (:meth:`textvae.web.explorer.Explorer.call`) on the
        model worker; Busy when ``model_queue`` calls are already waiting or running."""
        fn = partial(_call, action, name, req) if self.process else partial(self.explorer.call, action, name, req)
        try:
            return await self.run_model(fn)
        except BrokenProcessPool:  # the worker died (killed, out of memory): a fresh one for the next request
            self.model = self._model_pool()
            raise Busy from None

    async def run_model(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the model worker; Busy when ``model_queue`` calls are already waiting or running."""
        with self._lock:
            if self._waiting >= self.model_queue:
                raise Busy
            self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.model, fn, *args)
        finally:
            with self._lock:
                self._waiting -= 1

    async def run_io(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the io pool."""
        return await asyncio.get_running_loop().run_in_executor(self.io, fn, *args)

    def close(self) -> None:
        self.model.shutdown(wait=True, cancel_futures=True)
        self.io.shutdown(wait=True)


_WORKER_EXPLORER = None
"""The model process's own Explorer (set by :func:`_start_worker`)."""


def _start_worker(root: str, device: str, cache: int, threads: int) -> None:
    global _WORKER_EXPLORER
    import torch

    from textvae.web.explorer import Explorer

    if threads > 0:
        torch.set_num_threads(threads)
    _WORKER_EXPLORER = Explorer(root, device, cache)


def _call(action: str, name: str, req) -> dict:
    return _WORKER_EXPLORER.call(action, name, req)
