import pytest
import torch

from geo3d import ops
from tests.conftest import devices


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gather_matches_reference_and_shapes(device, dtype):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(3, 50, 7, generator=g, dtype=dtype).to(device)
    idx = torch.randint(-1, 50, (3, 20, 6), generator=g).to(device)
    out = ops.gather_points(feats, idx)
    assert out.shape == (3, 20, 6, 7) and out.dtype == dtype and out.device == feats.device
    want = ops.gather_points_reference(feats, idx.reshape(3, -1)).reshape(3, 20, 6, 7)
    assert torch.equal(out, want)
    assert (out[idx == -1] == 0).all()


def test_gather_hand_checked():
    feats = torch.tensor([[[1.0, 2], [3, 4], [5, 6]]])
    idx = torch.tensor([[2, -1, 0, 2]])
    assert ops.gather_points(feats, idx).tolist() == [[[5, 6], [0, 0], [1, 2], [5, 6]]]


def test_gather_gradient_sums_repeats_and_skips_missing():
    feats = torch.zeros(1, 3, 2, requires_grad=True)
    idx = torch.tensor([[2, -1, 0, 2]])
    ops.gather_points(feats, idx).sum().backward()
    assert feats.grad.tolist() == [[[1, 1], [0, 0], [2, 2]]]


def test_gather_gradcheck():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(-1, 9, (2, 5, 3), generator=g)
    assert torch.autograd.gradcheck(lambda f: ops.gather_points(f, idx), (feats,))


def test_gather_half_precision():
    feats = torch.randn(2, 10, 3).half()
    idx = torch.randint(-1, 10, (2, 4))
    assert torch.equal(ops.gather_points(feats, idx), ops.gather_points_reference(feats, idx))


@pytest.mark.parametrize(
    "feats,idx,match",
    [
        (torch.rand(10, 3), torch.zeros(1, 2, dtype=torch.long), "feats"),
        (torch.rand(1, 10, 3), torch.zeros(1, 2, dtype=torch.int32), "int64"),
        (torch.rand(1, 10, 3), torch.full((1, 2), 10), "idx"),
        (torch.rand(1, 10, 3), torch.full((1, 2), -2), "idx"),
        (torch.rand(2, 10, 3), torch.zeros(1, 2, dtype=torch.long), "idx"),
        (torch.ones(1, 10, 3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long), "floating"),
    ],
)
def test_gather_bad_input(feats, idx, match):
    with pytest.raises(ValueError, match=match):
        ops.gather_points(feats, idx)
