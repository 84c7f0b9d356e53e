"""``unique_rows`` against ``torch.unique(dim=0)``: values, order, inverse and counts."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import unique_rows


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(0, 300),
    width=st.integers(1, 5),
    low=st.integers(-50, 0),
    span=st.integers(1, 40),
    dtype=st.sampled_from([torch.int32, torch.int64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_unique_rows_equals_torch_unique(count, width, low, span, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randint(low, low + span, (count, width), generator=generator, dtype=dtype)
    expected = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
    got = unique_rows(rows, return_inverse=True, return_counts=True)
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(unique_rows(rows), expected[0])


def test_unique_rows_falls_back_when_keys_overflow():
    rows = torch.tensor([[0, 0, 0], [2**40, 2**40, 1], [0, 0, 0]], dtype=torch.int64)
    unique, inverse = unique_rows(rows, return_inverse=True)
    assert unique.tolist() == [[0, 0, 0], [2**40, 2**40, 1]]
    assert inverse.tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    "rows, message",
    [(torch.zeros(3), "of shape"), (torch.zeros(3, 2), "integer tensor")],
)
def test_unique_rows_refuses_bad_input(rows, message):
    with pytest.raises(ValueError, match=message):
        unique_rows(rows)
