"""Exported detectors: the ONNX core in onnxruntime equals PyTorch's, and the boxes after the
same native pre- and postprocessing match, on a near-empty scene, a typical one and one at
the voxel limit; the exported graph passes TensorRT's operator check; the padded forms the
exporter traces equal the packed forms training uses."""

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from geo3d.data.synthetic import SyntheticLidar  # noqa: E402
from geo3d.export import check_profile, check_tensorrt_ops, export_detector, load_deployed  # noqa: E402
from geo3d.models import create_model  # noqa: E402
from geo3d.ops import box_iou_bev  # noqa: E402

RANGE = [-51.2, -35.84, -3.0, 51.2, 35.84, 1.0]
BEV = dict(
    layer_nums=[1, 1, 1],
    num_filters=[16, 16, 16],
    upsample_filters=[16, 16, 16],
    head_channels=16,
    heading="axis_direction",
    score_threshold=0.3,
    max_objects=60,
)
DSVT = dict(
    voxel_size=[0.32, 0.32, 4.0],
    point_range=RANGE,
    vfe_channels=[16, 16],
    d_model=16,
    heads=2,
    ffn=32,
    blocks=2,
    set_size=12,
    layer_strides=[1, 2, 2],
    **BEV,
)
# Small versions of each exportable detector; PointPillars with hard voxelization's caps.
MODELS = {
    "pointpillars": dict(
        voxel_size=[0.32, 0.32, 4.0],
        point_range=RANGE,
        pillar_channels=[16],
        max_points_per_pillar=12,
        max_pillars=[3000, 3000],
        **BEV,
    ),
    "dsvt_pillar": DSVT,
    "pvt_pillar": DSVT,
    "dsvt_voxel": dict(
        {k: v for k, v in DSVT.items() if k not in ("voxel_size", "blocks")},
        voxel_size=[0.32, 0.32, 0.5],  # 8 z layers: stages of 8, 2 and 1
        stage_depths=[8, 2, 1],
        z_pools=[4, 2],
        blocks_per_stage=[1, 1, 1],
    ),
    "centerpoint_voxel": dict(
        voxel_size=[0.32, 0.32, 0.16],
        point_range=RANGE,
        max_points_per_voxel=None,
        max_voxels=None,
        sparse_channels=[8, 8, 16, 16],
        sparse_out_channels=16,
        **dict(BEV, layer_nums=[1, 1], num_filters=[16, 16], upsample_filters=[16, 16]),
    ),
}


def tiny_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, **MODELS[name])
    with torch.no_grad():  # spread the scores (the head's prior puts them all near 0.1)
        model.head.heatmap[-1].bias.zero_()
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def frames():
    """A near-empty scene, a typical one (every 8th point of a synthetic sweep) and a dense
    one (every 2nd point), exported as the voxel limit (PointPillars: above its 3000-pillar
    cap, so capped to exactly the limit)."""
    sweep = SyntheticLidar("val", frames=1)[0]["points"]
    generator = torch.Generator().manual_seed(1)
    low, high = torch.tensor(RANGE[:3]), torch.tensor(RANGE[3:])
    near_empty = torch.cat(
        [low + (high - low) * torch.rand(40, 3, generator=generator), torch.rand(40, 1)], 1
    )
    return {
        "empty": torch.tensor([[500.0, 0.0, 0.0, 0.5]]),  # nothing in range
        "near_empty": near_empty,
        "typical": sweep[::8].contiguous(),
        "at_limit": sweep[::2].contiguous(),
    }


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, frames, tmp_path_factory):
    name = request.param
    model = tiny_model(name)
    directory = tmp_path_factory.mktemp(name)
    config = {"model": {"name": name, "options": MODELS[name]}}
    limit = model.export_inputs(frames["at_limit"])[0]["voxel_rows"].shape[0]
    result = export_detector(
        model,
        [frames["typical"]],
        str(directory),
        config=config,
        classes=list(SyntheticLidar.classes),
        max_voxels=limit,
    )
    return name, model, result, limit


def test_the_exported_graph_passes_the_tensorrt_check_and_names_its_inputs(exported):
    name, model, result, limit = exported
    check_tensorrt_ops(result.onnx_path)
    names = [spec["name"] for spec in result.manifest["inputs"]]
    assert names[:4] == ["points", "point_voxels", "row_slots", "voxel_rows"]
    if name == "centerpoint_voxel":  # one neighbour map per convolution key
        assert "neighbors_subm1" in names and "neighbors_spconv_down2" in names
        assert names[-1] == "bev_index"
    elif name == "dsvt_voxel":  # per stage both partitions, pooling slots between stages
        assert names[4] == "voxels" and names[-1] == "bev_index"
        assert {"stage0_sets_1", "stage2_set_back_0", "pool_slots_0", "pool_slots_1"} < set(names)
        assert "voxels_2" in result.manifest["profile"]
    else:
        assert names[4:6] == ["voxels", "bev_index"]
    if name in ("dsvt_pillar", "pvt_pillar"):
        assert "sets_1" in names and "set_back_0" in names
    assert result.manifest["profile"]["voxels"][2] == limit
    assert result.manifest["opset"] == 18
    # PointPillars' own cap is kept; DSVT keeps every point (the slot rows are exact)
    cap = 12 if name == "pointpillars" else None
    assert result.manifest["max_points_per_voxel"] == cap
    assert result.manifest["profile"]["rows_per_voxel"][2] == (2 if cap else 128)  # traced at 2


@pytest.mark.parametrize("scene", ["empty", "near_empty", "typical", "at_limit"])
def test_onnxruntime_equals_pytorch_core_and_boxes(exported, frames, scene):
    name, model, result, limit = exported
    points = frames[scene]
    onnx = load_deployed(result.directory, "onnxruntime")
    torch_path = load_deployed(result.directory, "torch", detector=model)
    inputs = torch_path.prepare(points)
    if scene == "at_limit":
        assert inputs["voxel_rows"].shape[0] == limit
        if name == "pointpillars":
            assert limit == 3000  # the evaluation cap
    expected, got = torch_path.runtime(inputs), onnx.runtime(inputs)
    for a, b in zip(expected, got):
        assert a.shape == b.shape and b.dtype == torch.float32
        scale = a.abs().max().clamp(min=1e-6)
        assert float((a - b).abs().max() / scale) < 1e-4
    boxes_torch, boxes_onnx = torch_path(points), onnx(points)
    assert boxes_torch["boxes"].shape == boxes_onnx["boxes"].shape
    if scene == "empty":  # padded up to the profile's minimum: the model's empty canvas
        with torch.no_grad():
            packed = model(points, torch.zeros(1, dtype=torch.long), torch.tensor(1))
        torch.testing.assert_close(got[0], packed[0], atol=1e-4, rtol=1e-4)
        return
    assert boxes_torch["boxes"].shape[0] > 0
    torch.testing.assert_close(boxes_onnx["scores"], boxes_torch["scores"], atol=1e-4, rtol=0)
    # Pairwise: every box has a twin of the same class and score at IoU > 0.99, except where
    # its score ties with another heatmap cell's (empty canvas cells give equal scores; which
    # of them top-k keeps is decided by rounding, in any runtime).
    iou = box_iou_bev(boxes_torch["boxes"].double(), boxes_onnx["boxes"].double())
    twin = (
        (iou > 0.99)
        & (boxes_torch["labels"][:, None] == boxes_onnx["labels"][None])
        & ((boxes_torch["scores"][:, None] - boxes_onnx["scores"][None]).abs() < 1e-4)
    )
    heat = torch.sigmoid(expected[0]).flatten()
    distinct = ((heat[None] - boxes_torch["scores"][:, None]).abs() < 1e-5).sum(1) == 1
    assert bool(twin.any(1)[distinct].all()), iou.max(1).values[distinct].min()
    if scene not in ("empty", "near_empty"):
        assert int(distinct.sum()) >= 1  # boxes near points, where scores differ, are checked


def test_the_deployed_path_gives_the_model_own_predictions(exported, frames):
    """Padded export inputs + core + decoding = the training-time model's forward on the
    scene (packed segments, scatter reductions), to float tolerance."""
    name, model, result, _ = exported
    points = frames["typical"]
    with torch.no_grad():
        batch = torch.zeros(points.shape[0], dtype=torch.long)
        expected = model.predict(model(points, batch, torch.tensor(1)))[0]
    found = load_deployed(result.directory, "onnxruntime")(points)
    assert found["boxes"].shape == expected["boxes"].shape
    torch.testing.assert_close(found["scores"], expected["scores"], atol=1e-4, rtol=0)


def test_a_scene_outside_the_profile_gets_a_named_error(exported, frames):
    name, model, result, _ = exported
    inputs, _ = model.export_inputs(frames["typical"])
    manifest = dict(result.manifest, profile=dict(result.manifest["profile"], voxels=[1, 5, 10]))
    with pytest.raises(ValueError, match=r"voxels .*outside the exported range 1 to 10"):
        check_profile(inputs, manifest)


@pytest.mark.parametrize("name", ["pointpillars", "dsvt_pillar", "dsvt_voxel"])
def test_a_static_export_pads_each_scene_and_gives_the_same_boxes(name, frames, tmp_path):
    """Fixed shapes: every scene padded to the export's sizes; padding voxels and sets never
    reach an output, so the boxes equal the dynamic PyTorch path's."""
    model = tiny_model(name)
    config = {"model": {"name": name, "options": MODELS[name]}}
    result = export_detector(
        model,
        [frames["typical"]],
        str(tmp_path),
        config=config,
        classes=list(SyntheticLidar.classes),
        max_voxels=9000,
        static=True,
    )
    assert result.manifest["static"] and all(
        isinstance(d, int) for spec in result.manifest["inputs"] for d in spec["shape"]
    )
    onnx = load_deployed(result.directory, "onnxruntime")
    for scene in ("near_empty", "typical"):
        points = frames[scene]
        inputs = onnx.prepare(points)
        assert inputs["voxels"].shape[0] == 9000
        with torch.no_grad():
            batch = torch.zeros(points.shape[0], dtype=torch.long)
            outputs = model(points, batch, torch.tensor(1))
            expected = model.predict(outputs)[0]
        core = onnx.runtime(inputs)
        for a, b in zip(outputs, core):
            assert float((a - b).abs().max() / a.abs().max()) < 1e-4
        found = onnx(points)
        assert found["boxes"].shape == expected["boxes"].shape
        torch.testing.assert_close(found["scores"], expected["scores"], atol=1e-4, rtol=0)
    too_many = model.export_inputs(frames["at_limit"])[0]["voxels"].shape[0]
    if too_many > 9000:
        with pytest.raises(ValueError, match="more than the export's fixed 9000"):
            onnx.prepare(frames["at_limit"])


def test_a_detector_without_an_export_path_says_so(tmp_path):
    from geo3d.models.center_detector import CenterDetector
    from geo3d.models.dsvt import DSVTVoxel

    class Unexported(DSVTVoxel):  # a detector that leaves the base class's export_inputs
        export_inputs = CenterDetector.export_inputs

    model = Unexported(3, **dict(MODELS["dsvt_voxel"], layer_strides=(1, 2, 2))).eval()
    with pytest.raises(NotImplementedError, match="Unexported has no export path yet"):
        export_detector(model, [torch.rand(100, 4)], str(tmp_path))
