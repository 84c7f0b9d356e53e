import os
import shutil

import numpy as np
import pytest
import torch

from geo3d.data.datasets import MeshClassificationFolder, MeshSegmentationFolder


def test_classification_folder(shared_data, tmp_path):
    for cls, name in (("animal", "cow"), ("toy", "woody")):
        (tmp_path / cls / "train").mkdir(parents=True)
        shutil.copy(
            os.path.join(shared_data, "meshes", f"{name}.obj"),
            tmp_path / cls / "train" / f"{name}.obj",
        )
    data = MeshClassificationFolder(tmp_path, "train")
    assert data.classes == ["animal", "toy"] and len(data) == 2
    item = data[1]
    assert int(item["label"]) == 1 and item["gemm"].shape == (item["edges"].shape[0], 4)
    with pytest.raises(ValueError, match="classification folder"):
        MeshClassificationFolder(tmp_path, "test")


def test_segmentation_folder_labels_and_mismatch(shared_data, tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "seg").mkdir()
    (tmp_path / "sseg").mkdir()
    shutil.copy(os.path.join(shared_data, "meshes", "woody.obj"), tmp_path / "train" / "woody.obj")
    edges = 1960  # woody's edge count
    labels = np.arange(edges) % 3 + 1  # 1-based, as COSEG's files are
    np.savetxt(tmp_path / "seg" / "woody.eseg", labels, fmt="%d")
    soft = np.eye(3)[labels - 1]
    np.savetxt(tmp_path / "sseg" / "woody.seseg", soft, fmt="%.3f")
    data = MeshSegmentationFolder(tmp_path)
    item = data[0]
    assert data.offset == 1 and data.num_classes == 3
    assert torch.equal(item["edge_labels"], torch.from_numpy(labels - 1))
    assert item["soft_labels"].shape == (edges, 3)
    np.savetxt(tmp_path / "seg" / "woody.eseg", labels[:-5], fmt="%d")
    with pytest.raises(ValueError, match="1960 edges but 1955 edge labels"):
        MeshSegmentationFolder(tmp_path)[0]


def test_collate_meshes_shifts_indices():
    from geo3d.data.collate import collate_meshes
    from geo3d.data.synthetic import SyntheticMeshes

    data = SyntheticMeshes("val", per_class=1, cache_dir=False, progress=False)
    a, b = data[0], data[3]
    batch = collate_meshes([a, b])
    na, ea = a["vertices"].shape[0], a["edges"].shape[0]
    assert batch["vertex_ptr"].tolist() == [0, na, na + b["vertices"].shape[0]]
    assert torch.equal(batch["faces"][a["faces"].shape[0] :], b["faces"] + na)
    assert torch.equal(batch["gemm"][ea:], torch.where(b["gemm"] >= 0, b["gemm"] + ea, b["gemm"]))
    assert batch["label"].tolist() == [int(a["label"]), int(b["label"])]
    assert batch["edge_labels"].shape[0] == batch["edge_ptr"][-1]


def test_stl_and_ply_meshes_read(tmp_path):
    import trimesh

    from geo3d.data.io import read_mesh

    box = trimesh.creation.box(extents=(1, 2, 3))
    for suffix in ("stl", "ply", "off", "obj"):
        box.export(tmp_path / f"box.{suffix}")
        mesh = read_mesh(tmp_path / f"box.{suffix}")
        assert mesh.faces.shape == (12, 3)
        assert torch.allclose(mesh.face_areas().sum(), torch.tensor(22.0), atol=1e-4)
