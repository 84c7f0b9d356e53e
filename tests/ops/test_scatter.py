import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d import ops
from geo3d.ops.scatter import scatter_soft_backward_reference
from tests.conftest import devices


def dense_reference(src, index, num_segments, reduce):
    """An obviously correct loop over segments, independent of both implementations."""
    out = torch.zeros(num_segments, src.shape[1], dtype=src.dtype)
    for s in range(num_segments):
        rows = src[index == s]
        if rows.shape[0] == 0:
            continue
        if reduce == "sum":
            out[s] = rows.sum(0)
        elif reduce == "mean":
            out[s] = rows.mean(0)
        elif reduce == "max":
            out[s] = rows.max(0).values
        elif reduce == "min":
            out[s] = rows.min(0).values
        else:
            out[s] = (torch.softmax(rows, dim=0) * rows).sum(0)
    return out


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduce", ops.REDUCTIONS)
@pytest.mark.parametrize("channels", [6, 40])  # per-segment and row-major kernel paths
def test_scatter_matches_references(device, dtype, reduce, channels):
    g = torch.Generator().manual_seed(7)
    src = (torch.randn(500, channels, generator=g, dtype=dtype) * 3).to(device)
    index = torch.randint(0, 40, (500,), generator=g).to(device)  # segments 40..44 are empty
    out = ops.scatter(src, index, 45, reduce)
    assert out.shape == (45, channels) and out.dtype == dtype and out.device == src.device
    native = torch.ops.geo3d.scatter(src, index, 45, reduce)
    reference = ops.scatter_reference(src, index, 45, reduce)
    for got, want in zip(native, reference):
        assert got.shape == want.shape and torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    dense = dense_reference(src.cpu(), index.cpu(), 45, reduce)
    assert torch.allclose(out.cpu(), dense, rtol=1e-5, atol=1e-6)
    assert (out[40:] == 0).all()


@given(
    n=st.integers(0, 60),
    segments=st.integers(1, 12),
    channels=st.integers(1, 5),
    reduce=st.sampled_from(ops.REDUCTIONS),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([1.0, 100.0]),
)
@settings(max_examples=60, deadline=None)
def test_scatter_property(n, segments, channels, reduce, seed, scale):
    g = torch.Generator().manual_seed(seed)
    src = torch.randn(n, channels, generator=g, dtype=torch.float64) * scale
    index = torch.randint(0, segments, (n,), generator=g)
    out = ops.scatter(src, index, segments, reduce)
    assert torch.allclose(out, dense_reference(src, index, segments, reduce), rtol=1e-9, atol=1e-9)


def test_soft_hand_checked_and_stable():
    src = torch.tensor([[0.0], [1000.0], [1000.0], [-1000.0]])
    index = torch.tensor([0, 0, 1, 1])
    out = ops.scatter(src, index, 2, "soft")
    # exp(1000) overflows without the max subtraction; the softmax weights are (0, 1) and (1, 0).
    assert torch.isfinite(out).all()
    assert out.tolist() == [[1000.0], [1000.0]]
    two = ops.scatter(torch.tensor([[0.0], [1.0]]), torch.tensor([0, 0]), 1, "soft")
    e = torch.e
    assert torch.allclose(two, torch.tensor([[e / (1 + e)]]))


@pytest.mark.parametrize("repeat", [1, 20])  # 2 and 40 channels: both kernel paths
def test_max_min_gradient_goes_to_the_first_of_ties(repeat):
    src = torch.tensor([[1.0, 5.0], [3.0, 5.0], [3.0, 0.0]]).repeat(1, repeat).requires_grad_()
    index = torch.tensor([0, 0, 0])
    ops.scatter(src, index, 1, "max").sum().backward()
    assert src.grad.tolist() == torch.tensor([[0.0, 1], [1, 0], [0, 0]]).repeat(1, repeat).tolist()


@pytest.mark.parametrize("reduce", ops.REDUCTIONS)
@pytest.mark.parametrize("channels", [4, 33])
def test_scatter_gradcheck(reduce, channels):
    g = torch.Generator().manual_seed(11)
    src = torch.randn(30, channels, generator=g, dtype=torch.float64, requires_grad=True)
    index = torch.randint(0, 8, (30,), generator=g)  # some segments empty
    assert torch.autograd.gradcheck(lambda s: ops.scatter(s, index, 10, reduce), (src,))


def test_soft_gradient_is_exact_not_the_official_approximation():
    src = torch.tensor([[0.5], [2.0], [-1.0]], dtype=torch.float64, requires_grad=True)
    out = ops.scatter(src, torch.zeros(3, dtype=torch.long), 1, "soft")
    out.sum().backward()
    w = torch.softmax(src.detach(), 0)
    y = (w * src.detach()).sum()
    assert torch.allclose(src.grad, w * (1 + src.detach() - y))
    assert not torch.allclose(src.grad, w)  # the constant-weight approximation


@pytest.mark.parametrize(
    "args,match",
    [
        ((torch.rand(5, 2), torch.tensor([0, 1, 2, 3, 4]), 4, "sum"), r"\[0, 4\)"),
        ((torch.rand(5, 2), torch.tensor([0, 1, 2, 3, -1]), 5, "sum"), "index"),
        ((torch.rand(5, 2), torch.zeros(4, dtype=torch.long), 5, "sum"), "index"),
        ((torch.rand(5, 2), torch.zeros(5, dtype=torch.int32), 5, "sum"), "int64"),
        ((torch.rand(5), torch.zeros(5, dtype=torch.long), 5, "sum"), "src"),
        ((torch.rand(5, 2), torch.zeros(5, dtype=torch.long), 5, "median"), "reduce"),
        ((torch.rand(5, 2), torch.zeros(5, dtype=torch.long), -1, "sum"), "num_segments"),
    ],
)
def test_scatter_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        ops.scatter(*args)


def nan_rule_reference(src, index, num_segments, reduce):
    """Loops: NaN propagates; max/min pick the first NaN row, else the first extreme."""
    out = torch.zeros(num_segments, src.shape[1], dtype=src.dtype)
    arg = torch.full((num_segments, src.shape[1]), -1)
    for s in range(num_segments):
        rows = (index == s).nonzero().squeeze(1).tolist()
        for c in range(src.shape[1]):
            values = [float(src[r, c]) for r in rows]
            if not values:
                continue
            nans = [r for r, v in zip(rows, values) if v != v]
            if nans:
                out[s, c], arg[s, c] = float("nan"), nans[0]
                continue
            best = max(values) if reduce == "max" else min(values)
            out[s, c], arg[s, c] = best, rows[values.index(best)]
    return out, arg


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("reduce", ["max", "min"])
@pytest.mark.parametrize("channels", [3, 40])  # both kernel paths
def test_max_min_propagate_nan_forward_and_backward(device, reduce, channels):
    g = torch.Generator().manual_seed(3)
    src = torch.randn(60, channels, generator=g, dtype=torch.float64)
    index = torch.randint(0, 6, (60,), generator=g)
    # NaN in the middle of segments (not their first row), a segment made only of NaN,
    # and -inf / +inf beside them
    src[index == 1] = float("nan")
    middle = (index == 2).nonzero().squeeze(1)[2:4]
    src[middle, 0] = float("nan")
    src[(index == 3).nonzero().squeeze(1)[1], 1] = float("-inf")
    src[(index == 4).nonzero().squeeze(1)[-1], 2] = float("inf")
    want, want_arg = nan_rule_reference(src, index, 7, reduce)
    src = src.to(device).requires_grad_()
    index = index.to(device)
    for impl in (torch.ops.geo3d.scatter, ops.scatter_reference):
        out, arg, _ = impl(src.detach(), index, 7, reduce)
        assert torch.allclose(out.cpu(), want, rtol=0, atol=0, equal_nan=True)
        assert torch.equal(arg.cpu(), want_arg)
    out = ops.scatter(src, index, 7, reduce)
    assert torch.isnan(out[1]).all() and torch.isnan(out[2, 0])
    (grad,) = torch.autograd.grad(out, src, torch.ones_like(out))
    expected = torch.zeros(60, channels, dtype=torch.float64)
    for s in range(7):
        for c in range(channels):
            if want_arg[s, c] >= 0:
                expected[want_arg[s, c], c] = 1.0
    assert torch.equal(grad.cpu(), expected)


@pytest.mark.parametrize("device", devices())
def test_soft_with_minus_inf_members_is_finite_and_exact(device):
    # a masked (-inf) member weighs 0: the segment's value is SoftPool of the others
    src = torch.tensor(
        [
            [1.0, float("-inf")],
            [2.0, 3.0],
            [float("-inf"), float("-inf")],
            [float("-inf"), 0.5],
            [float("nan"), 1.0],
            [4.0, float("inf")],
        ],
        dtype=torch.float64,
        device=device,
    )
    index = torch.tensor([0, 0, 1, 1, 2, 2], device=device)
    w = torch.softmax(torch.tensor([1.0, 2.0], dtype=torch.float64), 0)
    first = float((w * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum())
    want = torch.tensor(
        [[first, 3.0], [float("-inf"), 0.5], [float("nan"), float("inf")]], dtype=torch.float64
    )
    for impl in (torch.ops.geo3d.scatter, ops.scatter_reference):
        out = impl(src, index, 3, "soft")[0]
        assert torch.allclose(out.cpu(), want, equal_nan=True, rtol=1e-12, atol=0)
    leaf = src.clone().requires_grad_()
    out = ops.scatter(leaf, index, 3, "soft")
    (grad,) = torch.autograd.grad(out[0].sum() + out[1, 1], leaf)
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    exact = w * (1 + a - first)
    want_grad = torch.zeros(6, 2, dtype=torch.float64)
    want_grad[0, 0], want_grad[1, 0], want_grad[1, 1], want_grad[3, 1] = exact[0], exact[1], 1, 1
    assert torch.allclose(grad.cpu(), want_grad, rtol=1e-12, atol=0)
    # the native backward and the reference backward agree on every row, infinite ones too
    lse = torch.ops.geo3d.scatter(src, index, 3, "soft")
    g_out = torch.ones(3, 2, dtype=torch.float64, device=device)
    native = torch.ops.geo3d.scatter_soft_backward(g_out, src, index, lse[0], lse[2])
    reference = scatter_soft_backward_reference(g_out, src, index, lse[0], lse[2])
    assert torch.equal(native, reference)
    assert bool(torch.isfinite(native).all())
