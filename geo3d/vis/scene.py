"""Open3D geometries from tensors, and drawing them on screen or into a PNG.

Headless drawing uses Open3D's legacy ``Visualizer`` with a hidden window, which falls
back to EGL on Mesa's software renderer by itself (about 1 s for the first frame). The
Filament renderer is avoided: it needs Vulkan and takes minutes per frame without a GPU.
``draw_geometries`` is used only where a display exists: without one it blocks forever.

Text (:class:`Label`, such as a detection's class and score) is written into the PNG after
rendering, at the pixel where the camera projects the label's 3D anchor; in a window it
goes through Open3D's ``O3DVisualizer.add_3d_label``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

# A qualitative palette for labels (Tableau 10), and the colour of boxes.
PALETTE = np.array(
    [
        [0.12, 0.47, 0.71],
        [1.0, 0.5, 0.05],
        [0.17, 0.63, 0.17],
        [0.84, 0.15, 0.16],
        [0.58, 0.4, 0.74],
        [0.55, 0.34, 0.29],
        [0.89, 0.47, 0.76],
        [0.5, 0.5, 0.5],
        [0.74, 0.74, 0.13],
        [0.09, 0.75, 0.81],
    ]
)


@dataclass(frozen=True)
class Label:
    """Text anchored at a 3D point, drawn with the geometries it is listed among."""

    position: tuple[float, float, float]
    text: str
    color: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _split_labels(items) -> tuple[list, list[Label]]:
    items = list(items)
    return [g for g in items if not isinstance(g, Label)], [
        g for g in items if isinstance(g, Label)
    ]


def project_labels(labels: list[Label], intrinsic: np.ndarray, extrinsic: np.ndarray):
    """``[(u, v, label)]`` pixel positions of the labels in front of a pinhole camera
    (``intrinsic (3, 3)``, world-to-camera ``extrinsic (4, 4)``)."""
    placed = []
    for label in labels:
        camera = extrinsic @ np.append(np.asarray(label.position, dtype=np.float64), 1.0)
        if camera[2] <= 1e-6:
            continue  # behind the camera
        pixel = intrinsic @ (camera[:3] / camera[2])
        placed.append((float(pixel[0]), float(pixel[1]), label))
    return placed


# Open3D's legacy view defaults: a 60 degree vertical field of view and zoom 0.7.
FIELD_OF_VIEW_DEG, DEFAULT_ZOOM = 60.0, 0.7


def view_camera(geometries, view: dict, width: int, height: int):
    """``(intrinsic (3, 3), extrinsic (4, 4))`` of the pinhole camera Open3D's legacy view
    control builds from ``front``, ``lookat``, ``up`` and ``zoom`` (defaults: looking down
    -z at the geometries' bounding-box centre, zoom 0.7): the eye sits at ``lookat + front *
    zoom * max_extent / tan(fov / 2)``; camera axes x right, y down, z forward."""
    low = np.min([g.get_min_bound() for g in geometries], axis=0)
    high = np.max([g.get_max_bound() for g in geometries], axis=0)
    front = np.asarray(view.get("front", (0.0, 0.0, 1.0)), dtype=np.float64)
    front = front / np.linalg.norm(front)
    lookat = np.asarray(view.get("lookat", (low + high) / 2), dtype=np.float64)
    up = np.asarray(view.get("up", (0.0, 1.0, 0.0)), dtype=np.float64)
    half_fov = np.radians(FIELD_OF_VIEW_DEG) / 2
    distance = view.get("zoom", DEFAULT_ZOOM) * float(np.max(high - low)) / np.tan(half_fov)
    eye = lookat + front * distance
    forward = -front
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = np.stack([right, down, forward])
    extrinsic[:3, 3] = -extrinsic[:3, :3] @ eye
    focal = (height / 2) / np.tan(half_fov)
    intrinsic = np.array([[focal, 0, width / 2 - 0.5], [0, focal, height / 2 - 0.5], [0, 0, 1]])
    return intrinsic, extrinsic


def _write_labels(path: str, placed) -> None:
    from PIL import Image, ImageDraw

    image = Image.open(path).convert("RGB")
    draw = ImageDraw.Draw(image)
    for u, v, label in placed:
        if 0 <= u < image.width and 0 <= v < image.height:
            rgb = tuple(int(round(255 * c)) for c in label.color)
            draw.text((u + 3, v - 12), label.text, fill=rgb)
    image.save(path)


def _open3d():
    from geo3d.optional import require

    return require("open3d", "drawing with Open3D")


def _numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def label_colors(labels) -> np.ndarray:
    """``(N,)`` integer labels to ``(N, 3)`` colours; negative labels are light grey."""
    labels = np.asarray(_numpy(labels), dtype=np.int64)
    colors = PALETTE[np.mod(labels, len(PALETTE))]
    colors[labels < 0] = 0.8
    return colors


def height_colors(xyz: np.ndarray) -> np.ndarray:
    """Colours along z, blue (low) to yellow (high), robust to outliers."""
    z = xyz[:, 2]
    low, high = np.percentile(z, [2, 98]) if len(z) else (0.0, 1.0)
    t = np.clip((z - low) / max(high - low, 1e-9), 0, 1)[:, None]
    return (1 - t) * np.array([0.1, 0.2, 0.7]) + t * np.array([0.95, 0.85, 0.1])


def point_geometry(xyz, colors=None, labels=None):
    """An Open3D point cloud from ``xyz (N, 3)``, coloured by ``colors``, ``labels`` or height."""
    o3d = _open3d()
    points = _numpy(xyz)[:, :3]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    if colors is not None:
        rgb = _numpy(colors)
    elif labels is not None:
        rgb = label_colors(labels)
    else:
        rgb = height_colors(points)
    cloud.colors = o3d.utility.Vector3dVector(np.clip(rgb, 0, 1))
    return cloud


def box_lines(boxes, color=(0.9, 0.1, 0.1)):
    """The 12 edges of each box ``(M, 7)`` as one Open3D LineSet, with a heading tick."""
    from geo3d.structures.boxes import box_corners

    o3d = _open3d()
    boxes = torch.as_tensor(_numpy(boxes)).reshape(-1, 7)
    corners = box_corners(boxes).numpy().reshape(-1, 3) if len(boxes) else np.zeros((0, 3))
    # the 12 box edges (bottom ring, top ring, uprights) and a cross on the front face
    # (corners 0, 1, 4, 5) that shows the heading
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4)]
    edges += [(0, 4), (1, 5), (2, 6), (3, 7), (0, 5), (1, 4)]
    lines = np.array([[8 * m + a, 8 * m + b] for m in range(len(boxes)) for a, b in edges])
    line_set = o3d.geometry.LineSet(
        o3d.utility.Vector3dVector(corners), o3d.utility.Vector2iVector(lines.reshape(-1, 2))
    )
    line_set.colors = o3d.utility.Vector3dVector(np.tile(color, (len(lines), 1)))
    return line_set


def mesh_geometry(vertices, faces, face_labels=None):
    """An Open3D triangle mesh, shaded, optionally coloured per face by ``face_labels``."""
    o3d = _open3d()
    vertices, faces = _numpy(vertices), np.asarray(_numpy(faces), dtype=np.int32)
    if face_labels is not None:  # per-face colour: give each face its own three vertices
        vertices = vertices[faces.reshape(-1)]
        colors = np.repeat(label_colors(face_labels), 3, axis=0)
        faces = np.arange(len(vertices), dtype=np.int32).reshape(-1, 3)
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(faces)
    )
    mesh.compute_vertex_normals()
    if face_labels is not None:
        mesh.vertex_colors = o3d.utility.Vector3dVector(colors)
    else:
        mesh.paint_uniform_color([0.7, 0.7, 0.75])
    return mesh


def edge_lines(vertices, edges, edge_labels=None, color=(0.1, 0.1, 0.1)):
    """An Open3D line set of mesh edges ``(E, 2)``, coloured per edge by ``edge_labels``
    (MeshCNN's segmentation labels or predictions) or in one colour."""
    o3d = _open3d()
    line_set = o3d.geometry.LineSet(
        o3d.utility.Vector3dVector(_numpy(vertices).astype(np.float64)),
        o3d.utility.Vector2iVector(np.asarray(_numpy(edges), dtype=np.int32)),
    )
    if edge_labels is not None:
        line_set.colors = o3d.utility.Vector3dVector(label_colors(edge_labels))
    else:
        line_set.colors = o3d.utility.Vector3dVector(np.tile(color, (len(_numpy(edges)), 1)))
    return line_set


def side_by_side(groups: list[list], gap: float = 0.25) -> list:
    """Translate each group of geometries along x so the groups stand in a row (for
    before/after views: a mesh and its pooled versions, labels and predictions)."""
    placed, offset = [], 0.0
    for group in groups:
        low = np.min([g.get_min_bound() for g in group], axis=0)
        high = np.max([g.get_max_bound() for g in group], axis=0)
        shift = np.array([offset - low[0], 0.0, 0.0])
        for geometry in group:
            placed.append(geometry.translate(shift, relative=True))
        offset += (high[0] - low[0]) * (1 + gap)
    return placed


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def render(geometries, path: str, width: int = 1280, height: int = 720, view=None, point_size=2.0):
    """Draw ``geometries`` (Open3D geometries and :class:`Label` texts) into the PNG ``path``
    without a window; returns ``path``.

    ``view``: optional dict of ``front``, ``lookat``, ``up`` (3-vectors) and ``zoom``.
    """
    o3d = _open3d()
    geometries, labels = _split_labels(geometries)
    visualizer = o3d.visualization.Visualizer()
    if not visualizer.create_window(width=width, height=height, visible=False):
        raise RuntimeError("Open3D could not open an offscreen window (no EGL/OpenGL?)")
    try:
        for geometry in geometries:
            visualizer.add_geometry(geometry)
        options = visualizer.get_render_option()
        options.point_size = point_size
        options.background_color = np.array([1.0, 1.0, 1.0])
        camera = None
        if labels:
            # Open3D's convert_to_pinhole_camera_parameters() reads back a camera that does
            # not match the rendered one after set_lookat (measured: the lookat point
            # projected 300 px off the image centre), so the camera is built here and set
            # explicitly: rendering and label projection then use the same numbers.
            camera = view_camera(geometries, view or {}, width, height)
            parameters = o3d.camera.PinholeCameraParameters()
            parameters.intrinsic = o3d.camera.PinholeCameraIntrinsic(
                width, height, camera[0][0, 0], camera[0][1, 1], camera[0][0, 2], camera[0][1, 2]
            )
            parameters.extrinsic = camera[1]
            visualizer.get_view_control().convert_from_pinhole_camera_parameters(
                parameters, allow_arbitrary=True
            )
        elif view:
            control = visualizer.get_view_control()
            for key, setter in (
                ("front", control.set_front),
                ("lookat", control.set_lookat),
                ("up", control.set_up),
                ("zoom", control.set_zoom),
            ):
                if key in view:
                    setter(view[key])
        visualizer.poll_events()
        visualizer.update_renderer()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if os.path.exists(path):
            os.remove(path)
        visualizer.capture_screen_image(path, True)
        if not os.path.exists(path):
            raise RuntimeError(f"Open3D could not write {path}")
        if labels:
            intrinsic, extrinsic = camera
            _write_labels(path, project_labels(labels, intrinsic, extrinsic))
    finally:
        visualizer.destroy_window()
    return path


def show(geometries, title: str = "geo3d", fallback_png: str | None = None) -> str | None:
    """An interactive window where there is a display; else a PNG (returns its path)."""
    if not has_display():
        return render(geometries, fallback_png or f"{title}.png")
    o3d = _open3d()
    shapes, labels = _split_labels(geometries)
    if not labels:
        o3d.visualization.draw_geometries(shapes, window_name=title)
        return None
    app = o3d.visualization.gui.Application.instance
    app.initialize()
    window = o3d.visualization.O3DVisualizer(title, 1280, 720)
    for number, shape in enumerate(shapes):
        window.add_geometry(f"geometry {number}", shape)
    for label in labels:
        window.add_3d_label(np.asarray(label.position, dtype=np.float32), label.text)
    window.reset_camera_to_default()
    app.add_window(window)
    app.run()
    return None
