"""Data sets by name: one registry for points, meshes and scenes; old import paths warn."""

import importlib
import sys

import pytest
import torch

from geo3d.data import DataBundle, available_datasets, build_dataset, dataset_kind, register_dataset


def test_every_kind_is_served():
    assert {"synthetic_shapes", "modelnet40_h5", "scanobjectnn"} <= set(
        available_datasets("points")
    )
    assert set(available_datasets("meshes")) == {
        "synthetic_meshes",
        "meshcnn_classification",
        "meshcnn_segmentation",
    }
    assert set(available_datasets("scenes")) == {"synthetic_lidar", "kitti"}
    assert dataset_kind("synthetic_lidar") == "scenes"


def test_point_and_mesh_bundles_batch():
    points = build_dataset("synthetic_shapes", num_points=64, per_class=2)
    assert points.kind == "points" and points.task == "classification"
    cloud, label = points.train[0]
    assert cloud.shape == (64, 3) and label.dtype == torch.int64
    meshes = build_dataset("synthetic_meshes", task="segmentation", features="exact", per_class=1)
    assert meshes.kind == "meshes" and meshes.classes == ["side", "top", "bottom"]
    (features, mesh), targets = meshes.collate_fn([meshes.train[0], meshes.train[1]])
    assert features.shape == (mesh.num_edges, 5) and targets.edge_labels.shape == (mesh.num_edges,)


def test_scene_bundle_batches_boxes():
    scenes = build_dataset("synthetic_lidar", frames=2)
    assert scenes.kind == "scenes" and scenes.task == "detection" and scenes.val is scenes.test
    batch = scenes.collate_fn([scenes.train[0], scenes.train[1]])
    assert batch["points"].shape[0] == batch["batch"].shape[0]
    assert batch["boxes"].shape[:2] == batch["box_labels"].shape


def test_bad_names_and_options_are_named():
    with pytest.raises(ValueError, match="unknown data set 'modelnet41'"):
        build_dataset("modelnet41")
    with pytest.raises(ValueError, match="takes no option 'features'"):
        build_dataset("synthetic_shapes", features="exact")
    with pytest.raises(ValueError, match="needs 'root'"):
        build_dataset("kitti")
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset("synthetic_shapes", "points")(lambda: None)
    with pytest.raises(ValueError, match="'kind'"):
        register_dataset("x", "clouds")


def test_a_new_data_set_registers_and_builds():
    name = "test_registry_tiny"
    if name not in available_datasets():

        @register_dataset(name, "points")
        def tiny(size=3):
            data = [(torch.zeros(4, 3), torch.tensor(0))] * size
            return DataBundle(data, data, data, ["only"], "points", "classification")

    assert len(build_dataset(name, size=5).train) == 5


def test_old_paths_warn_and_still_work():
    from geo3d.data import ClassificationView

    with pytest.warns(DeprecationWarning, match="geo3d.data.point_views.ClassificationView"):
        from geo3d.engine.data import ClassificationView as old
    assert old is ClassificationView
    sys.modules.pop("geo3d.engine.mesh_data", None)
    with pytest.warns(DeprecationWarning, match="geo3d.data.mesh_samples"):
        module = importlib.import_module("geo3d.engine.mesh_data")
    from geo3d.data import collate_mesh_samples

    assert module.collate_mesh_samples is collate_mesh_samples


def test_meshcnn_folders_serve_one_task_each():
    with pytest.raises(ValueError, match="meshcnn_classification serves classification only"):
        build_dataset("meshcnn_classification", root="/nowhere", task="segmentation")
    with pytest.raises(ValueError, match="needs 'root'"):
        build_dataset("meshcnn_segmentation")
