"""Batching samples of different sizes for ``torch.utils.data.DataLoader``."""

from __future__ import annotations

import torch

from geo3d.structures.boxes import BOX_DIM
from geo3d.structures.points import cat_shifted, counts_to_ptr


def _pad_stack(tensors: list[torch.Tensor], fill: float = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``[(n_i, ...)] -> (B, max n_i, ...)`` and ``lengths (B,)``."""
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.int64)
    width = int(lengths.max()) if len(tensors) else 0
    first = tensors[0]
    out = first.new_full((len(tensors), width, *first.shape[1:]), fill)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out, lengths


def collate_points(samples: list[dict]) -> dict:
    """Padded batches: per-point tensors to ``(B, N_max, ...)`` plus ``lengths (B,)``;
    other tensors are stacked, anything else is listed. Clouds of equal size simply stack."""
    if not samples:
        raise ValueError("collate_points: empty batch")
    count_key = "points"
    counts = [s[count_key].shape[0] for s in samples]
    batch: dict = {"lengths": torch.tensor(counts, dtype=torch.int64)}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if (
            isinstance(values[0], torch.Tensor)
            and values[0].dim() >= 1
            and all(v.shape[0] == c for v, c in zip(values, counts))
        ):
            batch[key] = _pad_stack(values)[0]
        elif isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        else:
            batch[key] = values
    return batch


def collate_scenes(samples: list[dict]) -> dict:
    """LiDAR scenes: points packed ``(P, C)`` with ``batch (P,)`` (the layout voxelization
    and spconv want), boxes padded ``(B, M_max, 7)`` with ``box_labels (B, M_max)`` -1 where
    there is no box, and ``num_boxes (B,)``. Other keys are listed."""
    if not samples:
        raise ValueError("collate_scenes: empty batch")
    points = [s["points"] for s in samples]
    batch = {
        "points": torch.cat(points),
        "batch": torch.cat(
            [torch.full((p.shape[0],), i, dtype=torch.int64) for i, p in enumerate(points)]
        ),
    }
    boxes = [s.get("boxes", torch.zeros(0, BOX_DIM)) for s in samples]
    labels = [
        s.get("box_labels", torch.zeros(b.shape[0], dtype=torch.int64))
        for s, b in zip(samples, boxes)
    ]
    if max(b.shape[0] for b in boxes) == 0:
        batch["boxes"] = torch.zeros(len(samples), 0, BOX_DIM)
        batch["box_labels"] = torch.zeros(len(samples), 0, dtype=torch.int64)
        batch["num_boxes"] = torch.zeros(len(samples), dtype=torch.int64)
    else:
        batch["boxes"], batch["num_boxes"] = _pad_stack(boxes)
        batch["box_labels"] = _pad_stack(labels, fill=-1)[0]
    for key in samples[0]:
        if key not in ("points", "boxes", "box_labels"):
            batch[key] = [s[key] for s in samples]
    return batch


def collate_meshes(samples: list[dict]) -> dict:
    """Meshes of different sizes, packed: ``vertices``, ``faces``, ``edges``, ``gemm`` and
    per-edge/per-face labels concatenated, with indices shifted to point into the packed
    tensors (``gemm`` keeps -1 at boundaries), and ``vertex_ptr``, ``face_ptr``,
    ``edge_ptr (B + 1,)`` offsets; ``label`` is stacked where present."""
    if not samples:
        raise ValueError("collate_meshes: empty batch")
    offsets = {
        key: counts_to_ptr([s[key].shape[0] for s in samples])
        for key in ("vertices", "faces", "edges")
    }
    batch: dict = {
        f"{key[:-1] if key != 'vertices' else 'vertex'}_ptr": offsets[key] for key in offsets
    }
    shift = {"faces": "vertices", "edges": "vertices", "gemm": "edges"}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key in shift:
            batch[key] = cat_shifted(values, offsets[shift[key]])
        elif key == "label":
            batch[key] = torch.stack(values)
        elif isinstance(values[0], torch.Tensor) and values[0].dim() >= 1:
            batch[key] = torch.cat(values)
        else:
            batch[key] = values
    return batch
