"""The little the reward needs from torch.distributed: who am I, and everyone's payloads."""

from __future__ import annotations

from typing import Any


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (0 and 1 outside distributed runs)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_payloads(payload: Any) -> list[Any]:
    """Every process's ``payload``, in rank order (a list of one outside distributed runs)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [payload]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, payload)
    return gathered
