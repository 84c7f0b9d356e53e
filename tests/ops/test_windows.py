"""Window partitions: bad voxel sets are refused with named errors (placement is tested
with the window pooling, tests/pooling/test_set_pool.py)."""

import pytest
import torch

from geo3d.ops import window_slots
from geo3d.pooling import window_slots as old_path


def test_window_slots_keeps_its_pooling_import_path():
    assert old_path is window_slots


def test_window_slots_reject_duplicates_floats_and_negatives():
    coords = torch.tensor([[0, 0, 1, 2], [0, 0, 1, 3], [0, 0, 1, 2]])
    with pytest.raises(ValueError, match=r"more than once \(first \[0, 0, 1, 2\]\)"):
        window_slots(coords, (1, 2, 2))
    with pytest.raises(ValueError, match="integer tensor.*float32"):
        window_slots(coords[:2].float() + 0.5, (1, 2, 2))
    with pytest.raises(ValueError, match="negative entry at row 1"):
        window_slots(torch.tensor([[0, 0, 1, 2], [0, 0, -1, 3]]), (1, 2, 2))
    with pytest.raises(ValueError, match="3 sizes"):
        window_slots(coords[:2], (2, 2))
