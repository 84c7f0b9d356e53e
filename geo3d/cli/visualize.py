"""Draw a sample of a data set, or a file: an Open3D window where there is a display,
a PNG where there is none (or where --out is given).

    geo3d visualize synthetic_shapes --split val --index 3
    geo3d visualize synthetic_lidar --split val --index 0    # points and boxes
    geo3d visualize synthetic_meshes --split val --index 5   # faces coloured by part
    geo3d visualize modelnet ROOT --split test --index 0
    geo3d visualize kitti ROOT --frame 000000          # points and label boxes
    geo3d visualize points FILE [--boxes BOXES.json]    # .bin .pcd .ply .xyz ...
    geo3d visualize synthetic_meshes --index 5 --edges  # MeshCNN's edge labels
    geo3d visualize mesh FILE                           # .obj .off .ply .stl
    geo3d visualize mesh FILE --pool 0.5 0.25           # and after each pooling
    geo3d visualize model --config C.yaml --checkpoint best.pt --split test --index 3

``--pool`` pools by MeshCNN's edge collapse with the mesh's own standardised features as
priorities (what a pooling right after the input sees), by the official rules or, with
``--pool-variant exact``, by geo3d's current-one-ring rules. ``model`` draws a trained MeshCNN:
a segmenter's labels and predictions per edge side by side, a classifier's mesh after
each of its poolings, with the true and predicted class in the title; a detector's
points with the true (red) and predicted (green) boxes.

The KITTI ROOT is the folder holding velodyne/, label_2/ and calib/ (the ``training``
folder). A boxes JSON holds a list of ``[x, y, z, dx, dy, dz, heading]`` or a dict with
"boxes" whose entries are such lists or dicts with a "box" key (as nuScenes' boxes.json).
"""

from __future__ import annotations

import json
import os

import torch

from geo3d import vis
from geo3d.data.io import (
    kitti_objects_to_lidar_boxes,
    read_kitti_calibration,
    read_kitti_labels,
    read_mesh,
    read_points,
)
from geo3d.engine.cli import add_checkpoint_options, tool_parser
from geo3d.optional import require

TOP_DOWN = {
    "front": [-0.6, 0.0, 0.8],
    "lookat": [20.0, 0.0, 0.0],
    "up": [1.0, 0.0, 0.0],
    "zoom": 0.25,
}


def load_boxes(path: str) -> torch.Tensor:
    with open(path) as handle:
        data = json.load(handle)
    entries = data["boxes"] if isinstance(data, dict) else data
    boxes = [entry["box"] if isinstance(entry, dict) else entry for entry in entries]
    return torch.tensor(boxes, dtype=torch.float64).reshape(-1, 7)


def model_geometries(args) -> tuple[list, str]:
    """A trained MeshCNN or detector on one sample (see the module docstring)."""
    from geo3d.data import collate_mesh_samples
    from geo3d.engine import load_config
    from geo3d.engine.checkpoint import fit_weights, load_checkpoint
    from geo3d.engine.data import build_datasets
    from geo3d.models import create_model

    config = load_config(args.config)
    state = load_checkpoint(args.checkpoint, unsafe=args.unsafe_load_checkpoint)
    data = build_datasets(config.data)
    model = create_model(config.model.name, num_classes=len(data.classes), **config.model.options)
    fit_weights(model, state, args.checkpoint)
    model.eval()
    dataset = {"train": data.train, "val": data.val, "test": data.test}[args.split]
    if config.data.task == "detection":
        batch = data.collate_fn([dataset[args.index]])
        return vis.detection_views(model, batch, data.classes, min_score=args.min_score)
    dataset.augment = []
    sample = dataset[args.index]
    (features, mesh), targets = collate_mesh_samples([sample])
    vertices, faces = sample["vertices"], sample["faces"]
    if config.data.task == "segmentation":
        return vis.segmentation_views(model, features, mesh, targets.edge_labels, vertices, faces)
    return vis.classifier_stage_views(
        model, features, mesh, vertices, faces, data.classes, targets[0]
    )


def scene_geometries(args) -> tuple[list, str, dict | None]:
    """The geometries to draw, a title, and a view (None: Open3D fits the scene)."""
    if args.source == "synthetic_shapes":
        from geo3d.data.synthetic import SyntheticShapes

        data = SyntheticShapes(args.split)
        item = data[args.index]
        title = f"synthetic_shapes {args.split} {args.index}: {data.classes[int(item['label'])]}"
        return [vis.point_geometry(item["points"])], title, None
    if args.source == "synthetic_lidar":
        from geo3d.data.synthetic import SyntheticLidar

        item = SyntheticLidar(args.split)[args.index]
        title = f"synthetic_lidar {args.split} {args.index}: {len(item['names'])} objects"
        return [vis.point_geometry(item["points"]), vis.box_lines(item["boxes"])], title, TOP_DOWN
    if args.source == "synthetic_meshes":
        from geo3d.data.synthetic import SyntheticMeshes

        data = SyntheticMeshes(args.split)
        item = data[args.index]
        title = f"synthetic_meshes {args.split} {args.index}: {data.classes[int(item['label'])]}"
        if args.edges:
            shaded = vis.mesh_geometry(item["vertices"], item["faces"])
            return (
                [shaded, vis.edge_lines(item["vertices"], item["edges"], item["edge_labels"])],
                title,
                None,
            )
        geometry = vis.mesh_geometry(
            item["vertices"], item["faces"], face_labels=item["face_labels"]
        )
        return [geometry], title, None
    if args.source == "modelnet":
        from geo3d.data.datasets import ModelNetMeshFolder

        data = ModelNetMeshFolder(args.path, args.split, num_points=args.num_points)
        item = data[args.index]
        title = f"{os.path.basename(item['path'])}: {data.classes[int(item['label'])]}"
        return [vis.point_geometry(item["points"])], title, None
    if args.source == "kitti":
        root = args.path
        cloud = read_points(os.path.join(root, "velodyne", f"{args.frame}.bin"))
        objects = read_kitti_labels(os.path.join(root, "label_2", f"{args.frame}.txt"))
        calibration = read_kitti_calibration(os.path.join(root, "calib", f"{args.frame}.txt"))
        boxes, names = kitti_objects_to_lidar_boxes(objects, calibration)
        title = f"KITTI {args.frame}: {len(names)} objects ({', '.join(sorted(set(names)))})"
        return [vis.point_geometry(cloud["xyz"]), vis.box_lines(boxes)], title, TOP_DOWN
    if args.source == "points":
        cloud = read_points(args.path, drop_nonfinite=True)
        geometries = [vis.point_geometry(cloud["xyz"], colors=cloud.get("colors"))]
        if args.boxes:
            geometries.append(vis.box_lines(load_boxes(args.boxes)))
        return geometries, os.path.basename(args.path), None
    if args.source == "mesh":
        mesh = read_mesh(args.path)
        if args.pool:
            geometries = vis.pooling_levels(mesh.vertices, mesh.faces, args.pool, args.pool_variant)
            title = f"{os.path.basename(args.path)} pooled to {args.pool}"
            return geometries, title, None
        return [vis.mesh_geometry(mesh.vertices, mesh.faces)], os.path.basename(args.path), None
    if args.source == "model":
        geometries, title = model_geometries(args)
        return geometries, title, TOP_DOWN if title.startswith("true/predicted") else None
    raise ValueError(f"unknown source {args.source!r}")


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument(
        "source",
        choices=[
            "synthetic_shapes",
            "synthetic_lidar",
            "synthetic_meshes",
            "modelnet",
            "kitti",
            "points",
            "mesh",
            "model",
        ],
    )
    parser.add_argument(
        "path", nargs="?", help="data set folder or file (not for synthetic_shapes)"
    )
    parser.add_argument("--split", default="train")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--frame", default="000000", help="KITTI frame id")
    parser.add_argument("--num-points", type=int, default=4096, help="points sampled from meshes")
    parser.add_argument("--boxes", help="a JSON of boxes to draw over a point file")
    parser.add_argument("--edges", action="store_true", help="synthetic_meshes: per-edge labels")
    parser.add_argument(
        "--pool", type=float, nargs="+", help="mesh: pooling targets (counts or fractions)"
    )
    parser.add_argument(
        "--pool-variant",
        choices=("official", "exact"),
        default="official",
        help="mesh: MeshCNN's official collapse rules or geo3d's exact ones",
    )
    parser.add_argument("--config", help="model: the experiment config")
    parser.add_argument("--checkpoint", help="model: a checkpoint of that config")
    parser.add_argument(
        "--min-score",
        type=float,
        default=0.3,
        help="model (detectors): draw predictions scoring at least this",
    )
    parser.add_argument("--out", help="write this PNG instead of opening a window")
    parser.add_argument("--size", default="1280x720", help="PNG size, WIDTHxHEIGHT")
    add_checkpoint_options(parser)
    args = parser.parse_args(argv)
    require("open3d", "drawing with Open3D")  # before any data set is built
    if args.source == "model":
        if not (args.config and args.checkpoint):
            parser.error("model needs --config and --checkpoint")
    elif not args.source.startswith("synthetic") and not args.path:
        parser.error(f"{args.source} needs a path")
    geometries, title, view = scene_geometries(args)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.out or not vis.scene.has_display():
        out = args.out or f"{title.split(':')[0].replace(' ', '_')}.png"
        vis.render(geometries, out, width, height, view=view)
        print(f"{title}\nwrote {out}")
    else:
        print(title)
        vis.show(geometries, title=title)
    return 0
