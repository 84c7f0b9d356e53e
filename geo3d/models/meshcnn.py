"""MeshCNN classifier and segmenter as pipelines (Hanocka et al., SIGGRAPH 2019)."""

from __future__ import annotations

import torch
from torch import nn

from geo3d.encoders.meshcnn import MeshCNNEncoder, MeshUNet, official_init
from geo3d.models.pipeline import Pipeline
from geo3d.models.registry import register_model
from geo3d.structures.mesh_batch import MeshBatch


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy over all edges of the batch, ``-1`` ignored (the official loss)."""
    return {"loss": nn.functional.cross_entropy(logits, labels, ignore_index=-1)}


class MeshCNNClassifier(Pipeline):
    """``(features (E, 5), mesh) -> logits (B, num_classes)``: :class:`MeshCNNEncoder`,
    then ``Linear(C, fc_n)``, ReLU, ``Linear(fc_n, num_classes)`` (the official
    ``MeshConvNet``, ``fc_n = 100``). Weights initialised as the official ``init_net``."""

    def __init__(self, num_classes: int = 30, fc_n: int = 100, **encoder_options):
        encoder = MeshCNNEncoder(**encoder_options)
        head = nn.Sequential(
            nn.Linear(encoder.out_dim, fc_n), nn.ReLU(), nn.Linear(fc_n, num_classes)
        )
        super().__init__(encoder, head)
        official_init(self)

    def features(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        return self.encoder(x, mesh)

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        return self.head(self.features(x, mesh))


class MeshCNNSegmenter(Pipeline):
    """``(features (E, 5), mesh) -> logits (E, num_classes)``: :class:`MeshUNet` with the
    official edge cross-entropy. Weights initialised as the official ``init_net``."""

    def __init__(self, num_classes: int = 8, **network_options):
        super().__init__(MeshUNet(num_classes, **network_options), nn.Identity(),
                         loss_fn=segmentation_loss)  # fmt: skip
        official_init(self)

    def features(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        return self.encoder(x, mesh)

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        return self.encoder(x, mesh)


def _as_tuple(options: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


@register_model("meshcnn_classifier")
def meshcnn_classifier(num_classes: int = 30, **options) -> MeshCNNClassifier:
    """:class:`MeshCNNClassifier` by name."""
    return MeshCNNClassifier(num_classes, **_as_tuple(options))


@register_model("meshcnn_segmenter")
def meshcnn_segmenter(num_classes: int = 8, **options) -> MeshCNNSegmenter:
    """:class:`MeshCNNSegmenter` by name."""
    return MeshCNNSegmenter(num_classes, **_as_tuple(options))
