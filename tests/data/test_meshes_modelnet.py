import glob
import os
import shutil

import pytest
import torch

from geo3d.data.datasets import ModelNetMeshFolder
from geo3d.data.io import read_mesh
from geo3d.structures import Mesh, sample_surface


def test_real_meshes_read(shared_data):
    paths = sorted(glob.glob(os.path.join(shared_data, "meshes", "*.obj")))
    paths += sorted(glob.glob(os.path.join(shared_data, "modelnet", "*", "*", "*", "*.off")))
    assert len(paths) >= 17
    for path in paths:
        mesh = read_mesh(path)
        assert mesh.vertices.dtype == torch.float32 and mesh.faces.dtype == torch.int64
        assert mesh.faces.shape[0] > 0 and int(mesh.faces.max()) < mesh.vertices.shape[0]
    bunny = read_mesh(os.path.join(shared_data, "meshes", "stanford-bunny.obj"))
    assert bunny.faces.shape[0] > 69_000


def test_merged_off_header_is_repaired(tmp_path):
    (tmp_path / "a.off").write_text("OFF4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n")
    mesh = read_mesh(tmp_path / "a.off")
    assert mesh.vertices.shape == (4, 3) and mesh.faces.tolist() == [[0, 1, 2], [0, 1, 3]]


def test_bad_mesh_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.obj"):
        read_mesh(tmp_path / "nope.obj")
    (tmp_path / "x.gltf").write_text("{}")
    with pytest.raises(ValueError, match="unknown mesh format"):
        read_mesh(tmp_path / "x.gltf")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(ValueError, match="empty.obj"):
        read_mesh(tmp_path / "empty.obj")
    (tmp_path / "junk.off").write_text("OFF\n3 1 0\n0 0 zero\n")
    with pytest.raises(ValueError, match="junk.off"):
        read_mesh(tmp_path / "junk.off")


def test_surface_samples_lie_on_the_surface_uniformly():
    # A unit square of two triangles of different shapes: samples uniform over the area.
    mesh = Mesh(
        torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]),
        torch.tensor([[0, 1, 2], [0, 2, 3]]),
    )
    points, normals = sample_surface(mesh, 20000, torch.Generator().manual_seed(0))
    assert (points[:, 2] == 0).all() and (points[:, :2] >= 0).all() and (points[:, :2] <= 1).all()
    assert torch.allclose(normals, torch.tensor([0.0, 0, 1]).expand_as(normals))
    histogram = torch.histc(points[:, 0], bins=4, min=0, max=1) / 20000
    assert torch.allclose(histogram, torch.full((4,), 0.25), atol=0.02)
    again, _ = sample_surface(mesh, 20000, torch.Generator().manual_seed(0))
    assert torch.equal(points, again)


def test_modelnet_folder_on_real_layout(shared_data):
    root = os.path.join(shared_data, "modelnet", "ModelNet40")
    train = ModelNetMeshFolder(root, "train", num_points=512)
    assert train.classes == ["desk", "monitor"] and len(train) == 2
    item = train[1]
    assert item["points"].shape == (512, 3) and item["normals"].shape == (512, 3)
    assert int(item["label"]) == 1 and item["path"].endswith("monitor_0001.off")
    assert torch.equal(train[1]["points"], item["points"])  # the same sample every time


def test_modelnet_folder_errors_and_skipping(shared_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ModelNetMeshFolder(tmp_path / "nowhere")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.off").write_text("OFF\n")
    with pytest.raises(ValueError, match="not a ModelNet folder"):
        ModelNetMeshFolder(tmp_path / "flat")
    root = tmp_path / "mn"
    good = os.path.join(
        shared_data, "modelnet", "ModelNet40", "monitor", "train", "monitor_0001.off"
    )
    (root / "monitor" / "train").mkdir(parents=True)
    shutil.copy(good, root / "monitor" / "train" / "monitor_0001.off")
    (root / "monitor" / "train" / "monitor_0002.off").write_text("OFF\nbroken\n")
    strict = ModelNetMeshFolder(root)
    with pytest.raises(ValueError, match="monitor_0002.off"):
        strict[1]
    lenient = ModelNetMeshFolder(root, skip_bad_files=True)
    with pytest.warns(RuntimeWarning, match="monitor_0002.off"):
        item = lenient[1]
    assert item["path"].endswith("monitor_0001.off")
