"""What every file-backed data set shares."""

from __future__ import annotations

import warnings

import torch


class SkippingDataset(torch.utils.data.Dataset):
    """Reads item ``i`` with ``_load``; with ``skip_bad_files``, warns and moves on instead."""

    skip_bad_files = False
    seed = 0

    def item_generator(self, index: int) -> torch.Generator:
        """A generator seeded from ``(seed, index)``: item ``index`` draws the same random
        numbers on every run, in every epoch and in every worker."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + index)

    def __getitem__(self, index: int) -> dict:
        if not self.skip_bad_files:
            return self._load(index)
        bad = getattr(self, "_bad", set())
        self._bad = bad
        for step in range(len(self)):
            candidate = (index + step) % len(self)
            if candidate in bad:
                continue
            try:
                return self._load(candidate)
            except (ValueError, OSError, EOFError) as error:
                bad.add(candidate)
                warnings.warn(f"skipping unreadable sample: {error}", RuntimeWarning, stacklevel=2)
        raise ValueError("every sample of the data set is unreadable")
