"""SoftPool on grids: native kernels against the reference and the plain-torch formula,
exact gradients, overflow-free half precision, any stride and padding, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import soft_pool1d, soft_pool2d, soft_pool3d, soft_pool_reference
from tests.conftest import devices

POOLS = {1: soft_pool1d, 2: soft_pool2d, 3: soft_pool3d}


@settings(max_examples=40, deadline=None)
@given(
    dims=st.sampled_from([1, 2, 3]),
    size=st.integers(3, 8),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    pad=st.integers(0, 1),
    seed=st.integers(0, 2**16),
)
def test_native_matches_the_reference(dims, size, kernel, stride, pad, seed):
    pad = min(pad, kernel // 2)
    x = (
        torch.randn((2, 3) + (size,) * dims, generator=torch.Generator().manual_seed(seed)).double()
        * 3
    )
    out = POOLS[dims](x, kernel, stride, pad)
    want = soft_pool_reference(x, [kernel] * dims, [stride] * dims, [pad] * dims)[0]
    assert out.shape == want.shape and torch.allclose(out, want, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_equals_the_plain_torch_formula_where_it_does_not_overflow(dims):
    x = torch.randn((2, 4) + (6,) * dims, dtype=torch.float64)
    avg = getattr(torch.nn.functional, f"avg_pool{dims}d")
    formula = avg(x.exp() * x, 2) / avg(x.exp(), 2)
    assert torch.allclose(POOLS[dims](x, 2), formula, atol=1e-12)


@pytest.mark.parametrize(
    "dims,kernel,stride,pad", [(1, 3, 2, 1), (2, 2, 2, 0), (2, 3, 1, 1), (3, 3, 2, 1)]
)
def test_exact_gradient(dims, kernel, stride, pad):
    x = torch.randn((1, 2) + (5,) * dims, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: POOLS[dims](t, kernel, stride, pad), (x,))


def test_gradient_is_the_formula_not_the_official_constant_weight_one():
    x = torch.tensor([[[1.0, 2.0]]], dtype=torch.float64, requires_grad=True)
    y = soft_pool1d(x, 2)
    y.sum().backward()
    w = torch.softmax(x.detach()[0, 0], 0)
    exact = w * (1 + x.detach()[0, 0] - y.detach()[0, 0, 0])
    assert torch.allclose(x.grad[0, 0], exact) and not torch.allclose(x.grad[0, 0], w)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_no_overflow_in_low_precision(dtype):
    x = torch.full((1, 2, 4, 4), 60000.0 if dtype == torch.float16 else 1e30, dtype=dtype)
    x[..., 0, 0] = x[..., 0, 0] * 0.5
    out = soft_pool2d(x, 2)
    assert bool(torch.isfinite(out).all())
    x.requires_grad_()
    soft_pool2d(x, 2).sum().backward()
    assert bool(torch.isfinite(x.grad).all())


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtypes_devices_and_unbatched_input(device, dtype):
    x = torch.randn(3, 8, 8, device=device).to(dtype)
    out = soft_pool2d(x, 2)
    assert out.shape == (3, 4, 4) and out.dtype == dtype and out.device == x.device
    want = soft_pool_reference(x.float()[None], [2, 2], [2, 2], [0, 0])[0][0]
    tolerance = 1e-5 if dtype in (torch.float32, torch.float64) else 2e-2
    assert torch.allclose(out.float(), want, atol=tolerance, rtol=tolerance)


def test_bad_input_is_named():
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="padding"):
        soft_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        soft_pool2d(x, 6)
    with pytest.raises(ValueError, match="shape"):
        soft_pool3d(x[0, 0], 2)  # (4, 4): neither (N, C, D, H, W) nor (C, D, H, W)
    with pytest.raises(ValueError, match="floating"):
        soft_pool2d(x.long(), 2)
    with pytest.raises(ValueError, match="kernel_size"):
        soft_pool2d(x, (2, 2, 2))
    with pytest.raises(RuntimeError, match="padding"):
        torch.ops.geo3d.soft_pool(x, [2, 2], [2, 2], [3, 3])


def test_export_sees_the_op():
    class Net(torch.nn.Module):
        def forward(self, x):
            return soft_pool2d(x, 3, 2, 1)

    x = torch.randn(2, 3, 9, 9)
    exported = torch.export.export(Net(), (x,))
    assert "geo3d.soft_pool" in str(exported.graph)
    assert torch.allclose(exported.module()(x), Net()(x))
