"""Open3D drawing of point clouds, boxes and meshes: a window where there is a display,
a PNG file where there is none. Open3D is imported only here, lazily."""

from geo3d.vis.scene import box_lines, mesh_geometry, point_geometry, render, show

__all__ = ["box_lines", "mesh_geometry", "point_geometry", "render", "show"]
