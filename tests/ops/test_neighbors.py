import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d import ops
from tests.conftest import devices


def make_pair(batch, q, n, dtype, seed, duplicates=False, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    query = torch.rand(batch, q, 3, generator=g, dtype=dtype)
    support = torch.rand(batch, n, 3, generator=g, dtype=dtype)
    if duplicates:
        query, support = torch.floor(query * 4), torch.floor(support * 4)
    qlen = torch.randint(0, q + 1, (batch,), generator=g)
    slen = torch.randint(0, n + 1, (batch,), generator=g)
    qlen[0], slen[0] = q, n
    return [t.to(device) for t in (query, support, qlen, slen)]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "batch,q,n,k",
    [(1, 1, 1, 1), (3, 40, 50, 5), (2, 300, 700, 16), (4, 128, 20, 32), (1, 2000, 5000, 24)],
)
def test_knn_matches_reference(device, dtype, batch, q, n, k):
    query, support, qlen, slen = make_pair(batch, q, n, dtype, seed=q + n + k, device=device)
    dist, idx = ops.knn(query, support, k, qlen, slen)
    want_dist, want_idx = ops.knn_reference(query, support, qlen, slen, k)
    assert dist.shape == idx.shape == (batch, q, k)
    assert dist.dtype == dtype and idx.dtype == torch.int64 and idx.device == query.device
    assert torch.equal(idx, want_idx)
    assert torch.equal(dist, want_dist)


def test_knn_self_query_and_large_cloud():
    g = torch.Generator().manual_seed(3)
    xyz = torch.rand(1, 20000, 3, generator=g) * 30
    dist, idx = ops.knn(xyz, xyz, 16)
    sample = torch.randperm(20000, generator=g)[:500]
    want_dist, want_idx = ops.knn_reference(
        xyz[:, sample], xyz, torch.tensor([500]), torch.tensor([20000]), 16
    )
    assert torch.equal(idx[:, sample], want_idx)
    assert torch.equal(dist[:, sample], want_dist)
    assert torch.equal(idx[0, :, 0], torch.arange(20000))  # each point is its own nearest


@given(
    batch=st.integers(1, 3),
    q=st.integers(1, 60),
    n=st.integers(1, 90),
    k=st.integers(1, 40),
    seed=st.integers(0, 2**31 - 1),
    duplicates=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_knn_property(batch, q, n, k, seed, duplicates):
    query, support, qlen, slen = make_pair(batch, q, n, torch.float32, seed, duplicates)
    dist, idx = ops.knn(query, support, k, qlen, slen)
    want_dist, want_idx = ops.knn_reference(query, support, qlen, slen, k)
    assert torch.equal(idx, want_idx) and torch.equal(dist, want_dist)


def test_knn_hand_checked():
    support = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [1, 0, 0]]])
    query = torch.tensor([[[0.9, 0, 0]]])
    dist, idx = ops.knn(query, support, 5)
    assert idx.tolist() == [[[1, 3, 0, 2, -1]]]  # the duplicate at 1 and 3: lower index first
    expected = torch.tensor([0.1 * 0.1, 0.1 * 0.1, 0.81, 0.81 + 4, float("inf")])
    assert torch.allclose(dist[0, 0], expected)


@pytest.mark.parametrize(
    "args,match",
    [
        ((torch.rand(1, 5, 3), torch.rand(1, 5, 3), 0), "'k'"),
        ((torch.rand(1, 5, 3), torch.rand(2, 5, 3), 2), "batch"),
        ((torch.rand(1, 5, 3), torch.rand(1, 5, 3).double(), 2), "support"),
        ((torch.rand(1, 5, 3), torch.rand(1, 0, 3), 2), "empty cloud"),
        ((torch.rand(5, 3), torch.rand(1, 5, 3), 2), "query"),
        ((torch.full((1, 5, 3), float("nan")), torch.rand(1, 5, 3), 2), "NaN"),
        ((torch.rand(1, 5, 3), torch.full((1, 5, 3), float("inf")), 2), "NaN or inf"),
    ],
)
def test_knn_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        ops.knn(*args)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "batch,q,n,radius,max_neighbors",
    [(1, 1, 1, 0.5, 1), (3, 50, 80, 0.3, 8), (2, 400, 3000, 0.1, 32), (2, 100, 100, 2.0, 16)],
)
def test_ball_query_matches_reference(device, dtype, batch, q, n, radius, max_neighbors):
    query, support, qlen, slen = make_pair(batch, q, n, dtype, seed=q * n, device=device)
    got = ops.ball_query(query, support, radius, max_neighbors, qlen, slen)
    want = ops.ball_query_reference(query, support, qlen, slen, radius, max_neighbors)
    assert got.shape == (batch, q, max_neighbors) and got.dtype == torch.int64
    assert torch.equal(got, want)


@given(
    batch=st.integers(1, 3),
    q=st.integers(1, 50),
    n=st.integers(1, 80),
    m=st.integers(1, 20),
    radius=st.floats(0.01, 2.0),
    seed=st.integers(0, 2**31 - 1),
    duplicates=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_ball_query_property(batch, q, n, m, radius, seed, duplicates):
    query, support, qlen, slen = make_pair(batch, q, n, torch.float32, seed, duplicates)
    got = ops.ball_query(query, support, radius, m, qlen, slen)
    assert torch.equal(got, ops.ball_query_reference(query, support, qlen, slen, radius, m))


def test_ball_query_is_strict_and_in_index_order():
    support = torch.tensor([[[2.0, 0, 0], [1, 0, 0], [0.5, 0, 0], [0, 0, 0], [0.2, 0, 0]]])
    query = torch.zeros(1, 1, 3)
    # radius 1: the point at exactly 1 is outside (strict); in index order: 2, 3, 4.
    assert ops.ball_query(query, support, 1.0, 4).tolist() == [[[2, 3, 4, -1]]]
    assert ops.ball_query(query, support, 1.0, 2).tolist() == [[[2, 3]]]


@pytest.mark.parametrize(
    "radius,m,match",
    [
        (0.0, 4, "radius"),
        (-1.0, 4, "radius"),
        (float("nan"), 4, "radius"),
        (1.0, 0, "max_neighbors"),
    ],
)
def test_ball_query_bad_input(radius, m, match):
    with pytest.raises(ValueError, match=match):
        ops.ball_query(torch.rand(1, 4, 3), torch.rand(1, 4, 3), radius, m)


@given(
    clusters=st.integers(1, 6),
    n=st.integers(40, 1500),
    q=st.integers(1, 400),
    k=st.integers(1, 40),
    offset=st.sampled_from([0.0, 1000.0, -50000.0]),
    spread=st.sampled_from([1e-3, 0.1, 5.0]),
    seed=st.integers(0, 2**31 - 1),
    self_query=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_knn_blocked_search_on_clusters_far_from_the_origin(
    clusters, n, q, k, offset, spread, seed, self_query
):
    """The CPU kernel bounds blocks of nearby queries by the triangle inequality from one
    query's k-th distance: clustered clouds, far from the origin (float32 rounding), tiny
    and wide spreads, and k above the cloud size must still give the exact neighbours."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(clusters, 3, generator=g) * 100 + offset
    support = centres[torch.randint(0, clusters, (n,), generator=g)]
    support = (support + torch.randn(n, 3, generator=g) * spread)[None]
    query = support if self_query else support[:, torch.randint(0, n, (q,), generator=g)]
    if not self_query:
        query = query + torch.randn_like(query) * spread
    dist, idx = ops.knn(query, support, k)
    want_dist, want_idx = ops.knn_reference(
        query, support, torch.tensor([query.shape[1]]), torch.tensor([n]), k
    )
    assert torch.equal(idx, want_idx) and torch.equal(dist, want_dist)
