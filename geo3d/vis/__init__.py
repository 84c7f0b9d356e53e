"""Open3D drawing of point clouds, boxes and meshes: a window where there is a display,
a PNG file where there is none. Open3D is imported only here, lazily."""

from geo3d.vis.detection import detection_views
from geo3d.vis.meshcnn import classifier_stage_views, pooling_levels, segmentation_views
from geo3d.vis.scene import (
    Label,
    box_lines,
    edge_lines,
    mesh_geometry,
    point_geometry,
    render,
    show,
    side_by_side,
)

__all__ = [
    "Label",
    "classifier_stage_views",
    "detection_views",
    "pooling_levels",
    "segmentation_views",
    "box_lines",
    "edge_lines",
    "mesh_geometry",
    "point_geometry",
    "render",
    "show",
    "side_by_side",
]
