"""Several processes with torch.distributed, as started by ``torchrun``."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_distributed() -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)``; initialises the process group under torchrun
    (gloo on CPU, nccl on GPU). A plain run is rank 0 of 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        # Two processes on a small machine: one intra-op thread each would idle cores;
        # split the cores between the processes instead.
        if device.type == "cpu":
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    return rank, world_size, device


def is_main(rank: int) -> bool:
    return rank == 0


def gather_tensor(values: torch.Tensor, world_size: int) -> torch.Tensor:
    """Concatenate a 1-D tensor of any length from every process (in rank order)."""
    if world_size == 1:
        return values
    gathered: list = [None] * world_size
    dist.all_gather_object(gathered, values.cpu())
    return torch.cat(gathered)


def average(value: float, world_size: int) -> float:
    if world_size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor) / world_size


def barrier(world_size: int) -> None:
    if world_size > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
