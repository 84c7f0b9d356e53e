import torch

from geo3d.data.synthetic import SHAPE_CLASSES, SyntheticShapes


def global_statistics(points):
    """Single global statistics of each cloud (B, N, 3) -> dict of (B,)."""
    radius = points.norm(dim=-1)
    centred = points - points.mean(1, keepdim=True)
    eigen = torch.linalg.eigvalsh(centred.transpose(1, 2) @ centred / points.shape[1])
    return {
        "mean_radius": radius.mean(1),
        "std_radius": radius.std(1),
        "planarity": eigen[:, 0] / eigen[:, 2],
        "linearity": eigen[:, 1] / eigen[:, 2],
        "z_extent": points[..., 2].amax(1) - points[..., 2].amin(1),
    }


def test_reproducible_bit_for_bit_and_cached(tmp_path):
    first = SyntheticShapes(
        "val", num_points=256, per_class=3, seed=7, cache_dir=tmp_path, progress=False
    )
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"
    fresh = SyntheticShapes(
        "val", num_points=256, per_class=3, seed=7, cache_dir=False, progress=False
    )
    cached = SyntheticShapes(
        "val", num_points=256, per_class=3, seed=7, cache_dir=tmp_path, progress=False
    )
    for other in (fresh, cached):
        assert torch.equal(first.points, other.points) and torch.equal(first.normals, other.normals)
        assert torch.equal(first.labels, other.labels)
    different = SyntheticShapes(
        "val", num_points=256, per_class=3, seed=8, cache_dir=False, progress=False
    )
    assert not torch.equal(first.points, different.points)
    test_split = SyntheticShapes(
        "test", num_points=256, per_class=3, seed=7, cache_dir=False, progress=False
    )
    assert not torch.equal(first.points, test_split.points)  # splits are disjoint draws


def test_items_shapes_and_normalisation():
    data = SyntheticShapes("val", num_points=300, per_class=2, cache_dir=False, progress=False)
    assert len(data) == 2 * len(SHAPE_CLASSES) >= 20
    item = data[5]
    assert item["points"].shape == (300, 3) and item["normals"].shape == (300, 3)
    assert item["points"].dtype == torch.float32 and item["label"].dtype == torch.int64
    assert torch.allclose(data.normals.norm(dim=-1), torch.ones(1), atol=1e-4)
    radius = data.points.norm(dim=-1).amax(1)
    assert (radius < 1.1).all() and (radius > 0.9).all()  # unit sphere, plus the noise


def test_not_separable_by_any_single_global_statistic():
    train = SyntheticShapes("train", cache_dir=False, progress=False)
    test = SyntheticShapes("test", cache_dir=False, progress=False)
    train_stats, test_stats = global_statistics(train.points), global_statistics(test.points)
    for name, values in train_stats.items():
        means = torch.stack([values[train.labels == c].mean() for c in range(len(SHAPE_CLASSES))])
        predicted = (test_stats[name][:, None] - means[None]).abs().argmin(1)
        accuracy = float((predicted == test.labels).float().mean())
        assert 1.5 / len(SHAPE_CLASSES) < accuracy < 0.6, f"{name}: {accuracy:.2f}"
