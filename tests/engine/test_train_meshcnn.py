"""MeshCNN configs on the one training loop: smoke runs on synthetic_meshes, the official
configs validated, and the mesh data errors."""

import glob
import os

import pytest
import torch

from geo3d.data import MeshSampleView, collate_mesh_samples
from geo3d.engine import load_config, run
from geo3d.engine.data import build_datasets
from geo3d.models import create_model

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs")


@pytest.mark.parametrize("task", ["cls", "seg"])
def test_synthetic_meshcnn_configs_train_and_report(task, tmp_path):
    overrides = [
        f"output_dir={tmp_path}",
        "train.epochs=1",
        "train.max_train_batches=2",
        "data.per_class=3",
        "data.batch_size=4",
        "data.eval_batch_size=8",
    ]
    config = load_config(os.path.join(CONFIGS, f"meshcnn_synthetic_{task}.yaml"), overrides)
    results = run(config)
    keys = (
        ["test_oa", "test_macc"]
        if task == "cls"
        else ["test_soft_acc", "test_edge_acc", "test_face_acc", "test_miou"]
    )
    for key in keys:
        assert 0 <= results[key] <= 1, key
    folder = tmp_path / config.name
    assert (folder / "best.pt").is_file() and (folder / "metrics.jsonl").is_file()
    # values: the reported test metrics are those of best.pt, recomputed here from scratch
    from geo3d.engine.checkpoint import load_checkpoint
    from geo3d.engine.tasks import make_task
    from geo3d.engine.trainer import evaluate

    data = build_datasets(config.data)
    model = create_model(config.model.name, num_classes=len(data.classes), **config.model.options)
    model.load_state_dict(load_checkpoint(str(folder / "best.pt"))["model"])
    again = evaluate(model, data.test, config, torch.device("cpu"), 0, 1, make_task(data))
    for key in keys:
        assert again[key[5:]] == pytest.approx(results[key], abs=1e-6), key


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CONFIGS, "meshcnn_*.yaml"))))
def test_every_meshcnn_config_builds_its_model(path):
    config = load_config(path)
    num_classes = 7 if config.data.task == "classification" else 3
    model = create_model(config.model.name, num_classes=num_classes, **config.model.options)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_official_configs_name_their_missing_data():
    config = load_config(
        os.path.join(CONFIGS, "meshcnn_shrec.yaml"), ["data.root=/nonexistent/shrec_16"]
    )
    with pytest.raises(FileNotFoundError, match="shrec_16"):
        build_datasets(config.data)


def test_segmentation_refuses_edge_flips(tmp_path):
    with pytest.raises(ValueError, match=r"'data.augment' = \['flip_edges'\]: edge flips"):
        load_config(
            os.path.join(CONFIGS, "meshcnn_synthetic_seg.yaml"),
            ["data.augment=[flip_edges]", "data.per_class=2"],
        )
    config = load_config(os.path.join(CONFIGS, "meshcnn_synthetic_seg.yaml"), ["data.per_class=2"])
    config.data.augment = ["flip_edges"]  # past the loader: the data set refuses it too
    with pytest.raises(ValueError, match="flip_edges"):
        build_datasets(config.data)


def test_samples_are_standardised_with_training_statistics():
    config = load_config(os.path.join(CONFIGS, "meshcnn_synthetic_seg.yaml"), ["data.per_class=4"])
    data = build_datasets(config.data)
    assert isinstance(data.train, MeshSampleView)
    (features, mesh), targets = collate_mesh_samples(
        [data.train[i] for i in range(len(data.train))]
    )
    # the mean of per-mesh means is 0 on the (unaugmented) training set
    data.train.augment = []
    (features, mesh), targets = collate_mesh_samples(
        [data.train[i] for i in range(len(data.train))]
    )
    per_mesh = torch.stack(
        [features[a:b].mean(0) for a, b in zip(mesh.edge_ptr[:-1], mesh.edge_ptr[1:])]
    )
    assert torch.allclose(per_mesh.mean(0), torch.zeros(5), atol=1e-4)
    assert targets.edge_labels.shape == (mesh.num_edges,)
    assert torch.allclose(
        torch.stack(
            [targets.edge_areas[a:b].sum() for a, b in zip(mesh.edge_ptr[:-1], mesh.edge_ptr[1:])]
        ),
        torch.ones(mesh.num_meshes),
        atol=1e-5,
    )
