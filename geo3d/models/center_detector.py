"""What every LiDAR detector with a CenterPoint head shares: the loss from the head's
targets and the decoding (top-k peaks, score threshold, rotated NMS)."""

from __future__ import annotations

import torch
from torch import nn

from geo3d.models.pipeline import Pipeline


class CenterDetector(Pipeline):
    """``preprocess -> encoder -> neck -> CenterHead``; ``loss(outputs, (boxes (B, M, 7),
    labels (B, M), num_boxes (B,)))`` and ``predict(outputs)`` -> per-scene ``{"boxes",
    "scores", "labels"}`` (:class:`geo3d.heads.CenterHead`)."""

    def __init__(
        self,
        encoder: nn.Module,
        head: nn.Module,
        preprocess: nn.Module,
        neck: nn.Module,
        score_threshold: float = 0.1,
        nms_threshold: float = 0.01,
        max_objects: int = 500,
    ):
        super().__init__(
            encoder,
            head,
            preprocess=preprocess,
            neck=neck,
            loss_fn=self._loss,
            predict_fn=self._decode,
        )
        self.decode_options = {
            "score_threshold": score_threshold,
            "nms_threshold": nms_threshold,
            "max_objects": max_objects,
        }

    def export_inputs(
        self, points: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, dict[int, str]]]:
        """The index work for one scene ``points (P, C)``: the exported core's inputs by
        name, in order, and their dynamic axes (:mod:`geo3d.models.deploy_inputs`).
        Detectors with an export path override it."""
        raise NotImplementedError(
            f"{type(self).__name__} has no export path yet (pointpillars, dsvt_pillar, "
            "pvt_pillar, dsvt_voxel and centerpoint_voxel export)"
        )

    def export_limits(self, max_voxels: int) -> dict[str, int]:
        """The largest size of each dynamic dimension of :meth:`export_inputs` for scenes of
        at most ``max_voxels`` voxels (a shape profile's max; a static export's sizes)."""
        from geo3d.pooling.slot_rows import ROW_WIDTH

        assigner = getattr(self.preprocess, "assigner", None)
        cap = getattr(assigner, "max_points_per_voxel", None)
        if cap is None:  # every point kept: up to 400,000 points a scene (a 128-beam sweep
            # has about 260,000), 4,096 in one voxel, before the profile ends
            points = 400_000
            return {
                "voxels": max_voxels,
                "points": points,
                "rows": max_voxels + points // ROW_WIDTH,
                "rows_per_voxel": 128,
            }
        per_voxel = -(-cap // ROW_WIDTH)
        return {
            "voxels": max_voxels,
            "points": max_voxels * cap,
            "rows": max_voxels * per_voxel,
            "rows_per_voxel": per_voxel,
        }

    def export_forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The tensor core on :meth:`export_inputs`'s tensors -> ``(heatmap logits (1, K, H,
        W), regression (1, R, H, W))``, what ``forward`` gives for that one scene (in
        evaluation mode): no index work, no data-dependent shapes, no scatter reduction."""
        if not hasattr(self.encoder, "export_forward"):
            raise NotImplementedError(f"{type(self).__name__} has no export path yet")
        return self.head(self.neck(self.encoder.export_forward(*inputs)))

    def _loss(self, outputs, targets) -> dict[str, torch.Tensor]:
        boxes, labels, num_boxes = targets
        return self.head.loss(outputs, self.head.targets(boxes, labels, num_boxes))

    def _decode(self, outputs) -> list[dict[str, torch.Tensor]]:
        return self.head.decode(outputs, **self.decode_options)


def tupled(options: dict) -> dict:
    """Config options with lists as tuples (YAML gives lists)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
