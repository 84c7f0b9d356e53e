"""The distributed layouts, written here in miniature (the real sets are gigabytes)."""

import json

import h5py
import numpy as np
import pytest
import torch

from geo3d.data.datasets import ModelNetH5, ModelNetNormalResampled, ScanObjectNN, ShapeNetPart


def test_modelnet_normal_resampled(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "modelnet40_shape_names.txt").write_text("airplane\nbathtub\n")
    (tmp_path / "modelnet40_train.txt").write_text("bathtub_0001\nairplane_0002\n")
    (tmp_path / "modelnet40_test.txt").write_text("airplane_0003\n")
    clouds = {}
    for shape_id in ("bathtub_0001", "airplane_0002", "airplane_0003"):
        folder = tmp_path / shape_id.rsplit("_", 1)[0]
        folder.mkdir(exist_ok=True)
        clouds[shape_id] = rng.normal(size=(50, 6)).astype(np.float32)
        np.savetxt(folder / f"{shape_id}.txt", clouds[shape_id], delimiter=",", fmt="%.6f")
    data = ModelNetNormalResampled(tmp_path, "train", num_points=20)
    assert len(data) == 2 and data.classes == ["airplane", "bathtub"]
    item = data[0]
    assert int(item["label"]) == 1 and item["points"].shape == (20, 3)
    assert torch.allclose(
        item["points"], torch.from_numpy(clouds["bathtub_0001"][:20, :3]), atol=1e-5
    )
    assert torch.allclose(
        item["normals"], torch.from_numpy(clouds["bathtub_0001"][:20, 3:]), atol=1e-5
    )
    with pytest.raises(ValueError, match="modelnet10_shape_names.txt"):
        ModelNetNormalResampled(tmp_path, num_classes=10)


def write_h5(path, data, label, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle["data"], handle["label"] = data, label
        for key, value in extra.items():
            handle[key] = value


def test_modelnet_h5_concatenates_files(tmp_path):
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(3, 64, 3)).astype(np.float32) for _ in range(2)]
    for i, part in enumerate(parts):
        write_h5(tmp_path / f"ply_data_train{i}.h5", part, np.full((3, 1), i, dtype=np.uint8))
    (tmp_path / "shape_names.txt").write_text("a\nb\n")
    data = ModelNetH5(tmp_path, "train", num_points=32)
    assert len(data) == 6 and data[4]["points"].shape == (32, 3) and int(data[4]["label"]) == 1
    assert torch.equal(data[4]["points"], torch.from_numpy(parts[1][1, :32]))
    with pytest.raises(ValueError, match="ply_data_test"):
        ModelNetH5(tmp_path, "test")


def test_scanobjectnn_variants(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal(size=(4, 100, 3)).astype(np.float32)
    write_h5(
        tmp_path / "main_split" / "test_objectdataset_augmentedrot_scale75.h5",
        data,
        np.arange(4),
        mask=np.zeros((4, 100)),
    )
    test = ScanObjectNN(tmp_path, "PB_T50_RS", "test", num_points=64)
    assert len(test) == 4 and test[3]["label"].item() == 3 and len(test.classes) == 15
    assert torch.equal(test[2]["points"], torch.from_numpy(data[2, :64]))
    with pytest.raises(FileNotFoundError, match="main_split_nobg"):
        ScanObjectNN(tmp_path, "OBJ_ONLY", "test")
    with pytest.raises(ValueError, match="variant"):
        ScanObjectNN(tmp_path, "OBJ_WHATEVER")
    (tmp_path / "main_split" / "training_objectdataset.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        ScanObjectNN(tmp_path, "OBJ_BG", "train")


def test_shapenet_part(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "synsetoffset2category.txt").write_text("Airplane\t02691156\nChair\t03001627\n")
    (tmp_path / "train_test_split").mkdir()
    (tmp_path / "train_test_split" / "shuffled_train_file_list.json").write_text(
        json.dumps(["shape_data/03001627/abc", "shape_data/02691156/def"])
    )
    for synset, shape_id in (("03001627", "abc"), ("02691156", "def")):
        (tmp_path / synset).mkdir()
        rows = np.hstack([rng.normal(size=(30, 6)), rng.integers(0, 4, (30, 1))])
        np.savetxt(tmp_path / synset / f"{shape_id}.txt", rows, fmt="%.5f")
    data = ShapeNetPart(tmp_path, "train", num_points=40)
    item = data[0]
    assert int(item["label"]) == 1 and item["points"].shape == (40, 3)
    assert item["part_labels"].dtype == torch.int64 and item["part_labels"].max() < 4
    assert torch.equal(data[0]["points"], item["points"])  # deterministic per item
    with pytest.raises(ValueError, match="shuffled_val_file_list"):
        ShapeNetPart(tmp_path, "val")
