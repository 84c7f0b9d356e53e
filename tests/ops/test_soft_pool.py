"""SoftPool on grids: native kernels against the reference and the plain-torch formula,
exact gradients, overflow-free half precision, any stride and padding, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import soft_pool1d, soft_pool2d, soft_pool3d, soft_pool_reference
from geo3d.ops.soft_pool import soft_pool
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


@pytest.mark.parametrize(
    "kernel, dtype",
    [((4, 5), torch.float32), ((4, 5), torch.float64), ((300, 260), torch.float64)],
)
def test_row_buffers_and_huge_windows_give_the_same_values_and_gradients(kernel, dtype):
    """Windows small enough for the row buffers and ones past them (window by window) both
    equal the reference, forward and backward (overlapping windows); float32 sums of 78,000
    members carry about 1e-4 relative rounding, so the huge case is checked in float64."""
    x = torch.randn(1, 2, 310, 280, generator=torch.Generator().manual_seed(9)) * 3
    x = x.to(dtype).requires_grad_()
    stride = (3, 2) if kernel == (4, 5) else (5, 7)
    out = soft_pool2d(x, kernel, stride)
    (grad,) = torch.autograd.grad(out.square().sum(), x)
    x64 = x.detach().double().requires_grad_()
    want = soft_pool_reference(x64, list(kernel), list(stride), [0, 0])[0]
    (want_grad,) = torch.autograd.grad(want.square().sum(), x64)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out.double(), want, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(grad.double(), want_grad, rtol=10 * tolerance, atol=tolerance)


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
    big = 60000.0 if dtype == torch.float16 else 1e30
    x = torch.full((1, 2, 4, 4), big, dtype=dtype)
    x[..., 0, 0] = x[..., 0, 0] * 0.5
    out = soft_pool2d(x, 2)
    # exp(-big / 2) is 0: every window's output is big, its equal members share the weight
    tolerance = 1e-6 if dtype == torch.float32 else 1e-2
    assert torch.allclose(out.float(), torch.full((1, 2, 2, 2), big), rtol=tolerance, atol=0)
    # The backward recomputes w_i = exp(a_i - lse) from the saved float32 log-sum-exp, so
    # its precision is that of lse (about |max| * 6e-8): exact here at moderate magnitudes.
    x = (x.float() / big * (30000.0 if dtype == torch.float16 else 1e4)).to(dtype)
    x.requires_grad_()
    soft_pool2d(x, 2).sum().backward()
    want = torch.full((1, 2, 4, 4), 0.25)
    want[..., :2, :2] = 1 / 3  # the top-left window: three equal members, one of weight 0
    want[..., 0, 0] = 0.0
    assert torch.allclose(x.grad.float(), want, rtol=1e-2 if dtype != torch.float32 else 1e-3)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_minus_inf_members_weigh_zero_and_non_finite_windows_pass_no_gradient(device, dims):
    g = torch.Generator().manual_seed(dims)
    shape = (2, 3) + (6,) * dims
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    flat = x.view(-1)
    flat[torch.randperm(flat.numel(), generator=g)[: flat.numel() // 3]] = float("-inf")
    first = (0, 0) + (slice(0, 2),) * dims  # window 0 of plane 0: all -inf
    x[first] = float("-inf")
    x[(0, 1) + (slice(0, 1),) * dims] = float("inf")  # a +inf member
    x[(1, 2) + (slice(2, 3),) * dims] = float("nan")  # a NaN member
    x = x.to(device).requires_grad_()
    out = soft_pool(x, dims, 2)
    # by hand: each window's finite members, softmax-weighted; -inf, +inf and NaN windows
    windows = x.detach().cpu()
    for a in range(dims):
        windows = windows.unfold(2 + a, 2, 2)
    windows = windows.reshape(*windows.shape[: 2 + dims], -1)
    want = torch.empty(windows.shape[:-1], dtype=torch.float64)
    for index in torch.cartesian_prod(*[torch.arange(n) for n in want.shape]).tolist():
        w = windows[tuple(index)]
        if torch.isnan(w).any() or (w == float("inf")).any() or (w == float("-inf")).all():
            want[tuple(index)] = w.amax() if not torch.isnan(w).any() else float("nan")
            continue
        finite = w[w > float("-inf")]
        want[tuple(index)] = (torch.softmax(finite, 0) * finite).sum()
    assert torch.allclose(out.detach().cpu(), want, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert torch.allclose(
        soft_pool_reference(x.detach(), [2] * dims, [2] * dims, [0] * dims)[0].cpu(),
        want,
        rtol=1e-12,
        atol=1e-12,
        equal_nan=True,
    )
    upstream = torch.rand(out.shape, generator=g, dtype=torch.float64).to(device)
    (grad,) = torch.autograd.grad(out, x, upstream)
    assert bool(torch.isfinite(grad).all())
    (reference_grad,) = torch.autograd.grad(
        soft_pool_reference(x, [2] * dims, [2] * dims, [0] * dims)[0], x, upstream
    )
    assert torch.allclose(grad, reference_grad, rtol=1e-10, atol=1e-12)
    assert bool((grad[~torch.isfinite(x.detach())] == 0).all())
    assert float(grad[first].abs().sum()) == 0.0


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
