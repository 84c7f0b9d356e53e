"""Pictures of MeshCNN at work: a mesh after each pooling, a segmenter's labels beside its
predictions, and a classifier's mesh after each of its poolings."""

from __future__ import annotations

import torch

from geo3d.vis.scene import edge_lines, mesh_geometry, side_by_side


def pooling_levels(vertices, faces, targets, variant: str = "official") -> list:
    """The mesh and its pooled versions side by side: MeshCNN's edge collapse to each of
    ``targets`` (edge counts, or fractions below 1) in turn, the priorities being the
    mesh's own standardised exact features (what a pooling right after the input sees),
    by the ``official`` or ``exact`` collapse rules."""
    from geo3d.pooling import mesh_pool
    from geo3d.structures import MeshBatch, edge_features, faces_from_gemm, mesh_edges, repair_mesh

    vertices, faces, _ = repair_mesh(vertices, faces)
    view = mesh_edges(faces, vertices.shape[0])
    x = edge_features(vertices, view, "exact")
    x = (x - x.mean(0)) / x.std(0).clamp(min=1e-6)
    mesh = MeshBatch.from_views([view], [vertices])
    levels = [[mesh_geometry(vertices, faces), edge_lines(vertices, view.edges)]]
    for target in targets:
        target = int(target) if float(target).is_integer() and target >= 1 else float(target)
        x, mesh, _ = mesh_pool(x, mesh, target, variant=variant)
        pooled_faces = faces_from_gemm(mesh.edges, mesh.gemm)
        levels.append(
            [mesh_geometry(mesh.vertices, pooled_faces), edge_lines(mesh.vertices, mesh.edges)]
        )
    return side_by_side(levels)


@torch.no_grad()
def segmentation_views(model, features, mesh, edge_labels, vertices, faces) -> tuple[list, str]:
    """A segmenter's true edge labels beside its predictions on one packed mesh, and a
    title with its edge accuracy."""
    predicted = model(features, mesh).argmax(dim=1)
    accuracy = float((predicted == edge_labels).float().mean())
    groups = [
        [mesh_geometry(vertices, faces), edge_lines(vertices, mesh.edges, labels)]
        for labels in (edge_labels, predicted)
    ]
    return side_by_side(groups), f"labels | predictions (edge accuracy {accuracy:.3f})"


@torch.no_grad()
def classifier_stage_views(
    model, features, mesh, vertices, faces, classes, label
) -> tuple[list, str]:
    """A MeshCNN classifier's input mesh and the mesh after each of its poolings, and a
    title with the true and the predicted class and the edge counts."""
    from geo3d.structures import faces_from_gemm

    stages = model.encoder.stages(features, mesh)
    predicted = int(model(features, mesh).argmax())
    groups = [[mesh_geometry(vertices, faces)]]
    for _, pooled in stages:
        groups.append(
            [
                mesh_geometry(pooled.vertices, faces_from_gemm(pooled.edges, pooled.gemm)),
                edge_lines(pooled.vertices, pooled.edges),
            ]
        )
    counts = " -> ".join(str(n) for n in [mesh.num_edges] + [p.num_edges for _, p in stages])
    title = f"true {classes[int(label)]}, predicted {classes[predicted]}; edges {counts}"
    return side_by_side(groups), title
