"""Data parallelism under ``torchrun`` (torch.distributed; gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node N -m prmlab.run ...`` starts N copies of the entry point. Every rank
composes the same config and walks the same stage plan:

* stages that are not data-parallel (tasks, sft, prm_*, eval) run on rank 0 while the others
  wait, then every rank reads the finished cache entry;
* the RL stages run on every rank: each samples and executes its shard of the step's prompt
  groups (its own sandbox pool), gradients are all-reduced by DDP, rank 0 writes checkpoints,
  metrics and the cache entry.

Outside torchrun every function here degrades to the single-process case.
"""
from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist


def launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_name: str = "auto") -> None:
    """Initialise the process group once (no-op without torchrun)."""
    if not launched() or dist.is_initialized():
        return
    use_cuda = torch.cuda.is_available() and device_name != "cpu"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    # Rank 0 may compute a long stage (SFT) while the others wait in a barrier: generous timeout.
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(hours=6))


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather(obj: Any) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
    if not dist.is_initialized():
        return [obj]
    out: list = [None] * world()
    dist.all_gather_object(out, obj)
    return out


def shard(items: list, r: int | None = None, n: int | None = None) -> list:
    """Contiguous share of ``items`` for rank ``r`` of ``n`` (sizes differ by at most one)."""
    r = rank() if r is None else r
    n = world() if n is None else n
    k, m = divmod(len(items), n)
    start = r * k + min(r, m)
    return items[start : start + k + (1 if r < m else 0)]


def destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
