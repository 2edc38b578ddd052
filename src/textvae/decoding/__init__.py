"""Decoding from any model of the library: greedy, sampling and beam search over one step API
(``decoder.init_state``, ``decoder.step``, ``decoder.reorder_state``)."""

from textvae.decoding.beam import Hypotheses, beam_search
from textvae.decoding.decode import DecodeOptions, decode
from textvae.decoding.greedy import greedy_decode
from textvae.decoding.sampling import sample_decode, truncate_logits

__all__ = ["DecodeOptions", "Hypotheses", "beam_search", "decode", "greedy_decode", "sample_decode",
           "truncate_logits"]
