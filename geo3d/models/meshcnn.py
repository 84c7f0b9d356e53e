"""MeshCNN classifier and segmenter as pipelines (Hanocka et al., SIGGRAPH 2019)."""

from __future__ import annotations

import warnings

from torch import nn

from geo3d.encoders.meshcnn import (
    MeshCNNEncoder,
    MeshSegmentationHead,
    MeshUNetEncoder,
    official_init,
)
from geo3d.losses import segmentation_loss
from geo3d.models.pipeline import Pipeline
from geo3d.models.registry import register_model


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


class MeshCNNSegmenter(Pipeline):
    """``(features (E, 5), mesh) -> logits (E, num_classes)``: :class:`MeshUNetEncoder`,
    then :class:`MeshSegmentationHead` (the official last stage), with the official edge
    cross-entropy. Weights initialised as the official ``init_net``."""

    def __init__(self, num_classes: int = 8, resblocks: int = 3, **encoder_options):
        encoder = MeshUNetEncoder(resblocks=resblocks, **encoder_options)
        head = MeshSegmentationHead(encoder.out_dim, num_classes, resblocks)
        super().__init__(encoder, head, loss_fn=segmentation_loss)
        official_init(self)
        self._register_load_state_dict_pre_hook(_rename_old_segmenter_keys)


def _rename_old_segmenter_keys(state_dict, prefix, *args, **kwargs) -> None:
    """Checkpoints from before the head was split off keep loading (with a warning)."""
    old = prefix + "encoder.final."
    renamed = [k for k in state_dict if k.startswith(old)]
    if renamed:
        warnings.warn(
            "a MeshCNNSegmenter checkpoint from before the head was split off: "
            "'encoder.final.*' loads as 'head.stage.*'",
            DeprecationWarning,
            stacklevel=2,
        )
    for key in renamed:
        state_dict[prefix + "head.stage." + key[len(old) :]] = state_dict.pop(key)


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
