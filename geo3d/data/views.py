"""The base of the sample views: a subset of a data set whose augmentations are seeded
by ``(seed, epoch, index)``, so that a run gives the same batches with any number of
workers and after a resume."""

from __future__ import annotations

import torch


class SeededView(torch.utils.data.Dataset):
    """``indices`` of ``dataset`` (all by default); :meth:`generator` seeds a sample's
    augmentation from ``(seed, epoch, index)``; the trainer calls :meth:`set_epoch`."""

    def __init__(self, dataset, seed: int = 0, indices=None):
        self.dataset, self.seed = dataset, seed
        self.indices = list(range(len(dataset))) if indices is None else list(indices)
        self.epoch = 0
        self.classes = getattr(dataset, "classes", None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def generator(self, index: int) -> torch.Generator:
        return torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) % 2**63)
