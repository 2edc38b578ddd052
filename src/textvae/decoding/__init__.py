"""Decoding from any model of the library (greedy here; beam search and sampling build on the same step API)."""

from textvae.decoding.greedy import greedy_decode

__all__ = ["greedy_decode"]
