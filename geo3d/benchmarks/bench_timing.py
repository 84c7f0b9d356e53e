"""Timing and memory helpers shared by the benchmark suites (geo3d benchmark)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

# Fast calls are repeated until this much time was measured (at least `repeats` runs): the
# median of 5 runs of a 1 ms op moves with every hiccup of a shared machine.
MIN_MEASURED_S = 0.25
MAX_RUNS = 200


def median_ms(fn: Callable[[], object], repeats: int, sync_cuda: bool = False) -> float:
    """The median time of ``fn()`` in ms over at least ``repeats`` runs after a warm-up run,
    and over more (up to 200) until a quarter of a second was measured."""
    fn()
    times = []
    while len(times) < repeats or (sum(times) < MIN_MEASURED_S and len(times) < MAX_RUNS):
        if sync_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if sync_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def saved_for_backward_mb(fn: Callable[[], torch.Tensor]) -> float:
    """The bytes autograd keeps between forward and backward (every saved tensor, counted
    once per storage), in MB: the memory a pooling adds to a training step."""
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values()) / 2**20
