"""The one place that knows about ranks: multi-process training under ``torchrun`` with PyTorch DDP.

``torchrun --nproc_per_node=N -m textvae.cli train RECIPE`` sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous;
:func:`setup` joins the process group (NCCL when the run's device is CUDA, else gloo) and gives each rank its
device (``cuda:LOCAL_RANK`` on GPUs). Everything else asks this module: :data:`ctx` says who we are, only the main
rank writes (run folder, log, checkpoints, weights), and the helpers below reduce, gather and broadcast. A single
process (no WORLD_SIZE, or 1) is world 1, rank 0, and every helper is a no-op."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from textvae.errors import TextVAEError


@dataclass
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def main(self) -> bool:
        """Whether this rank writes (the run folder, logs, checkpoints)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


ctx = Context()
"""This process's place: rank 0 of 1 until :func:`setup` joins a group."""


def env_world() -> int:
    """WORLD_SIZE as torchrun sets it (1 without torchrun); a malformed value is a TextVAEError."""
    raw = os.environ.get("WORLD_SIZE", "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise TextVAEError(f"WORLD_SIZE={raw!r}: must be a positive integer (torchrun sets it)")
    return int(raw)


def setup(device: str) -> str:
    """Join the process group when launched with WORLD_SIZE > 1 (torchrun); returns this rank's device: ``device``
    itself, or ``cuda:LOCAL_RANK`` for a CUDA device."""
    world = env_world()
    if world == 1:
        return device
    import torch.distributed as dist

    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
    if missing:
        raise TextVAEError(f"WORLD_SIZE={world} but {', '.join(missing)} not set: launch several processes with "
                           f"torchrun --nproc_per_node=N -m textvae.cli train ...")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda")
    if cuda:
        if local >= torch.cuda.device_count():
            raise TextVAEError(f"LOCAL_RANK={local}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                               f"use --nproc_per_node <= that")
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world)
    ctx.rank, ctx.world, ctx.local_rank, ctx.backend = rank, world, local, backend
    return device


def teardown() -> None:
    if ctx.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
        ctx.rank, ctx.world, ctx.local_rank, ctx.backend = 0, 1, 0, ""


def barrier() -> None:
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum over ranks of ``values`` (a float64 CPU or device tensor), returned; itself in one process."""
    if not ctx.distributed:
        return values
    import torch.distributed as dist

    out = values.clone()
    dist.all_reduce(out)
    return out


def any_rank(flag: bool, device: str = "cpu") -> bool:
    """Whether ``flag`` is true on any rank (one tiny all-reduce)."""
    if not ctx.distributed:
        return flag
    return bool(all_sum(torch.tensor([float(flag)], device=comm_device(device))).item() > 0)


def gather(obj):
    """Every rank's ``obj``, in rank order (a list of one in one process)."""
    if not ctx.distributed:
        return [obj]
    import torch.distributed as dist

    out = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj):
    """The main rank's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def comm_device(device: str) -> str:
    """Where tensors for collectives live: ``device`` under NCCL, the CPU under gloo."""
    return device if ctx.backend == "nccl" else "cpu"


def rank_batches(batches: list[list[int]]) -> list[list[int]]:
    """This rank's share of each global batch: batch b (of ``batch_size x world`` sentences, from the global
    bucketing) split into ``world`` contiguous near-equal parts, part ``rank`` to this rank. Ranks get disjoint
    sentences that together cover the epoch, the same number of steps, and one sentence at least each; a global
    batch with fewer sentences than ranks (the epoch's last, at most) is left out, so that no rank waits for a
    step the others do not take."""
    if not ctx.distributed:
        return batches
    if hasattr(batches, "share"):  # textvae.data.batching.Batches: a view, nothing copied
        return batches.share(ctx.rank, ctx.world)
    return [np.array_split(np.asarray(b), ctx.world)[ctx.rank].tolist() for b in batches if len(b) >= ctx.world]
