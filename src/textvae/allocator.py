"""CPU memory allocator setting for training and evaluation loops.

A training step allocates and frees the same large tensors every time (logits, their gradients, the dense
embedding gradients: 10-30 MB each for the PTB VAE). glibc serves blocks that large with mmap and unmaps
them on free, so every step page-faults them in again: about 2 s of kernel time per 60 steps and 10% of
the throughput on a 2-core machine (``benchmarks/speed.md``). Raising glibc's mmap and trim thresholds
keeps freed blocks in the heap for reuse; this is what jemalloc/tcmalloc give PyTorch on CPU, without
preloading a library.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's upper limit on 64-bit systems
_done = False


def keep_freed_memory() -> bool:
    """Make glibc reuse freed blocks of up to 32 MB instead of returning them to the OS. Idempotent; a no-op
    (returning False) where the C library is not glibc."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = all(mallopt(option, value) for option, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX),  # blocks up to 32 MB come from the heap ...
        (_M_TRIM_THRESHOLD, 2**31 - 1),  # ... which is not given back to the OS when they are freed ...
        (_M_TOP_PAD, 256 * 1024 * 1024),  # ... and grows in 256 MB steps (this cuts the page faults 5x)
    ))
    return _done
