import os

import numpy as np
import pytest
import torch

from geo3d.data.io import read_points


@pytest.mark.parametrize(
    "name,encoding",
    [("bunny.pcd", "ascii"), ("colored_cloud.pcd", "binary"), ("car6.pcd", "binary_compressed")],
)
def test_pcd_encodings_read_through_open3d(shared_data, name, encoding):
    path = os.path.join(shared_data, "pcd", name)
    with open(path, "rb") as handle:
        assert f"DATA {encoding}".encode() in handle.read(2048)
    cloud = read_points(path, drop_nonfinite=True)
    assert cloud["xyz"].dtype == torch.float32 and cloud["xyz"].shape[0] > 100
    assert torch.isfinite(cloud["xyz"]).all()
    if "colors" in cloud:
        assert cloud["colors"].shape == cloud["xyz"].shape
        assert 0 <= float(cloud["colors"].min()) and float(cloud["colors"].max()) <= 1


def test_kitti_bin_has_intensity(shared_data):
    cloud = read_points(os.path.join(shared_data, "kitti", "training", "velodyne", "000000.bin"))
    assert cloud["xyz"].shape[0] == cloud["intensity"].shape[0] > 100_000


def test_text_npy_and_ply_round_trips(tmp_path):
    xyz = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    np.savetxt(tmp_path / "a.xyz", xyz)
    assert torch.allclose(read_points(tmp_path / "a.xyz")["xyz"], torch.from_numpy(xyz), atol=1e-6)
    np.save(tmp_path / "a.npy", np.hstack([xyz, xyz[:, :1]]))
    cloud = read_points(tmp_path / "a.npy")
    assert torch.equal(cloud["intensity"], torch.from_numpy(xyz[:, 0]))
    import open3d as o3d

    o3d.io.write_point_cloud(
        str(tmp_path / "a.ply"),
        o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz.astype(np.float64))),
    )
    assert torch.allclose(read_points(tmp_path / "a.ply")["xyz"], torch.from_numpy(xyz), atol=1e-6)


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        read_points(tmp_path / "missing.bin")
    (tmp_path / "cut.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="cut.bin.*not a whole number"):
        read_points(tmp_path / "cut.bin")
    (tmp_path / "bad.pcd").write_text("this is not a pcd file\n")
    with pytest.raises(ValueError, match="bad.pcd"):
        read_points(tmp_path / "bad.pcd")
    (tmp_path / "a.obj").write_text("v 0 0 0\n")
    with pytest.raises(ValueError, match="unknown point-cloud format"):
        read_points(tmp_path / "a.obj")
    (tmp_path / "words.txt").write_text("a b c\n")
    with pytest.raises(ValueError, match="words.txt"):
        read_points(tmp_path / "words.txt")


def test_nan_points_are_an_error_unless_dropped(tmp_path):
    data = np.zeros((4, 4), dtype=np.float32)
    data[2, 1] = np.nan
    data.tofile(tmp_path / "nan.bin")
    with pytest.raises(ValueError, match="1 of 4 points have NaN"):
        read_points(tmp_path / "nan.bin")
    cloud = read_points(tmp_path / "nan.bin", drop_nonfinite=True)
    assert cloud["xyz"].shape == (3, 3) and cloud["intensity"].shape == (3,)
