"""MeshConv, per-mesh normalisation, MeshPool / MeshUnpool and the MeshCNN networks."""

import warnings

import pytest
import torch

from geo3d.models import create_model
from geo3d.nn import MeshConv, mesh_conv_stencil, segment_group_norm
from geo3d.pooling import MeshPool, mesh_pool, mesh_unpool, pool_targets
from geo3d.structures import MeshBatch, edge_features, mesh_edges
from tests.conftest import load_shared_mesh


def load(name):
    vertices, faces = load_shared_mesh(name)
    return vertices, mesh_edges(faces, vertices.shape[0])


def batch(names=("suzanne", "woody", "beetle")):
    loaded = [load(n) for n in names]
    mesh = MeshBatch.from_views([v for _, v in loaded], [x for x, _ in loaded])
    features = torch.cat([edge_features(x, v) for x, v in loaded])
    return features, mesh


def test_stencil_matches_an_explicit_loop():
    x, mesh = batch(("suzanne",))
    stencil = mesh_conv_stencil(x, mesh.gemm)
    for e in torch.randint(
        0, mesh.num_edges, (50,), generator=torch.Generator().manual_seed(0)
    ).tolist():
        n = [x[g] if g >= 0 else torch.zeros(5) for g in mesh.gemm[e].tolist()]
        want = torch.stack(
            [x[e], n[0] + n[2], n[1] + n[3], (n[0] - n[2]).abs(), (n[1] - n[3]).abs()], dim=1
        )
        assert torch.allclose(stencil[e], want)


def test_mesh_conv_equals_the_official_conv2d_formulation():
    x, mesh = batch(("woody",))
    conv = MeshConv(5, 7)
    # The official code builds G (B, C, E, 5) and applies Conv2d(kernel_size=(1, 5)).
    G = mesh_conv_stencil(x, mesh.gemm).permute(1, 0, 2)[None]  # (1, C, E, 5)
    official = torch.nn.functional.conv2d(G, conv.weight[:, :, None, :], conv.bias)[0, :, :, 0].T
    assert torch.allclose(conv(x, mesh.gemm), official, atol=1e-5)


def test_mesh_conv_is_invariant_to_the_order_of_the_two_faces():
    x, mesh = batch(("suzanne",))
    swapped = mesh.gemm[:, [2, 3, 0, 1]]
    conv = MeshConv(5, 4)
    assert torch.allclose(conv(x, mesh.gemm), conv(x, swapped), atol=1e-6)


def icosahedron():
    import trimesh

    ico = trimesh.creation.icosahedron()
    vertices = torch.tensor(ico.vertices, dtype=torch.float64)
    view = mesh_edges(torch.tensor(ico.faces, dtype=torch.int64))
    return MeshBatch.from_views([view], [vertices])


def test_mesh_conv_gradcheck():
    mesh = icosahedron()  # 30 edges
    x = torch.randn(mesh.num_edges, 3, dtype=torch.float64, requires_grad=True)
    conv = MeshConv(3, 2).double()
    assert torch.autograd.gradcheck(lambda t: conv(t, mesh.gemm), (x,))


def test_segment_group_norm_equals_group_norm_per_mesh():
    x, mesh = batch()
    x = torch.randn(mesh.num_edges, 16, dtype=torch.float64)
    out = segment_group_norm(x, mesh.edge_batch(), mesh.num_meshes, 4)
    reference = torch.nn.GroupNorm(4, 16, affine=False).double()
    for b in range(mesh.num_meshes):
        e0, e1 = int(mesh.edge_ptr[b]), int(mesh.edge_ptr[b + 1])
        want = reference(x[e0:e1].T[None, :, :, None])[0, :, :, 0].T
        assert torch.allclose(out[e0:e1], want, atol=1e-10)


def test_pooling_merges_groups_by_their_mean_and_unpooling_restores_the_edges():
    x, mesh = batch()
    y = torch.randn(mesh.num_edges, 6, dtype=torch.float64)
    pooled, pooled_mesh, record = mesh_pool(y, mesh, 0.5)
    assert pooled.shape == (pooled_mesh.num_edges, 6)
    assert torch.equal(pooled_mesh.edge_counts(), record.counts)
    members = record.members
    for out in torch.randint(
        0, pooled.shape[0], (30,), generator=torch.Generator().manual_seed(1)
    ).tolist():
        group = members[members[:, 1] == out, 0]
        assert torch.allclose(pooled[out], y[group].mean(0))
    unpooled = mesh_unpool(pooled, record)
    assert unpooled.shape == (mesh.num_edges, 6)
    ones = torch.ones(pooled.shape[0], 2)
    assert torch.allclose(mesh_unpool(ones, record), torch.ones(mesh.num_edges, 2))


@pytest.mark.parametrize("variant", ["official", "exact"])
def test_each_mesh_pools_as_it_would_alone(variant):
    """Two poolings in a row (the official one carries its stale entries between them)."""
    x, mesh = batch()
    y = torch.randn(mesh.num_edges, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # woody's boundaries stop pooling early
        first, packed, _ = mesh_pool(y, mesh, 0.6, variant=variant)
        pooled, _, record = mesh_pool(first * 1.5 + 0.1, packed, 0.7, variant=variant)
    offset = 0
    for b, name in enumerate(("suzanne", "woody", "beetle")):
        e0, e1 = int(mesh.edge_ptr[b]), int(mesh.edge_ptr[b + 1])
        vertices, view = load(name)
        alone = MeshBatch.from_views([view], [vertices])
        once, alone, _ = mesh_pool(y[e0:e1], alone, 0.6, warn=False, variant=variant)
        single, _, _ = mesh_pool(once * 1.5 + 0.1, alone, 0.7, warn=False, variant=variant)
        count = int(record.counts[b])
        assert torch.equal(pooled[offset : offset + count], single)
        offset += count


def test_pool_and_unpool_gradcheck():
    mesh = icosahedron()
    y = torch.randn(mesh.num_edges, 2, dtype=torch.float64, requires_grad=True)

    def f(t):
        pooled, _, record = mesh_pool(t, mesh, 18)
        assert int(record.counts[0]) == 18
        return mesh_unpool(pooled * pooled, record)

    assert torch.autograd.gradcheck(f, (y,))


def test_targets_absolute_fractional_and_bad():
    counts = torch.tensor([750, 1000])
    assert pool_targets(counts, 600).tolist() == [600, 600]
    assert pool_targets(counts, 0.5).tolist() == [375, 500]
    for bad in (1.5, -3, "600", True):
        with pytest.raises(ValueError):
            pool_targets(counts, bad)
    with pytest.raises(ValueError):
        MeshPool(0.0)


def test_running_out_of_collapses_warns_and_reports():
    x, mesh = batch(("woody",))
    with pytest.warns(RuntimeWarning, match="no valid edge collapse"):
        pooled, pooled_mesh, record = mesh_pool(x, mesh, 10)
    assert int(record.counts[0]) > 10 and pooled.shape[0] == int(record.counts[0])


@pytest.mark.parametrize("name", ["meshcnn_classifier", "meshcnn_segmenter"])
def test_networks_on_a_batch_of_real_meshes(name):
    x, mesh = batch()
    if name == "meshcnn_classifier":
        model = create_model(name, num_classes=5, channels=[8, 16], pool_targets=[0.7, 0.5])
    else:
        model = create_model(name, num_classes=4, channels=[8, 16, 16], pool_targets=[0.7, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # woody's boundaries stop pooling early
        out = model(x, mesh)
        expected = (3, 5) if name == "meshcnn_classifier" else (mesh.num_edges, 4)
        assert out.shape == expected and out.dtype == torch.float32
        targets = (
            torch.tensor([0, 1, 2])
            if name == "meshcnn_classifier"
            else torch.randint(0, 4, (mesh.num_edges,))
        )
        loss = model.loss(out, targets)["loss"]
        loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if name == "meshcnn_segmenter":
        assert bool((out >= 0).all())  # the official last stage ends with ReLU
    # values: in eval mode each mesh of the packed batch gives what it gives alone (per-mesh
    # norm and pooling, no padding leaking across meshes)
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", RuntimeWarning)
        together = model(x, mesh)
        for b, mesh_name in enumerate(("suzanne", "woody", "beetle")):
            vertices, view = load(mesh_name)
            alone = model(edge_features(vertices, view), MeshBatch.from_views([view], [vertices]))
            if name == "meshcnn_classifier":
                assert torch.allclose(together[b], alone[0], atol=1e-5, rtol=1e-5)
            else:
                e0, e1 = int(mesh.edge_ptr[b]), int(mesh.edge_ptr[b + 1])
                assert torch.allclose(together[e0:e1], alone, atol=1e-5, rtol=1e-5)


def test_segmenter_head_is_split_off_and_old_checkpoints_still_load():
    x, mesh = batch(("suzanne",))
    torch.manual_seed(0)
    model = create_model(
        "meshcnn_segmenter", num_classes=4, channels=[8, 16], pool_targets=[0.7], resblocks=1
    ).eval()
    assert type(model.head).__name__ == "MeshSegmentationHead"
    with torch.no_grad():
        expected = model(x, mesh)
        features, same_mesh = model.features(x, mesh)
        assert features.shape == (mesh.num_edges, 8) and same_mesh is mesh
        assert torch.equal(model.head(features, mesh), expected)
    old = {k.replace("head.stage.", "encoder.final."): v for k, v in model.state_dict().items()}
    fresh = create_model(
        "meshcnn_segmenter", num_classes=4, channels=[8, 16], pool_targets=[0.7], resblocks=1
    ).eval()
    with pytest.warns(DeprecationWarning, match="encoder.final"):
        fresh.load_state_dict(old)
    with torch.no_grad():
        assert torch.equal(fresh(x, mesh), expected)
    from geo3d.encoders import MeshUNet

    with pytest.warns(DeprecationWarning, match="MeshUNetEncoder"):
        legacy = MeshUNet(4, channels=(8, 16), pool_targets=(0.7,), resblocks=1).eval()
    legacy.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(legacy(x, mesh), expected)


def test_group_norm_groups_have_their_own_name():
    """``norm_groups`` (MeshCNN's group norm) is not Point-NN's ``num_groups`` (FPS groups);
    the old MeshCNN spelling still works for a release, with a warning."""
    from geo3d.encoders import MeshCNNEncoder

    new = MeshCNNEncoder(channels=(16,), pool_targets=(0.5,), norm_groups=4)
    with pytest.warns(DeprecationWarning, match="norm_groups"):
        old = MeshCNNEncoder(channels=(16,), pool_targets=(0.5,), num_groups=4)
    assert new.norms[0].norm.num_groups == old.norms[0].norm.num_groups == 4
