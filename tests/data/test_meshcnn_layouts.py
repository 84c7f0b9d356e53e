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
