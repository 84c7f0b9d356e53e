"""Set poolings against explicit loops, packed against padded, permutation invariance,
gradients and export; DSVT's window attention pooling against a hand-written attention."""

import math

import pytest
import torch

from geo3d.pooling import (
    POOLINGS,
    AttentionPool,
    SetPool,
    WindowAttentionPool,
    make_pooling,
    pool_groups,
    pool_segments,
)

COUNTS = torch.tensor([1, 5, 0, 3, 12, 2])  # single, empty and a larger set


def packed_and_padded(channels=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    index = torch.repeat_interleave(torch.arange(len(COUNTS)), COUNTS)
    x = torch.randn(int(COUNTS.sum()), channels, generator=g, dtype=torch.float64)
    width = int(COUNTS.max())
    dense = torch.zeros(len(COUNTS), width, channels, dtype=torch.float64)
    mask = torch.zeros(len(COUNTS), width, dtype=torch.bool)
    start = 0
    for s, c in enumerate(COUNTS.tolist()):
        dense[s, :c], mask[s, :c] = x[start : start + c], True
        start += c
    return x, index, dense, mask


def loop_reference(members: torch.Tensor, mode: str) -> torch.Tensor:
    if members.shape[0] == 0:
        return torch.zeros(members.shape[1], dtype=members.dtype)
    out = []
    for c in range(members.shape[1]):
        a = members[:, c].tolist()
        if mode == "max":
            out.append(max(a))
        elif mode == "mean":
            out.append(sum(a) / len(a))
        elif mode == "max+mean":
            out.append(max(a) + sum(a) / len(a))
        else:
            e = [math.exp(v) for v in a]
            out.append(sum(w * v for w, v in zip(e, a)) / sum(e))
    return torch.tensor(out, dtype=members.dtype)


@pytest.mark.parametrize("mode", ["max", "mean", "max+mean", "soft"])
def test_stateless_poolings_against_loops(mode):
    x, index, dense, mask = packed_and_padded()
    want = torch.stack([loop_reference(x[index == s], mode) for s in range(len(COUNTS))])
    assert torch.allclose(pool_groups(dense, mode, mask), want, atol=1e-12)
    assert torch.allclose(pool_segments(x, index, len(COUNTS), mode), want, atol=1e-12)
    full = dense[4:5, :12]
    assert torch.allclose(pool_groups(full, mode), want[4:5], atol=1e-12)  # no mask


@pytest.mark.parametrize("mode", POOLINGS)
@pytest.mark.parametrize("query", ["latent", "residual"])
def test_packed_equals_padded_and_order_does_not_matter(mode, query):
    if mode != "attention" and query == "residual":
        pytest.skip("the query only matters for attention")
    torch.manual_seed(0)
    pool = SetPool(mode, 4, heads=2, query=query).double()
    x, index, dense, mask = packed_and_padded()
    packed = pool.segments(x, index, len(COUNTS))
    assert torch.allclose(packed, pool(dense, mask), atol=1e-10)
    assert torch.all(packed[2] == 0)  # the empty set
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(1))
    assert torch.allclose(pool.segments(x[order], index[order], len(COUNTS)), packed, atol=1e-10)
    shuffled = dense[:, torch.randperm(dense.shape[1])]
    remask = (shuffled.abs().sum(-1) > 0) & mask.any(-1, keepdim=True)
    assert torch.allclose(pool(shuffled, remask), packed, atol=1e-10)


@pytest.mark.parametrize("mode", POOLINGS)
def test_gradcheck(mode):
    torch.manual_seed(0)
    pool = SetPool(mode, 4, heads=2).double()
    x, index, dense, mask = packed_and_padded()
    x = x.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: pool.segments(t, index, len(COUNTS)), (x,))
    dense = dense.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: pool(t, mask), (dense,))


@pytest.mark.parametrize("mode", POOLINGS)
def test_export(mode):
    pool = SetPool(mode, 8, heads=2).eval()
    x = torch.randn(3, 10, 6, 8)
    mask = torch.rand(3, 10, 6) > 0.3
    exported = torch.export.export(pool, (x, mask))
    assert torch.allclose(exported.module()(x, mask), pool(x, mask), atol=1e-6)


def test_attention_pool_is_the_attention_formula():
    torch.manual_seed(0)
    pool = AttentionPool(6, heads=2, query="latent").double()
    x = torch.randn(7, 6, dtype=torch.float64)
    k, v = pool.key(x).reshape(7, 2, 3), pool.value(x).reshape(7, 2, 3)
    q = pool.latent.reshape(2, 3)
    heads = []
    for h in range(2):
        w = torch.softmax(k[:, h] @ q[h] / math.sqrt(3), 0)
        heads.append(w @ v[:, h])
    want = pool.out(torch.cat(heads))
    assert torch.allclose(pool(x[None])[0], want)


def window_reference(pool: WindowAttentionPool, slots, occupied, mask_empty):
    """Per window, by hand: query = max, keys = slots + embedding, MHA, LayerNorm."""
    mha = pool.attention
    c, h = slots.shape[-1], mha.num_heads
    wq, wk, wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)
    out = []
    for w in range(slots.shape[0]):
        real = occupied[w] if mask_empty and occupied[w].any() else torch.ones_like(occupied[w])
        s = torch.where(occupied[w][:, None], slots[w], 0.0)
        query = s[real].amax(0) if mask_empty and occupied[w].any() else s.amax(0)
        keys = (s + pool.slot_embedding)[real]
        values = s[real]
        q = (wq @ query + bq).reshape(h, c // h)
        kk = (keys @ wk.T + bk).reshape(-1, h, c // h)
        vv = (values @ wv.T + bv).reshape(-1, h, c // h)
        heads = [torch.softmax(kk[:, i] @ q[i] / math.sqrt(c // h), 0) @ vv[:, i] for i in range(h)]
        attended = mha.out_proj(torch.cat(heads))
        out.append(pool.norm(attended + query))
    return torch.stack(out)


@pytest.mark.parametrize("mask_empty", [True, False])
def test_window_attention_pool_against_a_hand_written_attention(mask_empty):
    torch.manual_seed(0)
    pool = WindowAttentionPool(8, num_slots=5, heads=2, mask_empty=mask_empty).double().eval()
    slots = torch.randn(4, 5, 8, dtype=torch.float64)
    occupied = torch.tensor(
        [[1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [0, 1, 0, 1, 1], [0, 0, 0, 0, 0]]
    ).bool()
    out = pool(slots, occupied)
    assert out.shape == (4, 8)
    assert torch.allclose(out, window_reference(pool, slots, occupied, mask_empty), atol=1e-10)
    if mask_empty:  # what lies in an empty slot does not matter
        noisy = torch.where(occupied[..., None], slots, torch.randn_like(slots) * 100)
        assert torch.allclose(pool(noisy, occupied), out)
    grad_slots = slots.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda t: pool(t, occupied), (grad_slots,))
    exported = torch.export.export(pool, (slots, occupied))
    assert torch.allclose(exported.module()(slots, occupied), out)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown pooling"):
        SetPool("median")
    with pytest.raises(ValueError, match="channels"):
        SetPool("attention")
    with pytest.raises(ValueError, match="mask"):
        pool_groups(torch.randn(2, 3, 4), "max", torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="slots"):
        WindowAttentionPool(8, 5, 2)(torch.randn(3, 4, 8), torch.ones(3, 4, dtype=torch.bool))


def test_make_pooling_by_name():
    from geo3d.pooling import MeshPool, make_pooling

    assert isinstance(make_pooling("edge_collapse", target=0.5), MeshPool)
    assert make_pooling("soft").mode == "soft"
    assert (
        make_pooling("attention", 8, heads=2, query="residual").attention.query_kind == "residual"
    )
    with pytest.raises(ValueError, match="target"):
        make_pooling("edge_collapse")
    with pytest.raises(ValueError, match="unknown options"):
        make_pooling("max", 8, kernel=3)


def test_window_slots_place_every_voxel_once():
    from geo3d.ops import window_slots
    from geo3d.pooling import pool_voxel_windows

    g = torch.Generator().manual_seed(0)
    coords = torch.unique(
        torch.stack(
            [
                torch.randint(0, 2, (300,), generator=g),
                torch.randint(0, 4, (300,), generator=g),
                torch.randint(0, 20, (300,), generator=g),
                torch.randint(0, 20, (300,), generator=g),
            ],
            1,
        ),
        dim=0,
    )
    slots, windows = window_slots(coords, (2, 4, 4))
    assert slots.shape == (windows.shape[0], 32)
    placed = slots[slots >= 0]
    assert torch.equal(placed.sort().values, torch.arange(coords.shape[0]))
    for w in (0, windows.shape[0] - 1):
        for slot, voxel in enumerate(slots[w].tolist()):
            if voxel >= 0:
                b, z, y, x = coords[voxel].tolist()
                assert [b, z // 2, y // 4, x // 4] == windows[w].tolist()
                assert slot == ((x % 4) * 4 + y % 4) * 2 + z % 2  # x-major, as DSVT
    pool = WindowAttentionPool(8, 32, heads=2)
    pooled, _ = pool_voxel_windows(torch.randn(coords.shape[0], 8), coords, (2, 4, 4), pool)
    assert pooled.shape == (windows.shape[0], 8) and bool(torch.isfinite(pooled).all())


@pytest.mark.parametrize("query", ["latent", "residual"])
@pytest.mark.parametrize("poison", [float("nan"), float("inf"), float("-inf")])
def test_masked_members_have_no_effect_on_attention_pool(query, poison):
    torch.manual_seed(0)
    pool = AttentionPool(8, heads=2, query=query).double()
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    clean = pool(x, mask)
    poisoned = x.clone()
    poisoned[~mask] = poison
    out = pool(poisoned, mask)
    assert torch.equal(out, clean)
    # and it equals the pool of the real members alone
    assert torch.allclose(out[0], pool(x[0:1, mask[0]])[0], atol=1e-12)
    assert torch.equal(out[2], torch.zeros(8, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["max", "mean", "max+mean", "soft"])
def test_masked_members_have_no_effect_on_group_pooling(mode):
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    mask = torch.rand(4, 6) > 0.4
    mask[:, 0] = True
    poisoned = torch.where(mask[..., None], x, float("nan"))
    want = torch.stack([pool_groups(x[g, mask[g]][None], mode)[0] for g in range(4)])
    assert torch.allclose(pool_groups(poisoned, mode, mask), want, atol=1e-12)


def test_group_pooling_of_real_minus_inf_members():
    x = torch.tensor([[[float("-inf")], [float("-inf")]], [[float("-inf")], [2.0]]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    assert pool_groups(x, "max", mask).tolist() == [[float("-inf")], [2.0]]
    assert pool_groups(x, "soft", mask).tolist() == [[float("-inf")], [2.0]]
    assert pool_groups(x, "soft").tolist() == [[float("-inf")], [2.0]]


def test_window_attention_pool_defaults_are_the_official_ones():
    torch.manual_seed(0)
    pool = WindowAttentionPool(64, num_slots=400, heads=8)
    assert pool.mask_empty is False
    std = float(pool.slot_embedding.detach().std())
    assert 0.009 < std < 0.011 and abs(float(pool.slot_embedding.detach().mean())) < 1e-3
    # official: empty slots are zeros that take part in the max and in the attention
    pool = WindowAttentionPool(8, num_slots=4, heads=2).double().eval()
    slots = -torch.rand(1, 4, 8, dtype=torch.float64) - 1  # all negative: an empty 0 wins the max
    occupied = torch.tensor([[True, True, False, True]])
    out = pool(slots, occupied)
    zeroed = torch.where(occupied[..., None], slots, 0.0)
    query = zeroed.amax(dim=1)
    assert bool((query == 0).all())
    attended, _ = pool.attention(query[:, None], zeroed + pool.slot_embedding, zeroed)
    assert torch.allclose(out, pool.norm(attended[:, 0] + query), atol=1e-12)


def test_the_old_keyword_names_of_the_pooling_choice_still_work():
    x = torch.randn(3, 5, 4)
    with pytest.warns(DeprecationWarning, match="'mode' is called 'pooling'"):
        assert torch.equal(pool_groups(x, mode="max"), pool_groups(x, "max"))
    with pytest.warns(DeprecationWarning, match="'mode' is called 'pooling'"):
        assert SetPool(mode="soft").pooling == "soft"
    with pytest.warns(DeprecationWarning, match="'name' is called 'pooling'"):
        assert make_pooling(name="mean").pooling == "mean"
