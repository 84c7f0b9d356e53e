import pytest
import torch

from geo3d.models import create_model
from geo3d.nn import trig_positional_encoding


def small(**kwargs):
    return create_model("point_pn", num_classes=5, num_groups=32, k=8, **kwargs)


def test_parameter_count_matches_the_paper():
    count = sum(p.numel() for p in create_model("point_pn", num_classes=40).parameters())
    assert 760_000 < count < 780_000  # "0.8 M"; the official model has 0.77 M
    assert create_model("point_pn").encoder.out_dim == 288


def test_forward_backward_shapes_and_gradients():
    model = small()
    points = torch.rand(4, 96, 3)
    logits = model(points)
    assert logits.shape == (4, 5)
    logits.logsumexp(1).sum().backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert not missing
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(points), model(points))


def test_scanobjectnn_variant_with_height_and_max_normalisation():
    model = small(in_channels=4, xyz_normalization="max")
    points = torch.cat([torch.rand(2, 96, 3), torch.rand(2, 96, 1)], dim=-1)
    assert model(points).shape == (2, 5)


def test_blocked_positional_layout_is_used():
    stage = small().encoder.stages[0]
    x = torch.rand(1, 1, 1, 3)
    encoding = trig_positional_encoding(x, 72, layout="blocked")
    assert torch.allclose(
        encoding[..., :12], torch.sin(100 * x[..., :1] / 1000 ** (torch.arange(12) / 12))
    )
    assert stage.expand.linear.in_features == 72 and stage.expand.linear.out_features == 72


def test_bad_input():
    model = small()
    with pytest.raises(ValueError, match="at least 32 points"):
        model(torch.rand(2, 20, 3))
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        model(torch.rand(2, 96, 4))


def test_model_classes_by_their_names():
    from geo3d.models import PointNN, PointPN

    features = PointNN(num_stages=2, embed_dim=12, k=6, num_groups=16).eval()(torch.rand(2, 64, 3))
    assert features.shape == (2, 48)
    assert PointNN().out_dim == 1152
    model = PointPN(num_classes=7, num_groups=32, k=8)
    assert model(torch.rand(2, 96, 3)).shape == (2, 7)
    assert sum(p.numel() for p in PointPN(40).parameters()) == sum(
        p.numel() for p in create_model("point_pn", num_classes=40).parameters()
    )


def test_plug_and_play_adds_point_nn_logits():
    from geo3d.models import PlugAndPlay

    trained = small().eval()
    point_nn = create_model(
        "point_nn", num_classes=5, num_stages=2, embed_dim=12, k=6, num_groups=16
    )
    points = torch.rand(10, 96, 3)
    point_nn.fit([(points, torch.arange(10) % 5)])
    combined = PlugAndPlay(trained, point_nn, weight=0.5)
    with torch.no_grad():
        assert torch.allclose(combined(points), trained(points) + 0.5 * point_nn(points))


def test_index_work_is_in_preprocess_and_the_core_exports_without_it():
    """FPS and kNN run in ``preprocess``; the encoder and head after it take the indices as
    inputs, so ``torch.export`` of the core holds gathers but no sampling or search."""
    model = small().eval()
    points = torch.rand(2, 96, 3)
    inputs = model.preprocess(points)
    assert inputs[0] is points and len(inputs) == 1 + 2 * 4
    assert all(t.dtype == torch.int64 for t in inputs[1:])
    assert [tuple(t.shape) for t in inputs[1:3]] == [(2, 32), (2, 32, 8)]

    class Core(torch.nn.Module):
        def __init__(self, pipeline):
            super().__init__()
            self.encoder, self.head = pipeline.encoder, pipeline.head

        def forward(self, points, *indices):
            return self.head(self.encoder(points, *indices))

    core = Core(model)
    with torch.no_grad():
        assert torch.equal(core(*inputs), model(points))
        exported = torch.export.export(core, inputs)
    targets = {str(node.target) for node in exported.graph.nodes if node.op == "call_function"}
    assert any("gather_points" in t for t in targets)
    assert not any("farthest_point_sample" in t or "knn" in t for t in targets), targets
    with pytest.raises(ValueError, match="index tensors"):
        model.encoder(points, *inputs[1:3])
