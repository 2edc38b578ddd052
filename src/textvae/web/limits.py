"""What a request may ask of the explorer: pydantic models with bounded fields (no 10,000-step beam from a URL),
and the cap on a request body's size."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from textvae.decoding import DecodeOptions
from textvae.decoding.decode import Method

MAX_BODY = 64 * 1024
"""Largest request body, bytes (413 beyond)."""
JOIN_RATE = 30
"""Joins a minute that one address may make (``textvae web --join-rate``; 0: no limit)."""


class RateLimit:
    """At most ``count`` events per ``seconds`` for each key (a client address), thread-safe; ``count`` 0: none
    refused. Keys idle for a whole window are forgotten, so that many addresses cannot grow it without bound."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count, self.seconds = count, seconds
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, now: float | None = None) -> float:
        """0 and the event counted, or the seconds until ``key`` may try again (the event not counted)."""
        if self.count <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._events) > 10_000:
                self._events = {k: q for k, q in self._events.items() if q and now - q[-1] < self.seconds}
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.seconds:
                events.popleft()
            if len(events) >= self.count:
                return self.seconds - (now - events[0])
            events.append(now)
            return 0.0

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Lines = Annotated[list[Text], Field(max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Decoding(Strict):
    """Decoding knobs shared by every explorer request."""

    method: Method = "greedy"
    width: int = Field(5, ge=1, le=20)
    temperature: float = Field(1.0, gt=0, le=10)
    top_k: int = Field(0, ge=0, le=1000)
    top_p: float = Field(1.0, gt=0, le=1)
    max_len: int = Field(0, ge=0, le=200)
    seed: int = Field(0, ge=0, le=2**31 - 1)

    def options(self) -> DecodeOptions:
        return DecodeOptions(method=self.method, width=self.width, temperature=self.temperature, top_k=self.top_k,
                             top_p=self.top_p, max_len=self.max_len, seed=self.seed)


class SampleRequest(Decoding):
    n: int = Field(5, ge=1, le=20)
    stretch: float = Field(0.0, ge=0, le=10)


class ReconstructRequest(Decoding):
    sentence: Text
    samples: int = Field(3, ge=0, le=5)


class InterpolateRequest(Decoding):
    a: Text
    b: Text
    steps: int = Field(5, ge=2, le=12)


class AttributeRequest(Decoding):
    apply: Annotated[list[Text], Field(min_length=1, max_length=20)]
    source: Lines = []
    target: Lines = []
    from_label: Annotated[str, StringConstraints(max_length=40)] | None = None
    to_label: Annotated[str, StringConstraints(max_length=40)] | None = None
    scale: float = Field(1.0, ge=-5, le=5)


class ImputeRequest(Strict):
    sentence: Text
    blank: Annotated[str, StringConstraints(min_length=1, max_length=10)] = "___"


class CanvasRequest(Strict):
    sentence: Text | None = None
    seed: int = Field(0, ge=0, le=2**31 - 1)
    width: int = Field(5, ge=1, le=20)


class StudyRequest(Strict):
    """A study to create: kind, name, systems {name: sentences}, inputs (reconstruction), group_size, questions."""

    kind: Literal["groups", "reconstruction", "sense"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    systems: Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=60)],
                            Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=1000)]],
                                      Field(min_length=1, max_length=5000)]], Field(min_length=1, max_length=10)]
    inputs: list[Annotated[str, StringConstraints(min_length=1, max_length=1000)]] | None = None
    group_size: int = Field(5, ge=1, le=20)
    questions: int = Field(50, ge=1, le=1000)
    max_raters: int = Field(500, ge=0, le=100_000)
    """Raters the study takes at most (0: no cap)."""


class AnswerRequest(Strict):
    pos: int = Field(ge=0, le=100_000)  # textvae.study.store.MAX_POS
    choice: Literal["left", "right", "tie", "yes", "no"]
