"""Point-NN and Point-PN as pipelines (Zhang et al., CVPR 2023)."""

from __future__ import annotations

import torch
from torch import nn

from geo3d.encoders.point_nn import PointNNEncoder
from geo3d.encoders.point_pn import PointPNEncoder
from geo3d.heads.classification import MLPHead
from geo3d.heads.memory_bank import MemoryBankClassifier
from geo3d.losses import classification_loss
from geo3d.models.pipeline import Pipeline
from geo3d.models.registry import register_model


class PointNN(PointNNEncoder):
    """Point-NN, the non-parametric network: ``xyz (B, N, 3) -> (B, 1152)`` global features
    with the official ModelNet40 defaults (see :class:`geo3d.encoders.PointNNEncoder`).
    For classification, :func:`point_nn` adds the training-free memory-bank head."""


class PointPN(Pipeline):
    """Point-PN (the official architecture, 0.77 M parameters for 40 classes):
    ``points (B, N, 3) -> logits (B, num_classes)``; cross-entropy with the official label
    smoothing of 0.4. Encoder options as :class:`geo3d.encoders.PointPNEncoder`."""

    def __init__(
        self,
        num_classes: int = 40,
        label_smoothing: float = 0.4,
        dropout: float = 0.5,
        **encoder_options,
    ):
        encoder = PointPNEncoder(**encoder_options)
        head = MLPHead(encoder.out_dim, num_classes, dropout=dropout)
        super().__init__(
            encoder,
            head,
            preprocess=encoder.grouping(),
            loss_fn=classification_loss(label_smoothing),
        )


@register_model("point_nn")
def point_nn(num_classes: int = 40, gamma: float = 100.0, **encoder_options) -> Pipeline:
    """Training-free Point-NN classifier: the non-parametric encoder and a memory-bank head.
    ``fit`` fills the memory from the training set; the defaults are the official ones."""
    encoder = PointNN(**encoder_options)
    head = MemoryBankClassifier(num_classes, gamma)
    return Pipeline(encoder, head, preprocess=encoder.grouping(), trainable=False)


@register_model("point_pn")
def point_pn(num_classes: int = 40, **options) -> PointPN:
    """:class:`PointPN` by name."""
    return PointPN(num_classes, **options)


class PlugAndPlay(nn.Module):
    """Point-NN's third use (section 3.4): its logits added to a trained model's at
    inference, ``logits = model(x) + weight * point_nn(x)``, with no retraining."""

    def __init__(self, model: nn.Module, point_nn_model: Pipeline, weight: float = 1.0):
        super().__init__()
        self.model, self.point_nn, self.weight = model, point_nn_model, weight

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.model(points) + self.weight * self.point_nn(points[..., :3].contiguous())
